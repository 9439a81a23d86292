/* sfdecode: Snowflake SQL API "jsonv2" results into typed db_result values.
 *
 * Every cell arrives as a JSON string (or null). Columns are described by
 * resultSetMetaData.rowType; their types become typed JSON:
 *   FIXED, scale 0     integer when it fits int64, else the decimal string
 *   FIXED, scale > 0   number when the decimal has at most 15 significant
 *                      digits (so it round-trips through a double exactly),
 *                      else the decimal string — money stays exact
 *   REAL               number; NaN and ±inf as strings ("NaN", "inf")
 *   BOOLEAN            true/false ("true"/"false" and "1"/"0" accepted)
 *   DATE               "YYYY-MM-DD"
 *   TIME               "HH:MM:SS[.fffffffff]"
 *   TIMESTAMP_NTZ      "YYYY-MM-DDTHH:MM:SS[.fffffffff]"
 *   TIMESTAMP_LTZ      the same in UTC with "Z"
 *   TIMESTAMP_TZ       local time with its offset, "…+01:00"
 *   VARIANT, OBJECT, ARRAY, GEOGRAPHY, GEOMETRY, VECTOR   parsed JSON
 *   BINARY             the hex string;  TEXT and anything else: the string
 * Fractions are printed without trailing zeros and omitted when zero.
 * Epoch values are read in both forms Snowflake has used: "seconds.fraction"
 * and integer nanoseconds (an integer of 13 or more digits: seconds up to
 * the year 9999 have at most 12; for TIME, 6 or more digits, as a day has
 * 86400 seconds). A value that does
 * not parse as its type is kept as its string: data is never dropped.
 *
 * Column type names are Snowflake's: NUMBER(38,0), VARCHAR(16777216), FLOAT,
 * BOOLEAN, DATE, TIME(9), TIMESTAMP_NTZ(9), BINARY(8388608), VARIANT… */
#ifndef SMCP_SFDECODE_H
#define SMCP_SFDECODE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "db/result.h"

typedef enum sfd_type {
    SFD_TEXT,
    SFD_FIXED,
    SFD_REAL,
    SFD_BOOLEAN,
    SFD_DATE,
    SFD_TIME,
    SFD_TS_NTZ,
    SFD_TS_LTZ,
    SFD_TS_TZ,
    SFD_JSON, /* variant, object, array, geography, geometry, vector */
    SFD_BINARY
} sfd_type;

typedef struct sfd_col {
    sfd_type type;
    int scale;
} sfd_col;

/* The decoding class of a rowType "type" (case-insensitive). */
sfd_type sfdecode_type(const char *type);

/* Adds one db_result column per rowType entry to r and returns the
 * decoders (the caller frees the array); NULL with err when rowType is not
 * an array of objects with a name and a type. *ncols gets the count. */
sfd_col *sfdecode_columns(const json_t *row_type, db_result *r, size_t *ncols, err_t *err);

/* The typed value of one cell (a new reference); adds its size to *bytes. */
json_t *sfdecode_value(const sfd_col *c, const json_t *cell, size_t *bytes);

/* A whole row: a new array of ncols values; short rows are padded with
 * null. */
json_t *sfdecode_row(const sfd_col *cols, size_t ncols, const json_t *row, size_t *bytes);

#endif
