// Every tool through the official SDK client against the demo warehouse,
// and against a user's own SQLite file served with --dsn.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';

import {
    TOOL_NAMES,
    tempDir,
    startClient,
    callOk,
    callErr,
    textOf,
    checkStructured,
    column,
    colIndex,
    summaryOf,
    withTimeout,
} from './lib.mjs';

let srv;
let schemas; // tool name -> outputSchema, as tools/list published it
let tools;

before(async () => {
    srv = await startClient({ cacheDir: tempDir() });
    const listed = await withTimeout(srv.client.listTools(), 30000, 'tools/list');
    tools = listed.tools;
    schemas = Object.fromEntries(tools.map((t) => [t.name, t.outputSchema]));
});

after(async () => {
    await srv?.close();
});

/** Calls a tool that must succeed and checks its result's shape. */
async function ok(name, args) {
    const r = await callOk(srv.client, name, args);
    const sc = checkStructured(r, schemas[name]);
    return { r, sc, text: textOf(r) };
}

test('tools/list shows the 8 tools with schemas and readOnlyHint', () => {
    assert.deepEqual(tools.map((t) => t.name).sort(), [...TOOL_NAMES].sort());
    for (const t of tools) {
        assert.equal(t.inputSchema.type, 'object', `${t.name} inputSchema`);
        assert.equal(typeof t.description, 'string');
        assert.ok(t.description.length > 10, `${t.name} has a description`);
        assert.equal(t.outputSchema?.type, 'object', `${t.name} outputSchema`);
        for (const k of ['columns', 'rows', 'row_count', 'truncated', 'elapsed_ms']) {
            assert.ok(t.outputSchema.required.includes(k), `${t.name} outputSchema requires ${k}`);
        }
        assert.equal(t.annotations?.readOnlyHint, true, `${t.name} readOnlyHint`);
        assert.equal(t.annotations?.destructiveHint, false, `${t.name} destructiveHint`);
    }
    const by = Object.fromEntries(tools.map((t) => [t.name, t.inputSchema]));
    assert.deepEqual(Object.keys(by.list_databases.properties ?? {}), []);
    assert.deepEqual(by.list_schemas.required, ['database']);
    assert.deepEqual([...by.describe_table.required].sort(), ['database', 'table_name']);
    assert.deepEqual([...by.describe_view.required].sort(), ['database', 'view_name']);
    assert.deepEqual([...by.query_view.required].sort(), ['database', 'view_name']);
    assert.deepEqual(by.execute_query.required, ['query']);
    assert.deepEqual(
        Object.keys(by.execute_query.properties).sort(),
        ['database', 'limit', 'query', 'schema'],
    );
    const limit = by.execute_query.properties.limit;
    assert.equal(limit.type, 'integer');
    assert.equal(limit.minimum, 1);
    assert.equal(limit.maximum, 10000);
    assert.equal(limit.default, 100);
    assert.equal(by.query_view.properties.limit.default, 10);
});

test('list_databases shows SALES, MARKETING and FINANCE', async () => {
    const { sc, text } = await ok('list_databases', {});
    const names = column(sc, 'name');
    for (const db of ['SALES', 'MARKETING', 'FINANCE']) {
        assert.ok(names.includes(db), `${db} in ${names}`);
        assert.match(text, new RegExp(`\\| ${db} \\|`));
    }
    assert.equal(summaryOf(text).split(' ')[0], String(sc.row_count));
    assert.equal(sc.truncated, false);
});

test('list_schemas SALES shows PUBLIC', async () => {
    const { sc, text } = await ok('list_schemas', { database: 'SALES' });
    assert.deepEqual(column(sc, 'name'), ['PUBLIC']);
    assert.deepEqual(column(sc, 'database'), ['SALES']);
    assert.match(text, /PUBLIC/);
});

