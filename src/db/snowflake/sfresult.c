#include "db/snowflake/sfresult.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "db/snowflake/sfdecode.h"

/* The limits of one collection and how far it got. */
typedef struct taking {
    const sfd_col *cols;
    size_t ncols;
    size_t max_rows, max_bytes;
    bool over_bytes;
} taking;

static bool full(const taking *t, const db_result *r)
{
    return db_result_row_count(r) >= t->max_rows || t->over_bytes;
}

/* Appends rows of data to r within the limits; false once a limit left a
 * row of data behind. */
static bool take_rows(taking *t, const json_t *data, db_result *r)
{
    size_t n = json_array_size(data);
    for (size_t i = 0; i < n; i++) {
        if (full(t, r))
            return false;
        db_result_add_row(r, sfdecode_row(t->cols, t->ncols, json_array_get(data, i), &r->bytes));
        t->over_bytes = t->max_bytes && r->bytes > t->max_bytes;
    }
    return true;
}

/* numRows when it is a row count, else -1. */
static long long num_rows(const json_t *meta)
{
    const json_t *num = json_object_get(meta, "numRows");
    if (!json_is_integer(num) || json_integer_value(num) < 0)
        return -1;
    return (long long)json_integer_value(num);
}

bool sfresult_take(const json_t *resp, size_t max_rows, size_t max_bytes, sfresult_fetch_fn fetch,
                   void *ctx, db_result **out, err_t *err)
{
    *out = NULL;
    const json_t *meta = json_object_get(resp, "resultSetMetaData");
    db_result *r = db_result_new();
    taking t = {.max_rows = max_rows, .max_bytes = max_bytes};
    sfd_col *cols = sfdecode_columns(json_object_get(meta, "rowType"), r, &t.ncols, err);
    if (!cols) {
        db_result_free(r);
        return false;
    }
    t.cols = cols;
    size_t parts = json_array_size(json_object_get(meta, "partitionInfo"));
    const char *handle = json_string_value(json_object_get(resp, "statementHandle"));
    bool ok = true;
    bool more = take_rows(&t, json_object_get(resp, "data"), r);
    size_t p = 1;
    for (; ok && more && p < parts && handle && fetch; p++) {
        if (full(&t, r))
            break; /* the partitions left are counted below */
        json_t *data = NULL;
        ok = fetch(ctx, handle, p, &data, err);
        if (ok)
            more = take_rows(&t, data, r);
        json_decref(data);
    }
    free(cols);
    if (!ok) {
        db_result_free(r);
        return false;
    }
    size_t kept = db_result_row_count(r);
    long long total = num_rows(meta);
    /* !more: a limit stopped us with rows left in a partition. */
    bool left = !more || (total >= 0 ? (unsigned long long)total > kept : p < parts);
    if (left) {
        r->truncated = true;
        r->truncated_by = t.over_bytes ? "byte limit" : "row limit";
    }
    const char *code = json_string_value(json_object_get(resp, "code"));
    if (code && strcmp(code, "391908") == 0) {
        r->truncated = true;
        r->truncated_by = SFRESULT_TRUNCATED_BY_SERVER;
    }
    *out = r;
    return true;
}
