/* Tests of the demo warehouse: built from the embedded scripts into temp dirs. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include "core/clock.h"
#include "db/demo.h"
#include "db/demo_scripts.h"
#include "db/driver.h"
#include "testlib.h"

static char tmpdir[] = "/tmp/smcp-test-demo-XXXXXX";
static char *dir_a; /* warehouse built under root A */

static const char *const databases[] = {"FINANCE", "MARKETING", "SALES"};

static char *path_in(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

/* Runs one query through the real driver and returns its result. */
static db_result *query(const char *dir, const char *database, const char *sql, err_t *err)
{
    db_backend *be = db_backend_open(dir, err);
    if (!be)
        return NULL;
    db_conn *c = NULL;
    db_result *r = NULL;
    db_call call = {
        .database = database, .max_rows = 100000, .deadline_ns = clock_deadline_in_ms(60000)};
    if (be->driver->connect(be, 0, &c, err)) {
        if (!be->driver->execute(c, &call, sql, &r, err))
            r = NULL;
        be->driver->close(c);
    }
    db_backend_free(be);
    return r;
}

static json_t *first_cell(const db_result *r)
{
    return json_array_get(json_array_get(r->rows, 0), 0);
}

static long long count_of(const char *dir, const char *database, const char *table)
{
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    err_t err;
    db_result *r = query(dir, database, sql, &err);
    long long n = r ? (long long)json_integer_value(first_cell(r)) : -1;
    if (!r)
        fprintf(stderr, "    %s.%s: %s\n", database, table, err.msg);
    db_result_free(r);
    return n;
}

static void test_script_names(void)
{
    char *n = demo_database_name("10_sales.sql");
    CHECK_STR(n, "SALES");
    free(n);
    n = demo_database_name("marketing.sql");
    CHECK_STR(n, "MARKETING");
    free(n);
    size_t scripts = 0;
    for (const smcp_demo_script *s = smcp_demo_scripts; s->name; s++)
        scripts++;
    CHECK(scripts == 3);
}

static void test_default_cache_root(void)
{
    char *saved_xdg = getenv("XDG_CACHE_HOME") ? strdup(getenv("XDG_CACHE_HOME")) : NULL;
    char *saved_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    setenv("XDG_CACHE_HOME", "/x/cache", 1);
    setenv("HOME", "/home/u", 1);
    char *r = demo_default_cache_root();
    CHECK_STR(r, "/x/cache/snowflake-mcp");
    free(r);
    unsetenv("XDG_CACHE_HOME");
    r = demo_default_cache_root();
    CHECK_STR(r, "/home/u/.cache/snowflake-mcp");
    free(r);
    unsetenv("HOME");
    r = demo_default_cache_root();
    CHECK(r != NULL && strncmp(r, "/tmp/snowflake-mcp-", 19) == 0);
    free(r);
    if (saved_xdg)
        setenv("XDG_CACHE_HOME", saved_xdg, 1);
    if (saved_home)
        setenv("HOME", saved_home, 1);
    free(saved_xdg);
    free(saved_home);
}

static void test_build(void)
{
    char *root = path_in(tmpdir, "a/deeper/cache"); /* created like mkdir -p */
    err_t err;
    int64_t t0 = clock_now_ns();
    bool ok = demo_ensure(root, &dir_a, &err);
    int64_t ms = (clock_now_ns() - t0) / CLOCK_NS_PER_MS;
    if (!ok)
        fprintf(stderr, "    %s\n", err.msg);
    REQUIRE(ok);
    fprintf(stderr, "    demo warehouse built in %lld ms\n", (long long)ms);
    CHECK(strncmp(dir_a, root, strlen(root)) == 0);
    CHECK_CONTAINS(dir_a, "/demo-");
    for (size_t i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "%s.db", databases[i]);
        char *p = path_in(dir_a, name);
        struct stat st;
        CHECK(stat(p, &st) == 0 && S_ISREG(st.st_mode));
        CHECK((st.st_mode & 0222) == 0); /* read-only files */
        /* Openable read-only with SQLite itself, outside our driver. */
        sqlite3 *db = NULL;
        CHECK(sqlite3_open_v2(p, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
        CHECK(sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL) ==
              SQLITE_OK);
        sqlite3_close(db);
        free(p);
    }
    /* Nothing but the warehouse is left in the cache root. */
    size_t entries = 0;
    DIR *d = opendir(root);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        entries += e->d_name[0] != '.' || strncmp(e->d_name, ".demo-", 6) == 0;
    if (d)
        closedir(d);
    CHECK(entries == 1);
    free(root);
}

static void test_reuse(void)
{
    REQUIRE(dir_a != NULL);
    char *root = path_in(tmpdir, "a/deeper/cache");
    char *sales = path_in(dir_a, "SALES.db");
    struct stat before, after;
    REQUIRE(stat(sales, &before) == 0);
    char *again = NULL;
    err_t err;
    CHECK(demo_ensure(root, &again, &err));
    CHECK_STR(again, dir_a);
    REQUIRE(stat(sales, &after) == 0);
    CHECK(before.st_ino == after.st_ino && before.st_mtime == after.st_mtime);
    free(again);
    free(sales);
    free(root);
}

static void test_contents(void)
{
    REQUIRE(dir_a != NULL);
    CHECK(count_of(dir_a, "SALES", "ORDERS") == 50000);
    CHECK(count_of(dir_a, "SALES", "CUSTOMERS") == 2000);
    CHECK(count_of(dir_a, "SALES", "PRODUCTS") == 200);
    CHECK(count_of(dir_a, "SALES", "REGIONS") == 5);
    long long items = count_of(dir_a, "SALES", "ORDER_ITEMS");
    CHECK(items >= 100000 && items <= 130000);
    CHECK(count_of(dir_a, "MARKETING", "CAMPAIGNS") == 60);
    CHECK(count_of(dir_a, "MARKETING", "CHANNELS") == 8);
    CHECK(count_of(dir_a, "MARKETING", "LEADS") == 10000);
    CHECK(count_of(dir_a, "MARKETING", "CAMPAIGN_SPEND") > 1000);
    CHECK(count_of(dir_a, "FINANCE", "GL_ENTRIES") >= 20000);
    CHECK(count_of(dir_a, "FINANCE", "ACCOUNTS") > 10);
    CHECK(count_of(dir_a, "FINANCE", "BUDGETS") > 0);
    CHECK(count_of(dir_a, "FINANCE", "INVOICES") > 0);

    err_t err;
    /* Each order's total is the sum of its lines; dates span 2023-2025. */
    db_result *r = query(dir_a, "SALES",
                         "SELECT count(*) FROM ORDERS o WHERE abs(o.total_amount - (SELECT "
                         "sum(line_total) FROM ORDER_ITEMS i WHERE i.order_id = o.order_id)) "
                         "> 0.005",
                         &err);
    CHECK(r != NULL && json_integer_value(first_cell(r)) == 0);
    db_result_free(r);
    r = query(dir_a, "SALES", "SELECT min(order_date) || ' ' || max(order_date) FROM ORDERS", &err);
    CHECK(r != NULL && strcmp(json_string_value(first_cell(r)), "2023-01-01 2025-12-31") == 0);
    db_result_free(r);
    /* Some emails are missing, as in real data. */
    r = query(dir_a, "SALES", "SELECT count(*) - count(email) FROM CUSTOMERS", &err);
    CHECK(r != NULL && json_integer_value(first_cell(r)) > 0);
    db_result_free(r);
    /* Declared types reach the result columns. */
    r = query(dir_a, "SALES", "SELECT total_amount, order_date FROM ORDERS LIMIT 1", &err);
    REQUIRE(r != NULL);
    CHECK_STR(r->cols[0].type, "NUMERIC(12,2)");
    CHECK_STR(r->cols[1].type, "DATE");
    CHECK(r->cols[0].nullable == 0);
    db_result_free(r);
}

static void test_every_view_queries(void)
{
    REQUIRE(dir_a != NULL);
    err_t err;
    db_backend *be = db_backend_open(dir_a, &err);
    REQUIRE(be != NULL);
    db_conn *c = NULL;
    REQUIRE(be->driver->connect(be, 0, &c, &err));
    size_t views = 0;
    for (size_t i = 0; i < 3; i++) {
        db_call call = {.database = databases[i],
                        .max_rows = 100000,
                        .deadline_ns = clock_deadline_in_ms(60000)};
        db_catalog_req req = {.kind = DB_LIST_VIEWS, .database = databases[i]};
        db_result *list = NULL;
        REQUIRE(be->driver->catalog(c, &call, &req, &list, &err));
        for (size_t k = 0; k < db_result_row_count(list); k++) {
            const char *view = json_string_value(json_array_get(json_array_get(list->rows, k), 2));
            char sql[200];
            snprintf(sql, sizeof sql, "SELECT * FROM %s", view);
            db_result *r = NULL;
            bool ok = be->driver->execute(c, &call, sql, &r, &err);
            if (!ok)
                fprintf(stderr, "    %s.%s: %s\n", databases[i], view, err.msg);
            CHECK(ok && db_result_row_count(r) > 0 && !r->truncated);
            db_result_free(r);
            views++;
        }
        db_result_free(list);
    }
    CHECK(views == 7);
    /* Cross-database: any database's tables from any other. */
    db_call call = {.database = "FINANCE", .max_rows = 10};
    db_result *r = NULL;
    CHECK(be->driver->execute(c, &call,
                              "SELECT count(*) FROM SALES.CUSTOMERS c JOIN "
                              "MARKETING.LEADS l ON l.lead_id = c.id",
                              &r, &err));
    CHECK(r != NULL && json_integer_value(first_cell(r)) == 2000);
    db_result_free(r);
    be->driver->close(c);
    db_backend_free(be);
}

/* A fingerprint of every table's contents in one database. */
static char *fingerprint(const char *dir, const char *database)
{
    static const char sql[] =
        "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_master WHERE type IN "
        "('table', 'view') ORDER BY name)";
    err_t err;
    db_result *names = query(dir, database, sql, &err);
    if (!names)
        return NULL;
    char *list = strdup(json_string_value(first_cell(names)));
    db_result_free(names);
    /* Per table: row count, total length of every row's quote()d values and
     * a position-weighted sum of their characters; any changed value, or a
     * row moved, changes it. */
    size_t cap = 1 << 16, len = 0;
    char *out = calloc(1, cap);
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char cols_sql[300];
        snprintf(cols_sql, sizeof cols_sql,
                 "SELECT group_concat('quote(\"' || name || '\")', '||') FROM "
                 "pragma_table_info('%s')",
                 t);
        db_result *cols = query(dir, database, cols_sql, &err);
        if (!cols)
            break;
        char body[4096];
        snprintf(body, sizeof body,
                 "SELECT count(*) || ':' || total(length(v)) || ':' || "
                 "total(unicode(substr(v, 1 + rn %% 13)) * rn) FROM (SELECT %s AS v, "
                 "row_number() OVER () AS rn FROM \"%s\")",
                 json_string_value(first_cell(cols)), t);
        db_result_free(cols);
        db_result *r = query(dir, database, body, &err);
        if (!r) {
            fprintf(stderr, "    %s: %s\n", t, err.msg);
            break;
        }
        len +=
            (size_t)snprintf(out + len, cap - len, "%s=%s;", t, json_string_value(first_cell(r)));
        db_result_free(r);
    }
    free(list);
    return out;
}

