/* pgtest: what the PostgreSQL test programs share — finding the throwaway
 * cluster that tests/pg/cluster.sh started. Header-only: each test program
 * is a single file. */
#ifndef SMCP_PGTEST_H
#define SMCP_PGTEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void pgtest_read_file(const char *dir, const char *name, char *out, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cannot read %s: is the test cluster running (tests/pg/cluster.sh)?\n",
                path);
        exit(1);
    }
    if (!fgets(out, (int)n, f))
        out[0] = '\0';
    fclose(f);
    out[strcspn(out, "\n")] = '\0';
}

/* Fills the snowflake-mcp DSN and a superuser conninfo for side sessions. */
static void pgtest_locate(char *dsn, size_t dsn_len, char *admin, size_t admin_len)
{
    const char *state = getenv("SMCP_PG_STATE");
    if (!state)
        state = "/tmp/smcp-pg-state";
    char sock[512], port[32];
    pgtest_read_file(state, "dsn", dsn, dsn_len);
    pgtest_read_file(state, "sock", sock, sizeof sock);
    pgtest_read_file(state, "port", port, sizeof port);
    snprintf(admin, admin_len, "host=%s port=%s user=postgres dbname=smcptest", sock, port);
}

#endif
