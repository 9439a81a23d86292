/* Fuzzes config_apply_dotenv, the .env parser, with arbitrary text.
 *
 * It sets real environment variables, and the text names them, so the
 * target keeps its own environment safe: the environment is recorded once
 * at start, and after every run each variable the text added is unset and
 * the environment must equal the record again. Variables set before are
 * never overridden (an invariant below), so PATH, ASAN_OPTIONS and the like
 * cannot change; variables the text adds (TZ, TMPDIR…) live only during
 * the run, and the process never reads them then. glibc keeps every
 * distinct "NAME=value" it was given for the life of the process, so memory
 * grows slowly with the number of runs; at CI length this is a few MB.
 *
 * Invariants, checked against a model of the format (a line is blank, a
 * '#' comment, or [export ]KEY=VALUE with a non-empty KEY):
 *   - it fails exactly when some line is malformed, with ERR_INVALID and
 *     "<origin> line <N>: ..." naming that line (counted in the text);
 *   - the variables it adds are exactly the KEYs of the lines before that
 *     one that were not already set; each name is trimmed and each value
 *     is a piece of its line's text after the '=' holding no newline;
 *   - variables already set keep their values;
 *   - applying the same text again changes nothing. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

extern char **environ;

static char **saved; /* "NAME=value" of the environment at start */
static size_t nsaved;

static void save_environment(void)
{
    size_t n = 0;
    while (environ[n])
        n++;
    saved = calloc(n + 1, sizeof *saved);
    if (!saved)
        abort();
    for (size_t i = 0; i < n; i++) {
        saved[i] = strdup(environ[i]);
        if (!saved[i])
            abort();
    }
    nsaved = n;
}

static size_t name_len(const char *entry)
{
    return strcspn(entry, "=");
}

/* The recorded entry with entry's name, or NULL. */
static const char *saved_entry(const char *entry)
{
    size_t n = name_len(entry);
    for (size_t i = 0; i < nsaved; i++) {
        if (name_len(saved[i]) == n && strncmp(saved[i], entry, n) == 0)
            return saved[i];
    }
    return NULL;
}

/* ---- the model ---------------------------------------------------------- */

typedef struct model_line {
    const char *key; /* trimmed, not NUL-terminated */
    size_t key_len;
    const char *rest; /* what follows the '=' up to the end of the line */
    size_t rest_len;
} model_line;

typedef struct model {
    model_line *lines;
    size_t n;
    int bad_line; /* 0: every line is well-formed */
} model;

static void trim(const char **s, size_t *n)
{
    while (*n > 0 && isspace((unsigned char)**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && isspace((unsigned char)(*s)[*n - 1]))
        (*n)--;
}

/* Reads one line (s, n); false when it is malformed. */
static bool model_line_read(const char *s, size_t n, model *m)
{
    trim(&s, &n);
    if (n == 0 || s[0] == '#')
        return true;
    if (n >= 7 && strncmp(s, "export ", 7) == 0) {
        s += 7;
        n -= 7;
        trim(&s, &n);
    }
    const char *eq = memchr(s, '=', n);
    if (!eq || eq == s)
        return false;
    model_line *ml = &m->lines[m->n++];
    ml->key = s;
    ml->key_len = (size_t)(eq - s);
    trim(&ml->key, &ml->key_len);
    ml->rest = eq + 1;
    ml->rest_len = n - (size_t)(eq + 1 - s);
    return true;
}

static void model_build(const char *text, model *m)
{
    /* A KEY=VALUE line has at least two characters. */
    m->lines = calloc(strlen(text) / 2 + 1, sizeof *m->lines);
    if (!m->lines)
        abort();
    m->n = 0;
    m->bad_line = 0;
    const char *s = text;
    for (int lineno = 1;; lineno++) {
        size_t len = strcspn(s, "\n");
        if (!model_line_read(s, len, m)) {
            m->bad_line = lineno;
            return;
        }
        if (s[len] == '\0')
            return;
        s += len + 1;
    }
}

static const model_line *model_find(const model *m, const char *name, size_t n)
{
    for (size_t i = 0; i < m->n; i++) {
        if (m->lines[i].key_len == n && memcmp(m->lines[i].key, name, n) == 0)
            return &m->lines[i];
    }
    return NULL;
}

static bool contains(const char *hay, size_t hay_len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= hay_len; i++) {
        if (memcmp(hay + i, needle, n) == 0)
            return true;
    }
    return false;
}

/* ---- checks ------------------------------------------------------------- */

/* Checks the environment against the record and the model; unsets what the
 * text added into added[] (names) and returns their count. */
static size_t check_environment(const model *m, char ***added)
{
    size_t n = 0, count = 0;
    while (environ[n])
        n++;
    *added = calloc(n + 1, sizeof **added);
    if (!*added)
        abort();
    for (size_t i = 0; i < n; i++) {
        const char *entry = environ[i];
        const char *old = saved_entry(entry);
        if (old) {
            if (strcmp(old, entry) != 0)
                abort(); /* overridden */
            continue;
        }
        size_t nl = name_len(entry);
        const model_line *ml = model_find(m, entry, nl);
        const char *value = entry + nl + 1;
        if (!ml || entry[nl] != '=' || strchr(value, '\n') ||
            !contains(ml->rest, ml->rest_len, value))
            abort();
        (*added)[count] = strndup(entry, nl);
        if (!(*added)[count])
            abort();
        count++;
    }
    /* Every model key is set now: by the text or from before. */
    for (size_t i = 0; i < m->n; i++) {
        char *name = strndup(m->lines[i].key, m->lines[i].key_len);
        if (!name)
            abort();
        if (!getenv(name))
            abort();
        free(name);
    }
    return count;
}

static void check_error(bool ok, const err_t *e, const model *m)
{
    if (ok != (m->bad_line == 0))
        abort();
    if (ok)
        return;
    char want[64];
    snprintf(want, sizeof want, "fuzz line %d: ", m->bad_line);
    if (e->kind != ERR_INVALID || strncmp(e->msg, want, strlen(want)) != 0)
        abort();
}

static void restore(char **added, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (unsetenv(added[i]) != 0)
            abort();
        free(added[i]);
    }
    free(added);
    size_t n = 0;
    while (environ[n]) {
        if (!saved_entry(environ[n]))
            abort();
        n++;
    }
    if (n != nsaved)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!saved) {
        log_set_stderr_level(LOG_EMERGENCY);
        save_environment();
    }
    char *text = malloc(size + 1);
    if (!text)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';

    model m;
    model_build(text, &m);
    err_t e;
    bool ok = config_apply_dotenv(text, "fuzz", &e);
    check_error(ok, &e, &m);
    char **added;
    size_t count = check_environment(&m, &added);

    /* Again: nothing changes, the verdict is the same. */
    bool again = config_apply_dotenv(text, "fuzz", &e);
    char **added2;
    size_t count2 = check_environment(&m, &added2);
    if (again != ok || count2 != count)
        abort();
    for (size_t i = 0; i < count2; i++)
        free(added2[i]);
    free(added2);

    restore(added, count);
    free(m.lines);
    free(text);
    return 0;
}
