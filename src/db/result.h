/* result: a tabular result with typed values, as every driver returns it.
 *
 * The caller of a driver owns the db_result and frees it with
 * db_result_free; all strings and the rows array are owned by it. Rows are
 * a jansson array of arrays holding typed JSON values (integers, reals,
 * strings, booleans, null, objects for semi-structured data). */
#ifndef SMCP_RESULT_H
#define SMCP_RESULT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct db_column {
    char *name;
    char *type;   /* the engine's type name, e.g. "INTEGER", "NUMBER(38,0)" */
    int nullable; /* 1 yes, 0 no, -1 unknown */
} db_column;

typedef struct db_result {
    size_t ncols;
    db_column *cols;
    json_t *rows;             /* array of arrays; never NULL */
    bool truncated;           /* more rows existed than were kept */
    const char *truncated_by; /* "row limit" / "byte limit" when truncated */
    size_t bytes;             /* approximate bytes of cell data kept */
} db_result;

db_result *db_result_new(void);
void db_result_free(db_result *r);
void db_result_add_column(db_result *r, const char *name, const char *type, int nullable);
/* Appends a row; steals the reference to row (a JSON array of ncols). */
void db_result_add_row(db_result *r, json_t *row);
size_t db_result_row_count(const db_result *r);

#endif
