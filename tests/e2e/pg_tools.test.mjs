// Every tool against a real PostgreSQL server, through the official MCP SDK
// client, plus the read-only bypass attempts: all refused, data unchanged.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';

import {
    startClient,
    tempDir,
    call,
    callOk,
    callErr,
    checkStructured,
    column,
    textOf,
    sleep,
    SLOWDOWN,
} from './lib.mjs';
import { pgEnv, adminSql, scratchFingerprint } from './pg_lib.mjs';

let srv;
let schemas;

before(async () => {
    srv = await startClient({ cacheDir: tempDir(), env: pgEnv() });
    const { tools } = await srv.client.listTools();
    schemas = Object.fromEntries(tools.map((t) => [t.name, t.outputSchema]));
});

after(async () => {
    await srv?.close();
});

async function ok(name, args) {
    const r = await callOk(srv.client, name, args);
    return checkStructured(r, schemas[name]);
}

test('list_databases shows the connectable databases, not templates', async () => {
    const sc = await ok('list_databases');
    const names = column(sc, 'name');
    assert.ok(names.includes('smcptest') && names.includes('other'), names.join(','));
    assert.ok(!names.includes('template0') && !names.includes('template1'));
});

test('list_schemas hides the system schemas; PostgreSQL names stay as stored', async () => {
    const sc = await ok('list_schemas', { database: 'SMCPTEST' });
    const names = column(sc, 'name');
    for (const n of ['public', 'sales', 'MixedCase']) assert.ok(names.includes(n), n);
    for (const n of ['pg_catalog', 'information_schema', 'pg_toast']) assert.ok(!names.includes(n), n);
});

test('list_schemas of another database says to connect to it with its own DSN', async () => {
    const text = await callErr(srv.client, 'list_schemas', { database: 'other' });
    assert.match(text, /its own DSN/);
});

test('list_tables and list_views, schema matched case-insensitively', async () => {
    let sc = await ok('list_tables', { database: 'smcptest', schema: 'SALES' });
    assert.deepEqual(column(sc, 'name'), ['customers', 'orders']);
    assert.deepEqual(column(sc, 'row_count'), [1000, 10000]);
    assert.deepEqual(column(sc, 'kind'), ['TABLE', 'TABLE']);
    sc = await ok('list_views', { database: 'smcptest', schema: 'sales' });
    assert.deepEqual(column(sc, 'name'), ['big_orders', 'region_totals']);
    const text = await callErr(srv.client, 'list_tables', { database: 'smcptest', schema: 'nope' });
    assert.match(text, /schema "nope" does not exist/);
});

test('describe_table and describe_view', async () => {
    let sc = await ok('describe_table', { database: 'smcptest', schema: 'public', table_name: 'all_types' });
    const names = column(sc, 'name');
    const types = column(sc, 'type');
    assert.equal(types[names.indexOf('num')], 'numeric(30,10)');
    assert.equal(column(sc, 'primary_key')[names.indexOf('id')], true);
    assert.equal(column(sc, 'nullable')[names.indexOf('i4')], false);
    const r = await callOk(srv.client, 'describe_view', {
        database: 'smcptest',
        schema: 'sales',
        view_name: 'big_orders',
    });
    sc = checkStructured(r, schemas.describe_view);
    assert.deepEqual(column(sc, 'name'), ['order_id', 'name', 'amount']);
    assert.match(textOf(r), /JOIN/);
    const text = await callErr(srv.client, 'describe_table', {
        database: 'smcptest',
        schema: 'sales',
        table_name: 'big_orders',
    });
    assert.match(text, /is a view/);
});

test('query_view: upper-case Snowflake spelling, limit and truncation', async () => {
    const sc = await ok('query_view', {
        database: 'SMCPTEST',
        schema: 'PUBLIC',
        view_name: 'ALL_TYPES_V',
        limit: 1,
    });
    assert.equal(sc.rows.length, 1);
    assert.equal(sc.truncated, true);
});

test('query_view reads the object describe_view describes (names differing only in case)', async () => {
    adminSql(
        'CREATE SCHEMA IF NOT EXISTS case_e2e; ' +
            'CREATE OR REPLACE VIEW case_e2e."REPORT" AS SELECT 1 AS upper_one; ' +
            'CREATE OR REPLACE VIEW case_e2e.report AS SELECT 2 AS lower_two; ' +
            'GRANT USAGE ON SCHEMA case_e2e TO smcp; ' +
            'GRANT SELECT ON ALL TABLES IN SCHEMA case_e2e TO smcp',
    );
    const args = { database: 'smcptest', schema: 'case_e2e', view_name: 'REPORT' };
    const desc = await ok('describe_view', args);
    assert.deepEqual(column(desc, 'name'), ['upper_one']);
    let sc = await ok('query_view', args);
    assert.deepEqual(
        sc.columns.map((c) => c.name),
        ['upper_one'],
    );
    assert.deepEqual(sc.rows, [[1]]);
    sc = await ok('query_view', { ...args, view_name: 'report' });
    assert.deepEqual(
        sc.columns.map((c) => c.name),
        ['lower_two'],
    );
    const text = await callErr(srv.client, 'query_view', { ...args, view_name: 'Report' });
    assert.match(text, /^Not found:.*ambiguous/s);
    assert.match(text, /"REPORT"/);
    assert.match(text, /"report"/);
    const missing = await callErr(srv.client, 'query_view', { ...args, view_name: 'NOTHING' });
    assert.match(missing, /^Not found:.*does not exist/s);
    const table = await callErr(srv.client, 'query_view', {
        database: 'smcptest',
        schema: 'public',
        view_name: 'scratch',
    });
    assert.match(table, /is a table/);
});