test('list_tables SALES lists its tables and no views', async () => {
    const { sc, text } = await ok('list_tables', { database: 'SALES' });
    const names = column(sc, 'name');
    for (const t of ['CUSTOMERS', 'ORDERS', 'PRODUCTS', 'ORDER_ITEMS', 'REGIONS']) {
        assert.ok(names.includes(t), `${t} in ${names}`);
    }
    assert.ok(!names.includes('CUSTOMER_ANALYTICS'), 'views are not tables');
    assert.match(text, /\| ORDERS \|/);
    // The explicit default schema and a lower-case database name give the same list.
    const again = await ok('list_tables', { database: 'sales', schema: 'PUBLIC' });
    assert.deepEqual(column(again.sc, 'name'), names);
});

test('list_tables FINANCE and MARKETING', async () => {
    const fin = await ok('list_tables', { database: 'FINANCE' });
    const finNames = column(fin.sc, 'name');
    for (const t of ['ACCOUNTS', 'GL_ENTRIES', 'BUDGETS', 'INVOICES']) assert.ok(finNames.includes(t), `${t} in ${finNames}`);
    const mkt = await ok('list_tables', { database: 'MARKETING' });
    assert.ok(column(mkt.sc, 'name').includes('CAMPAIGNS'));
    assert.ok(!column(mkt.sc, 'name').includes('ORDERS'), 'each database has its own tables');
    assert.ok(column(mkt.sc, 'database').every((d) => d === 'MARKETING'));
});

test('list_views shows the curated views', async () => {
    const { sc } = await ok('list_views', { database: 'SALES' });
    const names = column(sc, 'name');
    for (const v of ['CUSTOMER_ANALYTICS', 'REVENUE_BY_REGION', 'TOP_PRODUCTS']) {
        assert.ok(names.includes(v), `${v} in ${names}`);
    }
    assert.ok(!names.includes('ORDERS'), 'tables are not views');
    const mkt = await ok('list_views', { database: 'MARKETING', schema: 'PUBLIC' });
    assert.ok(column(mkt.sc, 'name').includes('CAMPAIGN_RESULTS'), JSON.stringify(mkt.sc.rows));
});

test('describe_table SALES ORDERS shows its columns', async () => {
    const { sc, text } = await ok('describe_table', { database: 'SALES', table_name: 'ORDERS' });
    const cols = column(sc, 'name').map((n) => n.toUpperCase());
    assert.deepEqual(cols, ['ORDER_ID', 'CUSTOMER_ID', 'ORDER_DATE', 'STATUS', 'CHANNEL', 'TOTAL_AMOUNT']);
    assert.match(text, /order_id/i);
    assert.match(summaryOf(text), /^6 rows\./);
});

test('describe_view shows columns and a definition', async () => {
    const { sc, text } = await ok('describe_view', { database: 'SALES', view_name: 'CUSTOMER_ANALYTICS' });
    assert.equal(typeof sc.definition, 'string');
    assert.match(sc.definition, /SELECT/i);
    assert.match(sc.definition, /CUSTOMER/i);
    assert.ok(sc.row_count >= 2, 'the view has several columns');
    assert.match(text, /Definition:/);
    assert.ok(text.includes(sc.definition.split('\n')[0]), 'the text shows the definition');
});

test('query_view limit 5 gives 5 rows and says it was truncated', async () => {
    const { sc, text } = await ok('query_view', { database: 'SALES', view_name: 'CUSTOMER_ANALYTICS', limit: 5 });
    assert.equal(sc.rows.length, 5);
    assert.equal(sc.row_count, 5);
    assert.equal(sc.truncated, true);
    assert.equal(sc.truncated_by, 'row limit');
    assert.match(summaryOf(text), /^5 rows shown \(row limit 5\); more rows exist/);
    // Header + separator + 5 rows of markdown.
    assert.equal(text.split('\n').filter((l) => l.startsWith('|')).length, 7);
});

