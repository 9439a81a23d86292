#include "db/demo.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include "core/log.h"
#include "core/strbuf.h"
#include "core/xalloc.h"
#include "db/demo_scripts.h"

/* Bump when the way scripts are turned into files changes, so old caches are
 * not reused by a binary that would build them differently. */
#define DEMO_FORMAT "smcp-demo-1"
/* Another version's warehouse no start has used for this long is removed
 * when a new one is built. */
#define DEMO_UNUSED_S (30 * 86400)

static uint64_t fnv1a(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

/* Hashes every script's name and text (each followed by a NUL so that no two
 * different script sets can concatenate to the same bytes). */
static uint64_t scripts_hash(void)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    h = fnv1a(h, DEMO_FORMAT, sizeof DEMO_FORMAT);
    for (const smcp_demo_script *s = smcp_demo_scripts; s->name; s++) {
        h = fnv1a(h, s->name, strlen(s->name) + 1);
        h = fnv1a(h, s->sql, strlen(s->sql) + 1);
    }
    return h;
}

char *demo_database_name(const char *script_name)
{
    const char *p = script_name;
    while (isdigit((unsigned char)*p))
        p++;
    if (*p == '_' && p != script_name)
        p++;
    size_t n = strlen(p);
    if (n > 4 && strcmp(p + n - 4, ".sql") == 0)
        n -= 4;
    char *name = xstrndup(p, n);
    for (char *q = name; *q; q++)
        *q = (char)toupper((unsigned char)*q);
    return name;
}

char *demo_default_cache_root(void)
{
    strbuf sb;
    sb_init(&sb);
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    if (xdg && *xdg)
        sb_printf(&sb, "%s/snowflake-mcp", xdg);
    else if (home && *home)
        sb_printf(&sb, "%s/.cache/snowflake-mcp", home);
    else
        sb_printf(&sb, "/tmp/snowflake-mcp-%lu", (unsigned long)getuid());
    return sb_detach(&sb);
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* mkdir -p: creates every missing component; existing directories are fine. */
static bool mkdir_p(const char *path, err_t *err)
{
    char *p = xstrdup(path);
    bool ok = true;
    for (char *q = p + 1;; q++) {
        if (*q != '/' && *q != '\0')
            continue;
        char saved = *q;
        *q = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            err_set(err, ERR_INTERNAL, "cannot create directory %s: %s", p, strerror(errno));
            ok = false;
        } else if (!is_dir(p)) {
            err_set(err, ERR_INTERNAL, "%s exists but is not a directory", p);
            ok = false;
        }
        *q = saved;
        if (!ok || saved == '\0')
            break;
    }
    free(p);
    return ok;
}

/* Removes a directory holding only plain files (a failed build). */
static void remove_flat_dir(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            strbuf f;
            sb_init(&f);
            sb_printf(&f, "%s/%s", path, e->d_name);
            unlink(f.data);
            sb_free(&f);
        }
        closedir(d);
    }
    rmdir(path);
}

static bool exec_sql(sqlite3 *db, const char *sql, const char *what, err_t *err)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return true;
    err_set(err, ERR_INTERNAL, "building the demo warehouse failed in %s: %s", what,
            msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return false;
}

/* Runs one script into a new file, in one transaction and without a journal:
 * the file is private to the temporary directory until the rename, so
 * durability during the build buys nothing. */
static bool build_one(const char *path, const smcp_demo_script *s, err_t *err)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        err_set(err, ERR_INTERNAL, "cannot create %s: %s", path,
                db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return false;
    }
    bool ok = exec_sql(db,
                       "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; "
                       "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-32768; BEGIN",
                       s->name, err) &&
              exec_sql(db, s->sql, s->name, err) && exec_sql(db, "COMMIT", s->name, err);
    if (sqlite3_close(db) != SQLITE_OK && ok) {
        err_set(err, ERR_INTERNAL, "cannot close %s", path);
        ok = false;
    }
    /* Read-only files: nothing can change the demo behind the hash's back. */
    if (ok && chmod(path, 0444) != 0) {
        err_set(err, ERR_INTERNAL, "cannot make %s read-only: %s", path, strerror(errno));
        ok = false;
    }
    return ok;
}

static bool build_all(const char *dir, err_t *err)
{
    for (const smcp_demo_script *s = smcp_demo_scripts; s->name; s++) {
        char *name = demo_database_name(s->name);
        strbuf path;
        sb_init(&path);
        sb_printf(&path, "%s/%s.db", dir, name);
        bool ok = build_one(path.data, s, err);
        sb_free(&path);
        free(name);
        if (!ok)
            return false;
    }
    return true;
}

/* Builds into a fresh temporary directory and renames it into place. When a
 * concurrent start wins the rename, its warehouse is identical to ours, so we
 * drop ours and use it. */
static bool build_warehouse(const char *root, const char *final, uint64_t hash, err_t *err)
{
    strbuf tmp;
    sb_init(&tmp);
    sb_printf(&tmp, "%s/.demo-%016" PRIx64 ".tmp-XXXXXX", root, hash);
    if (!mkdtemp(tmp.data)) {
        err_set(err, ERR_INTERNAL, "cannot create a directory in %s: %s", root, strerror(errno));
        sb_free(&tmp);
        return false;
    }
    bool ok = build_all(tmp.data, err);
    if (ok && rename(tmp.data, final) != 0) {
        if ((errno == EEXIST || errno == ENOTEMPTY) && is_dir(final)) {
            remove_flat_dir(tmp.data);
        } else {
            err_set(err, ERR_INTERNAL, "cannot move the demo warehouse into %s: %s", final,
                    strerror(errno));
            ok = false;
        }
    }
    if (!ok)
        remove_flat_dir(tmp.data);
    sb_free(&tmp);
    return ok;
}

