// The read-only guard seen from a client: statements that could change data
// or settings are refused with a message naming what was refused, tricks with
// comments and strings do not get through, and nothing changes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { tempDir, startClient, callOk, callErr, withTimeout, column } from './lib.mjs';

let srv;
let ordersBefore;
let tablesBefore;

async function ordersCount() {
    const r = await callOk(srv.client, 'execute_query', { query: 'SELECT count(*) FROM ORDERS' });
    return r.structuredContent.rows[0][0];
}

async function tableNames() {
    const r = await callOk(srv.client, 'list_tables', { database: 'SALES' });
    return column(r.structuredContent, 'name').sort();
}

before(async () => {
    srv = await startClient({ cacheDir: tempDir() });
    await withTimeout(srv.client.listTools(), 30000, 'tools/list');
    ordersBefore = await ordersCount();
    tablesBefore = await tableNames();
    assert.ok(ordersBefore >= 45000, `ORDERS has ${ordersBefore} rows`);
});

after(async () => {
    await srv?.close();
});

// [statement, the keyword the refusal must name (a regex alternative)]
const REFUSED = [
    ['DROP TABLE ORDERS', 'DROP'],
    ["INSERT INTO ORDERS (order_id, customer_id, order_date, status, channel, total_amount) VALUES (999999, 1, '2024-01-01', 'x', 'y', 1)", 'INSERT'],
    ["UPDATE ORDERS SET status = 'hacked'", 'UPDATE'],
    ['DELETE FROM ORDERS', 'DELETE'],
    ['delete from orders where 1=1', 'DELETE'],
    ["ATTACH DATABASE '/tmp/smcp-e2e-evil.db' AS evil", 'ATTACH'],
    ['PRAGMA writable_schema=1', 'PRAGMA'],
    ['SELECT 1; DELETE FROM ORDERS', 'DELETE'],
    ['SELECT 1 /* ; */; DROP TABLE ORDERS', 'DROP'],
    ["SELECT ';' ; DROP TABLE ORDERS", 'DROP'],
    ['SELECT 1 -- \n; DROP TABLE ORDERS', 'DROP'],
    ['/* DROP */ DELETE FROM ORDERS', 'DELETE'],
    ['CREATE TABLE STOLEN AS SELECT * FROM ORDERS', 'CREATE'],
    ['WITH d AS (DELETE FROM ORDERS RETURNING *) SELECT * FROM d', 'DELETE'],
    ['REPLACE INTO ORDERS SELECT * FROM ORDERS', 'REPLACE'],
    ['VACUUM', 'VACUUM'],
    ['BEGIN; DELETE FROM ORDERS; COMMIT', 'BEGIN|DELETE'],
];

for (const [sql, keyword] of REFUSED) {
    test(`refused: ${JSON.stringify(sql)}`, async () => {
        const text = await callErr(srv.client, 'execute_query', { query: sql });
        assert.match(text, /^Refused: /, `refusal text: ${text}`);
        assert.match(text, new RegExp(`\\b(${keyword})\\b`, 'i'), `the refusal names ${keyword}: ${text}`);
    });
}

test('a refusal says "Refused" once', async () => {
    for (const sql of ['DROP TABLE ORDERS', 'SELECT 1; DELETE FROM ORDERS', 'WITH d AS (DELETE FROM ORDERS RETURNING *) SELECT * FROM d']) {
        const text = await callErr(srv.client, 'execute_query', { query: sql });
        assert.doesNotMatch(text, /^Refused: refused\b/i, `the prefix is said once: ${text}`);
    }
    },
);

test('refused statements are refused whatever database is named', async () => {
    const text = await callErr(srv.client, 'execute_query', { query: 'DROP TABLE CAMPAIGNS', database: 'MARKETING' });
    assert.match(text, /^Refused: .*\bDROP\b/i);
});

// Keywords inside strings, comments and identifiers are not statements.
const ALLOWED = [
    ["SELECT 'DROP TABLE ORDERS; DELETE FROM ORDERS' AS s", [['DROP TABLE ORDERS; DELETE FROM ORDERS']]],
    ['SELECT 1 AS one -- ; DELETE FROM ORDERS', [[1]]],
    ['SELECT 2 AS two /* ; DROP TABLE ORDERS */', [[2]]],
    ['SELECT 3 AS three;', [[3]]],
    ['  \n\tSELECT 4 AS four  ;  \n', [[4]]],
    ['WITH t AS (SELECT 5 AS x) SELECT x FROM t', [[5]]],
    ['select "ORDER_ID" AS deleted FROM ORDERS ORDER BY 1 LIMIT 1', [[1]]],
];

for (const [sql, rows] of ALLOWED) {
    test(`allowed: ${JSON.stringify(sql)}`, async () => {
        const r = await callOk(srv.client, 'execute_query', { query: sql });
        assert.deepEqual(r.structuredContent.rows, rows);
    });
}

test('EXPLAIN of a read is allowed', async () => {
    const r = await callOk(srv.client, 'execute_query', { query: 'EXPLAIN QUERY PLAN SELECT * FROM ORDERS WHERE ORDER_ID = 1' });
    assert.ok(r.structuredContent.row_count >= 1);
});

test('after all refusals nothing changed', async () => {
    assert.equal(await ordersCount(), ordersBefore, 'ORDERS has the same number of rows');
    assert.deepEqual(await tableNames(), tablesBefore, 'the same tables exist');
    const status = await callOk(srv.client, 'execute_query', {
        query: "SELECT count(*) FROM ORDERS WHERE status = 'hacked' OR order_id = 999999",
    });
    assert.deepEqual(status.structuredContent.rows, [[0]]);
    const dbs = await callOk(srv.client, 'list_databases');
    assert.ok(!column(dbs.structuredContent, 'name').some((n) => /evil/i.test(n)), 'nothing was attached');
});
