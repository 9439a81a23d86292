/* sfresult: the rows of a finished Snowflake SQL API statement gathered
 * into a db_result within a call's row and byte limits.
 *
 * A finished statement's answer (HTTP 200) holds resultSetMetaData
 * (rowType, numRows, partitionInfo), the rows of partition 0 in "data" and
 * the statementHandle by which partitions 1, 2, ... are fetched. sfresult
 * reads the answer (cells decoded by sfdecode) and asks the caller's fetch
 * function for further partitions, in order, only while rows are still
 * wanted; it does no I/O of its own. A partition that is not fetched counts
 * as rows left behind unless numRows says otherwise.
 *
 * Truncation: the result is marked truncated, by "row limit" or "byte
 * limit", when rows were left behind: numRows is larger than the rows
 * kept, or a limit stopped the reading inside a partition, or (without a
 * usable numRows) partitions were left unfetched; and by
 * SFRESULT_TRUNCATED_BY_SERVER when Snowflake answered code 391908 (the
 * result was too large for the SQL API).
 *
 * Ownership: the answer and fetched data are borrowed; *out is the
 * caller's (db_result_free). No state: thread-safe. */
#ifndef SMCP_SFRESULT_H
#define SMCP_SFRESULT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "db/result.h"

#define SFRESULT_TRUNCATED_BY_SERVER "result too large for the Snowflake SQL API"

/* Fetches partition n (n >= 1) of the statement handle: true with *data
 * its "data" array (a new reference), or false with err. */
typedef bool (*sfresult_fetch_fn)(void *ctx, const char *handle, size_t n, json_t **data,
                                  err_t *err);

/* Builds *out from resp, keeping at most max_rows rows and stopping once
 * the kept cell bytes pass max_bytes (0: no byte limit). fetch may be NULL:
 * only partition 0 is read. False with err (and *out NULL) when the
 * rowType is unusable (ERR_INTERNAL) or a fetch fails (its err). */
bool sfresult_take(const json_t *resp, size_t max_rows, size_t max_bytes, sfresult_fetch_fn fetch,
                   void *ctx, db_result **out, err_t *err);

#endif