test('execute_query returns typed values', async () => {
    const sc = await ok('execute_query', {
        query: 'SELECT id, i8, num, big, f4, b, jb, tstz, d, by, ai FROM public.all_types ORDER BY id',
    });
    const row = sc.rows[0];
    assert.deepEqual(row.slice(0, 2), [1, 9223372036854775807]);
    assert.equal(row[2], '12345678901234567890.0123456789');
    assert.equal(row[3], '123456789012345678901234567890');
    assert.equal(row[4], 1.5);
    assert.equal(row[5], true);
    assert.deepEqual(row[6], { k: { n: 1 } });
    assert.equal(row[7], '2024-01-02T03:04:05.5+00:00');
    assert.equal(row[8], '2024-02-29');
    assert.equal(row[9], '00ff10');
    assert.deepEqual(row[10], [1, null, 3]);
    assert.equal(sc.rows[2][3], 42);
    const types = sc.columns.map((c) => c.type);
    assert.equal(types[2], 'numeric(30,10)');
});

test('execute_query with a schema resolves unqualified names there', async () => {
    const sc = await ok('execute_query', { query: 'SELECT count(*) AS n FROM orders', schema: 'Sales' });
    assert.deepEqual(sc.rows, [[10000]]);
});

test('the row limit stops a huge query at once', async () => {
    const t0 = performance.now();
    const sc = await ok('execute_query', { query: 'SELECT generate_series(1, 100000000) AS g', limit: 5 });
    const ms = performance.now() - t0;
    assert.equal(sc.rows.length, 5);
    assert.equal(sc.truncated, true);
    assert.equal(sc.truncated_by, 'row limit');
    console.log(`# 5 rows of 100,000,000 in ${ms.toFixed(0)} ms`);
    assert.ok(ms < 10000 * SLOWDOWN, 'well below the time to compute every row');
});

test('cancelling a call stops the query in PostgreSQL', async () => {
    const ac = new AbortController();
    const slow = 'SELECT count(*) FROM (SELECT generate_series(1, 2000000000)) s';
    const p = call(srv.client, 'execute_query', { query: slow }, { signal: ac.signal });
    const running = `SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%generate_series(1, 2000000000)%' AND application_name = 'snowflake-mcp'`;
    let seen = false;
    for (let i = 0; i < 100 && !seen; i++) {
        await sleep(50);
        seen = adminSql(running) === '1';
    }
    assert.ok(seen, 'the query ran on the server');
    ac.abort();
    await assert.rejects(p);
    let gone = false;
    for (let i = 0; i < 100 && !gone; i++) {
        await sleep(50);
        gone = adminSql(running) === '0';
    }
    assert.ok(gone, 'the query stopped on the server after the cancellation');
    await ok('execute_query', { query: 'SELECT 1 AS still_fine' });
});

const bypasses = [
    'COMMIT; DROP SCHEMA public CASCADE',
    'SELECT 1; DELETE FROM public.scratch',
    'WITH d AS (DELETE FROM public.scratch RETURNING *) SELECT * FROM d',
    "DO $$BEGIN DELETE FROM public.scratch; END$$",
    'CALL public.p()',
    "COPY public.scratch TO PROGRAM 'touch /tmp/smcp-pg-bypass'",
    'EXPLAIN ANALYZE DELETE FROM public.scratch',
    "SELECT set_config('a.b', 'c', false)",
    "SELECT nextval('public.s')",
    'CREATE TABLE public.t_bypass AS SELECT 1 AS x',
    'SELECT 1 AS x INTO public.t_into',
    "SELECT pg_catalog.set_config('default_transaction_read_only', 'off', false)",
    'UPDATE public.scratch SET note = $$changed$$',
];

test('every bypass attempt is refused and the data is unchanged', async () => {
    rmSync('/tmp/smcp-pg-bypass', { force: true });
    const before = scratchFingerprint();
    for (const query of bypasses) {
        const text = await callErr(srv.client, 'execute_query', { query });
        assert.match(text, /^Refused: /, `${query} -> ${text}`);
    }
    assert.equal(scratchFingerprint(), before);
    assert.equal(existsSync('/tmp/smcp-pg-bypass'), false);
    assert.equal(adminSql("SELECT count(*) FROM pg_namespace WHERE nspname = 'public'"), '1');
});