test('query_view default limit is 10; a small view is not truncated', async () => {
    const big = await ok('query_view', { database: 'SALES', view_name: 'CUSTOMER_ANALYTICS' });
    assert.equal(big.sc.row_count, 10);
    assert.equal(big.sc.truncated, true);
    const regions = await ok('execute_query', { query: 'SELECT count(*) FROM REVENUE_BY_REGION' });
    const n = regions.sc.rows[0][0];
    assert.ok(Number.isInteger(n) && n > 0 && n < 1000, `REVENUE_BY_REGION has ${n} rows`);
    const all = await ok('query_view', { database: 'SALES', view_name: 'REVENUE_BY_REGION', limit: 1000 });
    assert.equal(all.sc.row_count, n);
    assert.equal(all.sc.truncated, false);
    assert.equal(all.sc.truncated_by, undefined);
    assert.match(summaryOf(all.text), new RegExp(`^${n} rows?\\.`));
});

test('execute_query count(*) of ORDERS is a typed integer near 50,000', async () => {
    const { sc, text } = await ok('execute_query', { query: 'SELECT count(*) AS n FROM ORDERS' });
    assert.equal(sc.columns.length, 1);
    assert.equal(sc.columns[0].name.toUpperCase(), 'N');
    const n = sc.rows[0][0];
    assert.equal(typeof n, 'number');
    assert.ok(Number.isInteger(n), `${n} is an integer`);
    assert.ok(n >= 45000 && n <= 55000, `${n} is near 50,000`);
    assert.match(text, new RegExp(`\\| ${n} \\|`));
    assert.match(summaryOf(text), /^1 row\./);
});

test('execute_query returns typed values and NULL', async () => {
    const { sc, text } = await ok('execute_query', {
        query: "SELECT NULL AS nada, 7 AS seven, 'x|y' AS s, 2.5 AS r, 'héllo' AS u",
    });
    assert.deepEqual(sc.rows, [[null, 7, 'x|y', 2.5, 'héllo']]);
    assert.deepEqual(sc.columns.map((c) => c.name.toLowerCase()), ['nada', 'seven', 's', 'r', 'u']);
    // NULL is spelled out; a pipe inside a cell is escaped so the table stays a table.
    assert.match(text, /\| NULL \| 7 \| x\\\|y \| 2\.5 \| héllo \|/);
});

test('execute_query honours limit, database and schema', async () => {
    const { sc, text } = await ok('execute_query', {
        query: 'SELECT ORDER_ID FROM ORDERS ORDER BY ORDER_ID',
        limit: 3,
    });
    assert.equal(sc.row_count, 3);
    assert.equal(sc.truncated, true);
    assert.equal(sc.truncated_by, 'row limit');
    assert.deepEqual(sc.rows.map((r) => typeof r[0]), ['number', 'number', 'number']);
    assert.ok(sc.rows[0][0] < sc.rows[1][0] && sc.rows[1][0] < sc.rows[2][0]);
    assert.match(summaryOf(text), /^3 rows shown \(row limit 3\)/);
    const mkt = await ok('execute_query', {
        query: 'SELECT count(*) FROM CAMPAIGNS',
        database: 'MARKETING',
        schema: 'PUBLIC',
    });
    assert.ok(mkt.sc.rows[0][0] > 0, 'CAMPAIGNS is found in MARKETING');
    // Every SQLite database has its own sqlite_master: which one answers shows
    // which database the statement ran in.
    const probe = "SELECT count(*) FROM sqlite_master WHERE name = 'CAMPAIGNS'";
    const inMkt = await ok('execute_query', { query: probe, database: 'MARKETING' });
    assert.deepEqual(inMkt.sc.rows, [[1]], 'database: MARKETING runs in MARKETING');
    const inSales = await ok('execute_query', { query: probe });
    assert.deepEqual(inSales.sc.rows, [[0]], 'without database the default (SALES) is used');
});

