// Every tool through the official SDK client against the Snowflake SQL API
// emulator (tests/snowemu), with 100 rows per result partition so that
// partition fetching is exercised; the emulator's /emu/stats shows what the
// server really sent. The server talks to the emulator through a recording
// proxy so that request bodies (MULTI_STATEMENT_COUNT) can be checked too.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { tempDir, startClient, callOk, callErr, textOf, checkStructured, column, summaryOf, withTimeout } from './lib.mjs';
import { startEmu, startRecordingProxy, httpsRequest, requestsWhere, oneRequest } from './sf_lib.mjs';

let emu;
let proxy;
let srv;
let schemas;

before(async () => {
    emu = await startEmu({ rowsPerPartition: 100 });
    proxy = await startRecordingProxy(emu);
    srv = await startClient({ cacheDir: tempDir(), env: emu.env({ SNOWFLAKE_HOST: proxy.host }) });
    const listed = await withTimeout(srv.client.listTools(), 30000, 'tools/list');
    schemas = Object.fromEntries(listed.tools.map((t) => [t.name, t.outputSchema]));
});

after(async () => {
    await srv?.close();
    await proxy?.close();
    const e = await emu?.stop();
    if (e) assert.equal(e.signal ?? null, null, `snowemu ended by signal ${e.signal}`);
});

async function ok(name, args) {
    const r = await callOk(srv.client, name, args);
    const sc = checkStructured(r, schemas[name]);
    return { r, sc, text: textOf(r) };
}

/** Statements submitted since the last reset, as the emulator counted them. */
async function submissions() {
    return (await emu.stats()).submissions;
}

// ---- 1. every tool ------------------------------------------------------------