/* "demo-" and 16 hex digits: a warehouse this program built. */
static bool is_warehouse_name(const char *name)
{
    if (strncmp(name, "demo-", 5) != 0 || strlen(name) != 5 + 16)
        return false;
    for (const char *p = name + 5; *p; p++) {
        if (!isxdigit((unsigned char)*p))
            return false;
    }
    return true;
}

/* ".demo-<hash>.tmp-XXXXXX": a build that crashed before its rename. */
static bool is_build_leftover(const char *name)
{
    return strncmp(name, ".demo-", 6) == 0 && strstr(name, ".tmp-") != NULL;
}

/* A listing of the directory open as fd, on a duplicate so that fd stays
 * usable (and must still be closed by the caller); NULL on failure. */
static DIR *list_fd(int fd)
{
    int dupfd = dup(fd);
    DIR *d = dupfd >= 0 ? fdopendir(dupfd) : NULL;
    if (!d && dupfd >= 0)
        close(dupfd);
    return d;
}

/* Empties and removes root/name, a directory of plain files, without
 * following a symbolic link anywhere (the entry is opened O_NOFOLLOW and
 * everything is removed relative to that descriptor), and only when no
 * process holds the warehouse lock on it (see hold_warehouse). */
static bool remove_unlocked_dir(int rootfd, const char *name)
{
    int fd = openat(rootfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return false;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd); /* a running snowflake-mcp uses it */
        return false;
    }
    DIR *d = list_fd(fd);
    if (!d) {
        close(fd);
        return false;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            unlinkat(fd, e->d_name, 0);
    }
    closedir(d);
    bool ok = unlinkat(rootfd, name, AT_REMOVEDIR) == 0;
    close(fd);
    return ok;
}

/* Removes warehouses (another version's, after an upgrade) that no running
 * process holds and no start has used for DEMO_UNUSED_S, and builds that
 * crashed more than an hour ago. */
static void prune_cache(const char *root, const char *keep_name, int64_t now_s)
{
    int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return;
    DIR *d = list_fd(rootfd);
    if (!d) {
        close(rootfd);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int64_t max_age;
        if (strcmp(e->d_name, keep_name) == 0)
            continue;
        if (is_warehouse_name(e->d_name))
            max_age = DEMO_UNUSED_S;
        else if (is_build_leftover(e->d_name))
            max_age = 3600;
        else
            continue;
        struct stat st;
        if (fstatat(rootfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode) ||
            now_s - (int64_t)st.st_mtime <= max_age)
            continue;
        if (remove_unlocked_dir(rootfd, e->d_name))
            log_info("demo", "removed %s/%s, untouched for %lld hours", root, e->d_name,
                     (long long)((now_s - (int64_t)st.st_mtime) / 3600));
    }
    closedir(d);
    close(rootfd);
}

/* Takes a shared lock on the warehouse directory for the life of the
 * process (the descriptor is never closed), so that a newer version's
 * prune_cache leaves it alone however long this process runs, and marks it
 * used. False when the directory is gone (pruned or never built). The lock
 * is advisory and best effort: a file system without flock only loses the
 * protection. */
static bool hold_warehouse(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return false;
    flock(fd, LOCK_SH); /* waits out a prune that is removing it right now */
    struct stat held, now;
    if (fstat(fd, &held) != 0 || stat(dir, &now) != 0 || held.st_ino != now.st_ino ||
        held.st_dev != now.st_dev) {
        close(fd); /* removed (and maybe rebuilt) while we waited */
        return false;
    }
    utime(dir, NULL); /* a read-only cache is fine too */
    return true;
}

bool demo_ensure(const char *cache_root, char **out_dir, err_t *err)
{
    *out_dir = NULL;
    if (!cache_root || !*cache_root) {
        err_set(err, ERR_INVALID, "no cache directory for the demo warehouse");
        return false;
    }
    if (!smcp_demo_scripts[0].name) {
        err_set(err, ERR_INTERNAL, "this build has no demo warehouse scripts");
        return false;
    }
    uint64_t hash = scripts_hash();
    strbuf final;
    sb_init(&final);
    sb_printf(&final, "%s/demo-%016" PRIx64, cache_root, hash);
    /* A build races only with a prune of another version: a few rounds. */
    for (int round = 0; round < 3; round++) {
        if (hold_warehouse(final.data)) {
            *out_dir = sb_detach(&final);
            return true;
        }
        if (!mkdir_p(cache_root, err)) {
            sb_free(&final);
            return false;
        }
        log_info("demo", "building the demo warehouse in %s", final.data);
        if (!build_warehouse(cache_root, final.data, hash, err)) {
            sb_free(&final);
            return false;
        }
        if (hold_warehouse(final.data)) {
            prune_cache(cache_root, strrchr(final.data, '/') + 1, (int64_t)time(NULL));
            *out_dir = sb_detach(&final);
            return true;
        }
    }
    err_set(err, ERR_INTERNAL, "the demo warehouse in %s kept disappearing", final.data);
    sb_free(&final);
    return false;
}