test('a missing table or view is reported as a tool error', async () => {
    const t = await callErr(srv.client, 'describe_table', { database: 'SALES', table_name: 'NO_SUCH_TABLE' });
    assert.match(t, /^Not found: /);
    assert.match(t, /NO_SUCH_TABLE/);
    const v = await callErr(srv.client, 'query_view', { database: 'SALES', view_name: 'NO_SUCH_VIEW' });
    assert.match(v, /NO_SUCH_VIEW/);
    const d = await callErr(srv.client, 'list_tables', { database: 'NO_SUCH_DB' });
    assert.match(d, /NO_SUCH_DB/);
    // A table is not a view.
    const tv = await callErr(srv.client, 'describe_view', { database: 'SALES', view_name: 'ORDERS' });
    assert.match(tv, /ORDERS/);
});

test('identifiers from arguments are quoted, never pasted', async () => {
    const text = await callErr(srv.client, 'query_view', {
        database: 'SALES',
        view_name: 'CUSTOMER_ANALYTICS; DROP TABLE ORDERS',
    });
    assert.match(text, /CUSTOMER_ANALYTICS; DROP TABLE ORDERS/);
    const { sc } = await ok('execute_query', { query: 'SELECT count(*) FROM ORDERS' });
    assert.ok(sc.rows[0][0] >= 45000, 'ORDERS is intact');
});

// ---- a user's own SQLite file ----------------------------------------------

const haveSqlite3 = spawnSync('sqlite3', ['-version']).status === 0;

test(
    '--dsn serves a user SQLite file, typed, read-only',
    { skip: haveSqlite3 ? false : 'the sqlite3 command line tool is not installed' },
    async () => {
        const dir = tempDir();
        const file = join(dir, 'my_data.db');
        const made = spawnSync('sqlite3', [file], {
            input: `
CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL, note TEXT);
INSERT INTO people VALUES (1, 'Ada', 9.5, NULL), (2, 'Linus', 7.25, 'kernel'), (3, 'Grace', NULL, 'cobol');
CREATE VIEW high_scores AS SELECT name, score FROM people WHERE score > 8;
`,
        });
        assert.equal(made.status, 0, made.stderr?.toString());
        const digest = () => createHash('sha256').update(readFileSync(file)).digest('hex');
        const before = digest();
        const user = await startClient({ cacheDir: dir, args: ['--dsn', `sqlite://${file}`] });
        try {
            const listed = await withTimeout(user.client.listTools(), 30000, 'tools/list');
            const schema = listed.tools.find((t) => t.name === 'execute_query').outputSchema;
            const dbs = await callOk(user.client, 'list_databases');
            assert.deepEqual(column(dbs.structuredContent, 'name'), ['MY_DATA']);

            const tables = await callOk(user.client, 'list_tables', { database: 'MY_DATA' });
            assert.deepEqual(column(tables.structuredContent, 'name'), ['people']);
            const views = await callOk(user.client, 'list_views', { database: 'MY_DATA' });
            assert.deepEqual(column(views.structuredContent, 'name'), ['high_scores']);

            const q = await callOk(user.client, 'execute_query', {
                query: 'SELECT id, name, score, note FROM people ORDER BY id',
            });
            const sc = checkStructured(q, schema);
            assert.deepEqual(sc.rows, [
                [1, 'Ada', 9.5, null],
                [2, 'Linus', 7.25, 'kernel'],
                [3, 'Grace', null, 'cobol'],
            ]);
            const text = textOf(q);
            assert.match(text, /\| 1 \| Ada \| 9\.5 \| NULL \|/);
            assert.match(text, /\| 3 \| Grace \| NULL \| cobol \|/);
            assert.equal(column(sc, 'name').length, 3);
            assert.ok(colIndex(sc, 'note') === 3);

            const desc = await callOk(user.client, 'describe_table', { database: 'MY_DATA', table_name: 'people' });
            assert.match(textOf(desc), /score/);
            const view = await callOk(user.client, 'query_view', { database: 'MY_DATA', view_name: 'high_scores' });
            assert.deepEqual(view.structuredContent.rows, [['Ada', 9.5]]);

            const refused = await callErr(user.client, 'execute_query', { query: 'DELETE FROM people' });
            assert.match(refused, /^Refused: /);
        } finally {
            await user.close();
        }
        assert.equal(digest(), before, 'the user file is unchanged byte for byte');
    },
);
