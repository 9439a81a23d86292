/* demo_scripts: the demo warehouse's SQL, compiled into the binary.
 *
 * The table is generated at build time from the demo directory's .sql files (sorted by file
 * name) and ends with {NULL, NULL}. Strings are static. */
#ifndef SMCP_DEMO_SCRIPTS_H
#define SMCP_DEMO_SCRIPTS_H

typedef struct smcp_demo_script {
    const char *name; /* file name, e.g. "10_sales.sql" */
    const char *sql;
} smcp_demo_script;

extern const smcp_demo_script smcp_demo_scripts[];

#endif
