// The protocol edges: raw JSON-RPC over a child's stdin/stdout (framing
// errors, limits, shutdown), and through the SDK client (errors, argument
// validation, cancellation, time limits, logging, progress).
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';

import { McpError, ErrorCode, EmptyResultSchema, LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';

import {
    SLOW_SQL,
    SLOWDOWN,
    tempDir,
    startClient,
    startRaw,
    runCli,
    checkJsonRpcLine,
    assertNoSanitizerReport,
    call,
    callOk,
    callErr,
    withTimeout,
    sleep,
} from './lib.mjs';

const cacheDir = tempDir();

before(async () => {
    // Generate the demo warehouse once, so no test pays for it in its timings.
    const r = await runCli(['check'], { cacheDir });
    assert.equal(r.code, 0, r.stderr);
});

/** Runs fn with a raw server; always kills it, then checks every stdout line. */
async function withRaw(opts, fn) {
    const raw = startRaw({ cacheDir, ...opts });
    try {
        await fn(raw);
    } finally {
        await raw.kill();
    }
    for (const line of raw.lines) checkJsonRpcLine(line);
    assert.equal(raw.partial(), '', 'stdout ends with a complete line');
    assertNoSanitizerReport(raw.stderr());
    return raw;
}

describe('raw JSON-RPC over stdio', () => {
    test('malformed JSON gets -32700 with id null, and the server keeps serving', async () => {
        await withRaw({}, async (raw) => {
            await raw.handshake();
            const from = raw.lines.length;
            raw.write('{"jsonrpc":"2.0","id":1,"method":"ping"\n');
            const err = await raw.waitFor((m) => 'error' in m, 5000, 'parse error', from);
            assert.equal(err.error.code, -32700);
            assert.equal(err.id, null);
            raw.write('this is not json at all\n');
            const err2 = await raw.waitFor((m) => 'error' in m, 5000, 'second parse error', from + 1);
            assert.equal(err2.error.code, -32700);
            const id = raw.request('ping');
            const pong = await raw.response(id);
            assert.deepEqual(pong.result, {});
        });
    });

    test('an error quoting long non-ASCII text is still answered, as valid UTF-8', async () => {
        // The engine's message is cut to a bounded size; the cut must fall
        // between characters, or the answer could not be encoded at all.
        await withRaw({}, async (raw) => {
            await raw.handshake();
            const name = '日本'.repeat(400);
            const id = raw.request('tools/call', { name: 'execute_query', arguments: { query: `SELECT * FROM ${name}` } });
            const r = await raw.response(id);
            assert.equal(r.result.isError, true);
            assert.match(r.result.content[0].text, /no such table/);
            assert.doesNotMatch(r.result.content[0].text, /\uFFFD/, 'cut between characters, not inside one');
        });
    });

    test('an unknown method gets -32601 with its id', async () => {
        await withRaw({}, async (raw) => {
            await raw.handshake();
            const id = raw.request('resources/teleport', {});
            const r = await raw.response(id);
            assert.equal(r.error.code, -32601);
            assert.match(r.error.message, /resources\/teleport/);
            // A string id comes back as the same string.
            raw.send({ jsonrpc: '2.0', id: 'abc', method: 'no/such' });
            const r2 = await raw.response('abc');
            assert.equal(r2.error.code, -32601);
        });
    });

    test('a batch gets -32600, and other invalid requests are refused too', async () => {
        await withRaw({}, async (raw) => {
            await raw.handshake();
            let from = raw.lines.length;
            raw.write('[{"jsonrpc":"2.0","id":11,"method":"ping"},{"jsonrpc":"2.0","id":12,"method":"ping"}]\n');
            const b = await raw.waitFor((m) => 'error' in m, 5000, 'batch error', from);
            assert.equal(b.error.code, -32600);
            assert.equal(b.id, null);
            from = raw.lines.length;
            raw.write('{"jsonrpc":"1.0","id":13,"method":"ping"}\n');
            const v = await raw.waitFor((m) => 'error' in m, 5000, 'version error', from);
            assert.equal(v.error.code, -32600);
            const id = raw.request('ping');
            assert.deepEqual((await raw.response(id)).result, {});
            // Neither request inside the batch was answered on its own.
            assert.ok(!raw.lines.some((l) => [11, 12, 13].includes(JSON.parse(l).id)));
        });
    });

    test('a message over SNOWFLAKE_MCP_MAX_MESSAGE_BYTES gets -32600 id null; the server keeps serving', async () => {
        await withRaw({ env: { SNOWFLAKE_MCP_MAX_MESSAGE_BYTES: '2048' } }, async (raw) => {
            await raw.handshake();
            const from = raw.lines.length;
            const big = JSON.stringify({ jsonrpc: '2.0', id: 77, method: 'ping', params: { pad: 'x'.repeat(5000) } });
            assert.ok(big.length > 5000);
            raw.write(big + '\n');
            const e = await raw.waitFor((m) => 'error' in m, 5000, 'oversize error', from);
            assert.equal(e.error.code, -32600);
            assert.equal(e.id, null);
            assert.match(e.error.message, /2048/);
            // A message under the limit still works.
            raw.send({ jsonrpc: '2.0', id: 78, method: 'ping', params: { pad: 'y'.repeat(1500) } });
            assert.deepEqual((await raw.response(78)).result, {});
            assert.ok(!raw.lines.some((l) => JSON.parse(l).id === 77), 'the oversized request got no answer of its own');
        });
    });

    test('a duplicate id of a request in progress is refused', async () => {
        await withRaw({ env: { SNOWFLAKE_MCP_QUERY_TIMEOUT: '30' } }, async (raw) => {
            await raw.handshake();
            const slow = { jsonrpc: '2.0', id: 'dup', method: 'tools/call', params: { name: 'execute_query', arguments: { query: SLOW_SQL } } };
            raw.send(slow);
            await sleep(200);
            raw.send({ ...slow, params: { name: 'execute_query', arguments: { query: 'SELECT 1' } } });
            const r = await raw.response('dup');
            assert.equal(r.error?.code, -32600, JSON.stringify(r));
            raw.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'dup', reason: 'test' } });
        });
    });

    test('notifications/cancelled stops the query: no answer for it, the connection is freed', async () => {
        const env = { SNOWFLAKE_POOL_MAX_SIZE: '1', SNOWFLAKE_POOL_MIN_SIZE: '1', SNOWFLAKE_MCP_QUERY_TIMEOUT: '120' };
        await withRaw({ env }, async (raw) => {
            await raw.handshake();
            raw.send({ jsonrpc: '2.0', id: 500, method: 'tools/call', params: { name: 'execute_query', arguments: { query: SLOW_SQL } } });
            await sleep(300);
            // One connection, held by the slow query: this one has to wait.
            raw.send({ jsonrpc: '2.0', id: 501, method: 'tools/call', params: { name: 'execute_query', arguments: { query: 'SELECT 41 + 1 AS answer' } } });
            await sleep(700);
            assert.ok(!raw.lines.some((l) => JSON.parse(l).id === 501), 'the second query waits for the only connection');
            const t0 = performance.now();
            raw.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 500, reason: 'user gave up' } });
            const r = await raw.response(501, 10000 * SLOWDOWN);
            const ms = performance.now() - t0;
            assert.deepEqual(r.result.structuredContent.rows, [[42]]);
            assert.ok(ms < 5000 * SLOWDOWN, `the waiting query ran ${ms.toFixed(0)} ms after the cancel`);
            console.log(`waiting query answered ${ms.toFixed(0)} ms after the cancel (1-connection pool)`);
            await sleep(300);
            assert.ok(!raw.lines.some((l) => JSON.parse(l).id === 500), 'the cancelled request is not answered');
            // Cancelling an unknown or finished request is harmless.
            raw.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 12345 } });
            const id = raw.request('ping');
            assert.deepEqual((await raw.response(id)).result, {});
        });
    });

    test('stdin EOF: a request sent just before is answered, then exit 0 promptly', async () => {
        const raw = await withRaw({}, async (r) => {
            await r.handshake();
            const id = r.request('tools/call', { name: 'execute_query', arguments: { query: 'SELECT count(*) AS n FROM ORDERS' } });
            r.child.stdin.end();
            const ex = await r.waitExit(5000 * SLOWDOWN);
            assert.ok(ex, 'exited within 5 s of stdin EOF');
            assert.equal(ex.code, 0, `exit code (stderr: ${r.stderr()})`);
            const resp = r.lines.map((l) => JSON.parse(l)).find((m) => m.id === id);
            assert.ok(resp, `the last request was answered before exit: ${r.lines.join('\n')}`);
            assert.ok(resp.result.structuredContent.rows[0][0] >= 45000);
            console.log(`exit after stdin EOF: ${ex.ms.toFixed(0)} ms`);
        });
        assert.equal(raw.child.exitCode, 0);
    });

    test('SIGTERM during a slow query exits promptly with code 0', async () => {
        await withRaw({ env: { SNOWFLAKE_MCP_QUERY_TIMEOUT: '120' } }, async (raw) => {
            await raw.handshake();
            raw.request('tools/call', { name: 'execute_query', arguments: { query: SLOW_SQL } });
            await sleep(500);
            assert.equal(raw.child.exitCode, null, 'still running the slow query');
            raw.child.kill('SIGTERM');
            const ex = await raw.waitExit(5000 * SLOWDOWN);
            assert.ok(ex, 'exited within 5 s of SIGTERM');
            assert.equal(ex.signal, null, 'exited by itself, not killed by the signal');
            assert.equal(ex.code, 0);
            console.log(`exit after SIGTERM during a slow query: ${ex.ms.toFixed(0)} ms`);
        });
    });

    test('every stdout line is JSON-RPC 2.0 across a busy session', async () => {
        const raw = await withRaw({}, async (r) => {
            const init = await r.handshake();
            assert.equal(init.serverInfo.name, 'snowflake-mcp');
            assert.ok(init.capabilities.tools);
            const ids = [
                r.request('tools/list'),
                r.request('logging/setLevel', { level: 'debug' }),
                r.request('tools/call', { name: 'list_databases', arguments: {}, _meta: { progressToken: 'p1' } }),
                r.request('tools/call', { name: 'execute_query', arguments: { query: 'DELETE FROM ORDERS' } }),
                r.request('tools/call', { name: 'execute_query', arguments: { query: "SELECT 'a\nb' AS nl, '\u0001' AS ctl" } }),
                r.request('tools/call', { name: 'nope', arguments: {} }),
                r.request('ping'),
            ];
            for (const id of ids) await r.response(id);
        });
        const msgs = raw.lines.map((l) => JSON.parse(l));
        assert.ok(msgs.some((m) => m.method === 'notifications/progress' && m.params.progressToken === 'p1'));
        assert.ok(msgs.length >= 8);
    });
});