static bool same_file(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    bool same = fa && fb;
    while (same) {
        int ca = fgetc(fa), cb = fgetc(fb);
        same = ca == cb;
        if (ca == EOF)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same;
}

static void test_deterministic(void)
{
    REQUIRE(dir_a != NULL);
    char *root_b = path_in(tmpdir, "b");
    char *dir_b = NULL;
    err_t err;
    REQUIRE(demo_ensure(root_b, &dir_b, &err));
    CHECK(strcmp(dir_a, dir_b) != 0);
    /* Same script hash: the directory names agree after the root. */
    CHECK_STR(strrchr(dir_a, '/'), strrchr(dir_b, '/'));
    for (size_t i = 0; i < 3; i++) {
        char *fa = fingerprint(dir_a, databases[i]);
        char *fb = fingerprint(dir_b, databases[i]);
        CHECK(fa != NULL && fb != NULL && strlen(fa) > 20);
        CHECK_STR(fa, fb);
        free(fa);
        free(fb);
        char name[32];
        snprintf(name, sizeof name, "%s.db", databases[i]);
        char *pa = path_in(dir_a, name), *pb = path_in(dir_b, name);
        CHECK(same_file(pa, pb)); /* byte-identical files */
        free(pa);
        free(pb);
    }
    err_t e2;
    db_result *ra = query(dir_a, "SALES", "SELECT sum(total_amount) FROM ORDERS", &e2);
    db_result *rb = query(dir_b, "SALES", "SELECT sum(total_amount) FROM ORDERS", &e2);
    CHECK(ra && rb && json_real_value(first_cell(ra)) == json_real_value(first_cell(rb)));
    CHECK(ra && json_real_value(first_cell(ra)) > 1e6);
    db_result_free(ra);
    db_result_free(rb);
    free(dir_b);
    free(root_b);
}

typedef struct racer {
    const char *root;
    char *dir;
    bool ok;
} racer;

static void *race_main(void *p)
{
    racer *r = p;
    err_t err;
    r->ok = demo_ensure(r->root, &r->dir, &err);
    return NULL;
}

/* Two starts at once on an empty cache agree on one complete warehouse. */
static void test_concurrent_builds(void)
{
    char *root = path_in(tmpdir, "race");
    racer a = {.root = root}, b = {.root = root};
    pthread_t ta, tb;
    REQUIRE(pthread_create(&ta, NULL, race_main, &a) == 0);
    REQUIRE(pthread_create(&tb, NULL, race_main, &b) == 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    CHECK(a.ok && b.ok);
    CHECK_STR(a.dir, b.dir);
    if (a.dir)
        CHECK(count_of(a.dir, "SALES", "ORDERS") == 50000);
    size_t entries = 0;
    DIR *d = opendir(root);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        entries += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    if (d)
        closedir(d);
    CHECK(entries == 1); /* the loser's temporary directory is gone */
    free(a.dir);
    free(b.dir);
    free(root);
}

/* A directory (with one file) whose mtime is age_s in the past. */
static char *aged_dir(const char *root, const char *name, long age_s)
{
    char *dir = path_in(root, name);
    mkdir(dir, 0755);
    char *file = path_in(dir, "X.db");
    FILE *f = fopen(file, "w");
    if (f)
        fclose(f);
    struct utimbuf t = {.actime = time(NULL) - age_s, .modtime = time(NULL) - age_s};
    utime(dir, &t);
    free(file);
    return dir;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void test_prune(void)
{
    char *root = path_in(tmpdir, "prune");
    mkdir(root, 0755);
    char *old = aged_dir(root, "demo-00000000000000a1", 40L * 86400);
    char *recent = aged_dir(root, "demo-00000000000000a2", 5L * 86400);
    char *crashed = aged_dir(root, ".demo-00000000000000a3.tmp-abcdef", 2L * 3600);
    char *building = aged_dir(root, ".demo-00000000000000a4.tmp-ghijkl", 10);
    char *foreign = aged_dir(root, "demo-notmine", 400L * 86400);
    /* Another version's daemon, started long ago and still running. */
    char *running = aged_dir(root, "demo-00000000000000a5", 90L * 86400);
    int held = open(running, O_RDONLY | O_DIRECTORY);
    CHECK(held >= 0 && flock(held, LOCK_SH) == 0);
    /* A link with a warehouse's name: neither it nor its target is touched. */
    char *target = aged_dir(tmpdir, "link-target", 90L * 86400);
    char *link = path_in(root, "demo-00000000000000a6");
    CHECK(symlink(target, link) == 0);
    char *target_file = path_in(target, "X.db");
    char *dir = NULL;
    err_t err;
    REQUIRE(demo_ensure(root, &dir, &err)); /* a build: it prunes */
    CHECK(!exists(old));
    CHECK(!exists(crashed));
    CHECK(exists(recent));   /* another version used within 30 days */
    CHECK(exists(building)); /* maybe a build under way right now */
    CHECK(exists(foreign));  /* not a name we make */
    CHECK(exists(running));  /* locked by a process */
    CHECK(exists(link) && exists(target_file));
    close(held);
    /* A start that reuses the warehouse marks it used. */
    struct utimbuf t = {.actime = time(NULL) - 90L * 86400, .modtime = time(NULL) - 90L * 86400};
    REQUIRE(utime(dir, &t) == 0);
    char *again = NULL;
    CHECK(demo_ensure(root, &again, &err));
    struct stat st;
    CHECK(stat(dir, &st) == 0 && time(NULL) - st.st_mtime < 3600);
    free(again);
    free(dir);
    free(old);
    free(recent);
    free(crashed);
    free(building);
    free(foreign);
    free(running);
    free(target);
    free(target_file);
    free(link);
    free(root);
}

static void test_unusable_root(void)
{
    char *file = path_in(tmpdir, "plainfile");
    FILE *f = fopen(file, "w");
    REQUIRE(f != NULL);
    fclose(f);
    char *root = path_in(file, "cache");
    char *dir = NULL;
    err_t err;
    CHECK(!demo_ensure(root, &dir, &err));
    CHECK(dir == NULL);
    CHECK(err.kind == ERR_INTERNAL || err.kind == ERR_INVALID);
    CHECK_CONTAINS(err.msg, "plainfile");
    CHECK(!demo_ensure("", &dir, &err));
    free(root);
    free(file);
}

int main(void)
{
    if (!mkdtemp(tmpdir))
        return 2;
    TEST_RUN(test_script_names);
    TEST_RUN(test_default_cache_root);
    TEST_RUN(test_build);
    TEST_RUN(test_reuse);
    TEST_RUN(test_contents);
    TEST_RUN(test_every_view_queries);
    TEST_RUN(test_deterministic);
    TEST_RUN(test_concurrent_builds);
    TEST_RUN(test_prune);
    TEST_RUN(test_unusable_root);
    free(dir_a);
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return test_summary();
}
