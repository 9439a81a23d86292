// Helpers for the PostgreSQL end-to-end tests: the throwaway cluster made by
// tests/pg/cluster.sh (its state directory is SMCP_PG_STATE, set by the ctest
// fixture pg_cluster), superuser SQL on it, and a server environment pointed
// at it with pool settings that make faults quick to see.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { SOURCE_DIR, SLOWDOWN } from './lib.mjs';

export const PG_STATE = process.env.SMCP_PG_STATE || '/tmp/smcp-pg-state';
export const CLUSTER = process.env.SMCP_PG_CLUSTER || join(SOURCE_DIR, 'tests', 'pg', 'cluster.sh');

function stateFile(name) {
    try {
        return readFileSync(join(PG_STATE, name), 'utf8').trim();
    } catch {
        throw new Error(
            `no PostgreSQL test cluster at ${PG_STATE}: run tests/pg/cluster.sh start ` +
                '(ctest does it through the pg_cluster fixture)',
        );
    }
}

export const DSN = stateFile('dsn');

/** Runs cluster.sh with args; throws with its stderr when it fails. */
export function cluster(...args) {
    const r = spawnSync('bash', [CLUSTER, ...args], {
        env: { ...process.env, SMCP_PG_STATE: PG_STATE },
        encoding: 'utf8',
        timeout: 90000,
    });
    if (r.status !== 0) {
        throw new Error(`cluster.sh ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
    }
    return r.stdout;
}

/** The same, without blocking the event loop (calls keep flowing meanwhile). */
export function clusterAsync(...args) {
    return new Promise((resolve, reject) => {
        const child = spawn('bash', [CLUSTER, ...args], {
            env: { ...process.env, SMCP_PG_STATE: PG_STATE },
            stdio: ['ignore', 'pipe', 'pipe'],
        });
        let err = '';
        child.stderr.on('data', (d) => (err += d));
        child.on('close', (code) => {
            if (code === 0) resolve();
            else reject(new Error(`cluster.sh ${args.join(' ')} failed (${code}): ${err}`));
        });
    });
}

/** Superuser SQL on the test database; returns the unaligned output, trimmed. */
export function adminSql(sql) {
    return cluster('psql', '-At', '-c', sql).trim();
}

/** The directory holding psql and friends. */
export const PG_BIN = cluster('pgbin').trim();

/**
 * Server environment for the test cluster. Pool settings: validate every
 * borrow, a fast health monitor and short time limits so faults show fast.
 */
export function pgEnv(extra = {}) {
    return {
        SNOWFLAKE_MCP_DSN: DSN,
        SNOWFLAKE_POOL_MIN_SIZE: '2',
        SNOWFLAKE_POOL_MAX_SIZE: '4',
        SNOWFLAKE_POOL_VALIDATE_AFTER_IDLE: '0',
        SNOWFLAKE_POOL_HEALTH_CHECK_MINUTES: '200ms',
        SNOWFLAKE_POOL_CONNECT_TIMEOUT: '2s',
        SNOWFLAKE_MCP_QUERY_TIMEOUT: `${20 * SLOWDOWN}s`,
        ...extra,
    };
}

/** Terminates every backend snowflake-mcp has open; returns how many. */
/** How many backends snowflake-mcp has open. */
export function serverBackends() {
    return Number(adminSql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'snowflake-mcp'"));
}

export function terminateServerBackends() {
    return Number(
        adminSql(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) FROM pg_stat_activity " +
                "WHERE application_name = 'snowflake-mcp'",
        ),
    );
}

/** The scratch data every bypass attempt targets, as one comparable string. */
export function scratchFingerprint() {
    return adminSql(
        "SELECT (SELECT string_agg(id || ':' || note, ',' ORDER BY id) FROM public.scratch) || '|' || " +
            "(SELECT last_value || '/' || is_called FROM public.s) || '|' || " +
            "(SELECT count(*) FROM pg_namespace WHERE nspname = 'public') || '|' || " +
            "(SELECT count(*) FROM pg_class WHERE relname LIKE 't\\_%') || '|' || " +
            '(SELECT count(*) FROM sales.orders)',
    );
}
