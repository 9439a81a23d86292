#include "db/result.h"

#include <string.h>

#include "core/utf8.h"
#include "core/xalloc.h"

db_result *db_result_new(void)
{
    db_result *r = xcalloc(1, sizeof *r);
    r->rows = json_array();
    return r;
}

void db_result_free(db_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->ncols; i++) {
        free(r->cols[i].name);
        free(r->cols[i].type);
    }
    free(r->cols);
    json_decref(r->rows);
    free(r);
}

void db_result_add_column(db_result *r, const char *name, const char *type, int nullable)
{
    r->cols = xrealloc(r->cols, (r->ncols + 1) * sizeof *r->cols);
    /* Column names come from the database: keep them valid UTF-8 for JSON. */
    name = name ? name : "";
    type = type ? type : "";
    r->cols[r->ncols].name = utf8_sanitize(name, strlen(name), NULL);
    r->cols[r->ncols].type = utf8_sanitize(type, strlen(type), NULL);
    r->cols[r->ncols].nullable = nullable;
    r->ncols++;
}

void db_result_add_row(db_result *r, json_t *row)
{
    json_array_append_new(r->rows, row);
}

size_t db_result_row_count(const db_result *r)
{
    return json_array_size(r->rows);
}