describe('through the SDK client', () => {
    let srv;
    before(async () => {
        srv = await startClient({
            cacheDir,
            env: { SNOWFLAKE_POOL_MAX_SIZE: '1', SNOWFLAKE_POOL_MIN_SIZE: '1', SNOWFLAKE_MCP_QUERY_TIMEOUT: '120' },
        });
        await withTimeout(srv.client.listTools(), 30000, 'tools/list');
    });
    after(async () => {
        await srv?.close();
    });

    test('an unknown tool is a JSON-RPC error -32602', async () => {
        await assert.rejects(call(srv.client, 'no_such_tool', {}), (e) => {
            assert.ok(e instanceof McpError, `McpError: ${e}`);
            assert.equal(e.code, ErrorCode.InvalidParams);
            assert.match(e.message, /no_such_tool/);
            return true;
        });
    });

    const BAD = [
        ['limit 0', 'execute_query', { query: 'SELECT 1', limit: 0 }, /limit/],
        ['limit "ten"', 'execute_query', { query: 'SELECT 1', limit: 'ten' }, /limit/],
        ['limit 10001', 'execute_query', { query: 'SELECT 1', limit: 10001 }, /limit/],
        ['limit 2.5', 'query_view', { database: 'SALES', view_name: 'TOP_PRODUCTS', limit: 2.5 }, /limit/],
        ['an unknown argument name', 'execute_query', { query: 'SELECT 1', querry: 'x' }, /querry/],
        ['a missing query', 'execute_query', {}, /query/],
        ['an empty query', 'execute_query', { query: '' }, /query/],
        ['a database that is not a string', 'list_tables', { database: 42 }, /database/],
        ['a missing table_name', 'describe_table', { database: 'SALES' }, /table_name/],
    ];
    for (const [what, tool, args, names] of BAD) {
        test(`bad arguments are a tool error: ${what}`, async () => {
            const text = await callErr(srv.client, tool, args);
            assert.match(text, /^Invalid arguments: /);
            assert.match(text, names);
        });
    }

    test('cancelling with an AbortSignal frees the connection at once', async () => {
        const abort = new AbortController();
        const slow = call(srv.client, 'execute_query', { query: SLOW_SQL }, { signal: abort.signal, timeout: 120000 });
        await sleep(300);
        // One connection in the pool, held by the slow query: this call waits for it.
        let waitingDone = false;
        const waiting = callOk(srv.client, 'execute_query', { query: 'SELECT 6 * 7 AS answer' }, { timeout: 10000 * SLOWDOWN }).finally(
            () => {
                waitingDone = true;
            },
        );
        await sleep(700);
        assert.equal(waitingDone, false, 'the second call waits for the only connection');
        const t0 = performance.now();
        abort.abort('user pressed stop');
        await assert.rejects(slow, (e) => {
            assert.match(String(e.message ?? e), /user pressed stop/);
            return true;
        });
        const r = await waiting;
        const ms = performance.now() - t0;
        assert.deepEqual(r.structuredContent.rows, [[42]]);
        assert.ok(ms < 5000 * SLOWDOWN, `the waiting call took ${ms.toFixed(0)} ms after the abort`);
        console.log(`SDK abort -> waiting call on a 1-connection pool answered after ${ms.toFixed(0)} ms`);
        await sleep(300);
        const stray = srv.errors.filter((e) => /unknown message ID/i.test(String(e.message)));
        assert.deepEqual(stray.map(String), [], 'no response was sent for the cancelled request');
    });

    test('a client-side request timeout cancels the query on the server too', async () => {
        const t0 = performance.now();
        await assert.rejects(call(srv.client, 'execute_query', { query: SLOW_SQL }, { timeout: 500 }), (e) => {
            assert.ok(e instanceof McpError);
            assert.equal(e.code, ErrorCode.RequestTimeout);
            return true;
        });
        const r = await callOk(srv.client, 'list_databases', {}, { timeout: 10000 * SLOWDOWN });
        const ms = performance.now() - t0;
        assert.ok(r.structuredContent.rows.some((row) => row[0] === 'SALES'));
        assert.ok(ms < 5000 * SLOWDOWN, `timeout + next call took ${ms.toFixed(0)} ms`);
    });

    test('logging/setLevel resolves, sends log messages, and rejects a bad level', async () => {
        const logs = [];
        srv.client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
            logs.push(n.params);
        });
        await withTimeout(srv.client.setLoggingLevel('debug'), 5000, 'setLoggingLevel');
        await callOk(srv.client, 'execute_query', { query: 'SELECT 1' });
        await sleep(200);
        assert.ok(logs.length >= 1, 'at least one notifications/message at debug level');
        for (const l of logs) {
            assert.ok(['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'].includes(l.level));
        }
        await withTimeout(srv.client.setLoggingLevel('error'), 5000, 'setLoggingLevel error');
        const seen = logs.length;
        await callOk(srv.client, 'execute_query', { query: 'SELECT 2' });
        await sleep(200);
        assert.equal(logs.length, seen, 'no debug messages once the level is error');
        await assert.rejects(
            withTimeout(srv.client.request({ method: 'logging/setLevel', params: { level: 'loud' } }, EmptyResultSchema), 5000, 'bad level'),
            (e) => e instanceof McpError && e.code === ErrorCode.InvalidParams,
        );
    });

    test('progress notifications are sent for a call with a progress token', async () => {
        // Counted on the transport, not in onprogress: when the notification
        // arrives in the same read as the response (the query is short, and a
        // loaded machine can stall node), SDK 1.32.2 drops the progress
        // handler before dispatching the notification to it.
        const seen = [];
        const prev = srv.transport.onmessage;
        srv.transport.onmessage = (m, extra) => {
            if (m.method === 'notifications/progress') seen.push(m.params);
            prev?.(m, extra);
        };
        let r;
        try {
            r = await callOk(
                srv.client,
                'execute_query',
                { query: 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 500000) SELECT count(*) FROM c' },
                { onprogress: () => {} },
            );
        } finally {
            srv.transport.onmessage = prev;
        }
        assert.deepEqual(r.structuredContent.rows, [[500000]]);
        assert.ok(seen.length >= 1, 'at least one progress notification');
        const token = seen[0].progressToken;
        assert.ok(token !== undefined, 'it names the progress token');
        for (const p of seen) {
            assert.equal(p.progressToken, token);
            assert.equal(typeof p.progress, 'number');
        }
        for (let i = 1; i < seen.length; i++) assert.ok(seen[i].progress > seen[i - 1].progress, 'progress grows');
    });

    test('a ping still works at the end', async () => {
        const t0 = performance.now();
        await withTimeout(srv.client.ping(), 5000, 'ping');
        assert.ok(performance.now() - t0 < 1000 * SLOWDOWN);
    });
});

describe('query time limit', () => {
    let srv;
    before(async () => {
        srv = await startClient({ cacheDir, env: { SNOWFLAKE_MCP_QUERY_TIMEOUT: '1' } });
    });
    after(async () => {
        await srv?.close();
    });

    test('SNOWFLAKE_MCP_QUERY_TIMEOUT=1 stops the slow query with "Timed out"', async () => {
        const t0 = performance.now();
        const text = await callErr(srv.client, 'execute_query', { query: SLOW_SQL }, { timeout: 30000 });
        const ms = performance.now() - t0;
        assert.match(text, /^Timed out/);
        assert.ok(ms >= 900, `it ran for the time limit first (${ms.toFixed(0)} ms)`);
        assert.ok(ms < 10000 * SLOWDOWN, `stopped soon after the limit (${ms.toFixed(0)} ms)`);
        console.log(`1 s query timeout answered after ${ms.toFixed(0)} ms`);
        const r = await callOk(srv.client, 'execute_query', { query: 'SELECT 1 AS one' });
        assert.deepEqual(r.structuredContent.rows, [[1]]);
    });
});