test('list_databases shows SALES, MARKETING and FINANCE from SHOW DATABASES', async () => {
    await emu.reset();
    const { sc, text } = await ok('list_databases', {});
    assert.deepEqual([...column(sc, 'name')].sort(), ['FINANCE', 'MARKETING', 'SALES']);
    assert.match(text, /\| SALES \|/);
    assert.equal(sc.truncated, false);
    const st = await emu.stats();
    assert.ok(st.submissions >= 1 && st.executions >= 1, `the emulator ran it: ${JSON.stringify(st)}`);
    assert.equal(st.last_request.token_type, 'KEYPAIR_JWT');
    assert.match(st.last_request.user_agent, /^snowflake-mcp\//);
});

test('list_schemas SALES shows PUBLIC', async () => {
    const { sc } = await ok('list_schemas', { database: 'SALES' });
    assert.deepEqual(column(sc, 'name'), ['PUBLIC']);
    assert.deepEqual(column(sc, 'database'), ['SALES']);
});

test('list_tables SALES lists its tables with row counts, and no views', async () => {
    const { sc, text } = await ok('list_tables', { database: 'SALES' });
    const names = column(sc, 'name');
    for (const t of ['CUSTOMERS', 'ORDERS', 'PRODUCTS', 'ORDER_ITEMS', 'REGIONS']) {
        assert.ok(names.includes(t), `${t} in ${names}`);
    }
    assert.ok(!names.includes('CUSTOMER_ANALYTICS'), 'a view is not a table');
    assert.ok(column(sc, 'database').every((d) => d === 'SALES'));
    assert.ok(column(sc, 'schema').every((d) => d === 'PUBLIC'));
    const orders = column(sc, 'row_count')[names.indexOf('ORDERS')];
    const count = await ok('execute_query', { query: 'SELECT count(*) FROM ORDERS' });
    assert.equal(orders, count.sc.rows[0][0], 'row_count of ORDERS is its real count, as an integer');
    assert.match(text, /\| ORDERS \|/);
    const mkt = await ok('list_tables', { database: 'marketing' });
    assert.ok(column(mkt.sc, 'name').includes('CAMPAIGNS'));
    assert.ok(!column(mkt.sc, 'name').includes('ORDERS'), 'each database has its own tables');
});

test('list_views SALES lists the views and no tables', async () => {
    const { sc } = await ok('list_views', { database: 'SALES' });
    const names = column(sc, 'name');
    for (const v of ['CUSTOMER_ANALYTICS', 'REVENUE_BY_REGION', 'TOP_PRODUCTS']) {
        assert.ok(names.includes(v), `${v} in ${names}`);
    }
    assert.ok(!names.includes('ORDERS'), 'a table is not a view');
});

test('describe_table SALES ORDERS shows columns, types, key and nullability', async () => {
    const { sc, text } = await ok('describe_table', { database: 'SALES', table_name: 'orders' });
    const cols = column(sc, 'name').map((n) => n.toUpperCase());
    assert.deepEqual(cols, ['ORDER_ID', 'CUSTOMER_ID', 'ORDER_DATE', 'STATUS', 'CHANNEL', 'TOTAL_AMOUNT']);
    const types = column(sc, 'type');
    assert.match(types[0], /^NUMBER\(38,0\)$/);
    assert.equal(types[2], 'DATE');
    assert.deepEqual(column(sc, 'primary_key'), [true, false, false, false, false, false]);
    assert.equal(column(sc, 'nullable')[0], false, 'the primary key is NOT NULL');
    assert.match(summaryOf(text), /^6 rows\./);
});

test('describe_view shows the columns and a definition with SELECT', async () => {
    const { sc, text } = await ok('describe_view', { database: 'SALES', view_name: 'CUSTOMER_ANALYTICS' });
    assert.equal(typeof sc.definition, 'string');
    assert.match(sc.definition, /SELECT/i);
    assert.match(sc.definition, /CUSTOMER/i);
    assert.ok(sc.row_count >= 2, 'the view has several columns');
    assert.match(text, /Definition:/);
    const wrong = await callErr(srv.client, 'describe_view', { database: 'SALES', view_name: 'ORDERS' });
    assert.match(wrong, /^Not found: /);
    assert.match(wrong, /ORDERS/);
});

test('describe_view of a table says it is a table and names describe_table', async () => {
    const wrong = await callErr(srv.client, 'describe_view', { database: 'SALES', view_name: 'ORDERS' });
    assert.match(wrong, /ORDERS/);
    assert.match(wrong, /describe_table/);
});

test('query_view respects its limit and says when it truncated', async () => {
    const five = await ok('query_view', { database: 'SALES', view_name: 'CUSTOMER_ANALYTICS', limit: 5 });
    assert.equal(five.sc.rows.length, 5);
    assert.equal(five.sc.truncated, true);
    assert.equal(five.sc.truncated_by, 'row limit');
    assert.match(summaryOf(five.text), /^5 rows shown \(row limit 5\); more rows exist/);
    const n = (await ok('execute_query', { query: 'SELECT count(*) FROM REVENUE_BY_REGION' })).sc.rows[0][0];
    assert.ok(Number.isInteger(n) && n > 0 && n < 1000, `REVENUE_BY_REGION has ${n} rows`);
    const all = await ok('query_view', { database: 'SALES', view_name: 'REVENUE_BY_REGION', limit: 1000 });
    assert.equal(all.sc.row_count, n);
    assert.equal(all.sc.truncated, false);
    assert.equal(all.sc.truncated_by, undefined);
    const dflt = await ok('query_view', { database: 'SALES', view_name: 'CUSTOMER_ANALYTICS' });
    assert.equal(dflt.sc.row_count, 10, 'the default limit is 10');
});

/** ms since the epoch of an ISO-8601 string with up to 9 fraction digits. */
function isoMs(s) {
    const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?$/.exec(s);
    assert.ok(m, `${s} is an ISO-8601 timestamp`);
    return Date.parse(m[1] + (m[2] ? m[2].slice(0, 4).padEnd(4, '0') : '') + (m[3] ?? 'Z'));
}

test('execute_query decodes every Snowflake type: integers, decimals, dates, NULL …', async () => {
    const { sc } = await ok('execute_query', { query: 'SELECT * FROM EMU_TYPES ORDER BY id' });
    const row = (i) => Object.fromEntries(sc.columns.map((c, k) => [c.name.toLowerCase(), sc.rows[i][k]]));
    assert.equal(sc.row_count, 3);
    const [a, b, c] = [row(0), row(1), row(2)];
    // integers are JSON integers
    assert.equal(a.id, 1);
    assert.equal(a.c_fixed, 123);
    assert.equal(b.c_fixed, -7);
    // decimals and reals are numbers
    assert.equal(a.c_dec, 1.5);
    assert.equal(b.c_dec, -0.05);
    assert.equal(a.c_real, 15000000000);
    assert.equal(b.c_real, 0.25);
    assert.equal(a.c_text, 'hello, "world"');
    assert.equal(b.c_text, 'ünïcødé ✓');
    assert.equal(a.c_bool, true);
    assert.equal(b.c_bool, false);
    // dates are ISO strings (18262 days = 2020-01-01; -1 = 1969-12-31)
    assert.equal(a.c_date, '2020-01-01');
    assert.equal(b.c_date, '1969-12-31');
    assert.match(a.c_time, /^23:01:59(\.0+)?$/);
    assert.match(b.c_time, /^00:00:00\.5/);
    assert.match(a.c_ts_ntz, /^2021-01-28T22:09:37\.123456789$/);
    assert.equal(isoMs(a.c_ts_ltz), 1611871777000);
    assert.match(a.c_ts_ltz, /Z$/, 'TIMESTAMP_LTZ is given in UTC');
    // TIMESTAMP_TZ keeps its offset: the same instant, shown in local time
    assert.match(a.c_ts_tz, /^2021-03-19T18:06:59(\.0+)?\+01:00$/);
    assert.equal(isoMs(a.c_ts_tz), 1616173619000);
    assert.match(b.c_ts_tz, /^2020-06-01T00:00:00(\.0+)?-05:30$/);
    assert.equal(isoMs(b.c_ts_tz), 1590989400000);
    // VARIANT/OBJECT/ARRAY are parsed JSON; BINARY is hex
    assert.deepEqual(a.c_variant, { a: [1, 2] });
    assert.deepEqual(a.c_object, { k: 'v' });
    assert.deepEqual(a.c_array, [1, 'two', null]);
    assert.equal(b.c_variant, 42);
    assert.equal(a.c_binary.toUpperCase(), 'DEADBEEF');
    // NULL is null in every type
    assert.equal(c.id, 3);
    for (const [k, v] of Object.entries(c)) if (k !== 'id') assert.equal(v, null, `${k} of the NULL row`);
});

test('execute_query: table dates come back as the ISO dates stored', async () => {
    // The emulator sends DATE as days since 1970; CAST(... AS TEXT) is an
    // expression, so it arrives as the stored text: both must agree.
    const { sc } = await ok('execute_query', {
        query: 'SELECT order_id, order_date, CAST(order_date AS TEXT) AS d_text, total_amount FROM ORDERS ORDER BY order_id',
        limit: 5,
    });
    assert.equal(sc.row_count, 5);
    for (const [id, date, text, amount] of sc.rows) {
        assert.ok(Number.isInteger(id), `order_id ${id} is a JSON integer`);
        assert.match(date, /^\d{4}-\d\d-\d\d$/);
        assert.equal(date, text.slice(0, 10));
        assert.equal(typeof amount, 'number');
    }
});

// ---- 2. a result over several partitions -------------------------------------

test('limit 350 over 100-row partitions fetches partitions 1, 2 and 3 and no more', async () => {
    await emu.reset();
    const { sc } = await ok('execute_query', { query: 'SELECT order_id FROM ORDERS ORDER BY order_id', limit: 350 });
    assert.equal(sc.row_count, 350);
    assert.equal(sc.truncated, true);
    assert.equal(sc.truncated_by, 'row limit');
    const ids = sc.rows.map((r) => r[0]);
    assert.ok(ids.every(Number.isInteger), 'ids are integers');
    for (let i = 1; i < ids.length; i++) assert.ok(ids[i] > ids[i - 1], `ids ascend at ${i} (partition joins)`);
    const st = await emu.stats();
    const [req] = requestsWhere(st);
    assert.equal(Object.keys(st.requests).length, 1, `one statement: ${JSON.stringify(st.requests)}`);
    const handle = req[1].handles[0];
    assert.deepEqual(
        st.partitions.map((p) => [p.handle, p.partition]),
        [1, 2, 3].map((n) => [handle, n]),
        'exactly the partitions needed, each once, in order',
    );
    assert.ok(st.partitions.every((p) => p.gzip), 'partitions are fetched gzip-compressed');
    assert.equal(st.partitions_served, 3);

    // The same rows computed by the engine in one partition: count and sum agree.
    const check = await ok('execute_query', {
        query: 'SELECT count(*), sum(order_id), max(order_id) FROM (SELECT order_id FROM ORDERS ORDER BY order_id LIMIT 350)',
    });
    assert.deepEqual(check.sc.rows[0], [350, ids.reduce((s, x) => s + x, 0), ids[349]]);
});

test('limits on partition boundaries fetch nothing beyond them', async () => {
    await emu.reset();
    const hundred = await ok('execute_query', { query: 'SELECT order_id FROM ORDERS', limit: 100 });
    assert.equal(hundred.sc.row_count, 100);
    assert.equal(hundred.sc.truncated, true);
    let st = await emu.stats();
    assert.deepEqual(st.partitions, [], 'the inline partition 0 is enough for 100 rows');
    await emu.reset();
    const three = await ok('execute_query', { query: 'SELECT order_id FROM ORDERS', limit: 300 });
    assert.equal(three.sc.row_count, 300);
    st = await emu.stats();
    assert.deepEqual(st.partitions.map((p) => p.partition), [1, 2]);
});

// ---- 7. one statement per call ---------------------------------------------------

test('SELECT 1; SELECT 2 is refused before it reaches Snowflake', async () => {
    await emu.reset();
    const text = await callErr(srv.client, 'execute_query', { query: 'SELECT 1; SELECT 2' });
    assert.match(text, /^Refused: /);
    assert.equal(await submissions(), 0, 'nothing was sent to the emulator');
});

test('every statement is sent with MULTI_STATEMENT_COUNT=1, which makes the engine refuse two', async () => {
    // Catalog statements and a query, so this test does not depend on the others.
    await ok('list_tables', { database: 'FINANCE' });
    await ok('describe_table', { database: 'SALES', table_name: 'CUSTOMERS' });
    await ok('execute_query', { query: 'SELECT count(*) FROM CUSTOMERS' });
    const posts = proxy.records.filter((r) => r.method === 'POST' && r.path.startsWith('/api/v2/statements?'));
    assert.ok(posts.length >= 3, `the proxy saw the statements (${posts.length})`);
    for (const p of posts) {
        const body = JSON.parse(p.body);
        const params = Object.fromEntries(Object.entries(body.parameters ?? {}).map(([k, v]) => [k.toUpperCase(), v]));
        assert.equal(String(params.MULTI_STATEMENT_COUNT), '1', `MULTI_STATEMENT_COUNT=1 in ${p.body}`);
    }
    // Replay one of the server's own requests with two statements: the
    // parameters it sends make the engine refuse them.
    const sent = posts.find((p) => JSON.parse(p.body).statement.startsWith('SELECT count(*)'));
    assert.ok(sent, 'a SELECT the server sent');
    const body = JSON.parse(sent.body);
    body.statement = 'SELECT 1; SELECT 2';
    await emu.reset();
    const r = await httpsRequest(emu.port, emu.ca, 'POST', '/api/v2/statements?requestId=3e0b8c1a-0000-4000-8000-000000000001', {
        headers: {
            authorization: sent.headers.authorization,
            'x-snowflake-authorization-token-type': sent.headers['x-snowflake-authorization-token-type'],
            'content-type': 'application/json',
            accept: 'application/json',
        },
        body: JSON.stringify(body),
    });
    assert.equal(r.status, 422, r.body);
    assert.equal(JSON.parse(r.body).code, '000008');
    const st = await emu.stats();
    const one = oneRequest(st, () => true, 'the replay');
    assert.equal(one.executions, 0, 'nothing ran');
});
