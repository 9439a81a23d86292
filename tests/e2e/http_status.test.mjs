// The Streamable HTTP transport with plain HTTP requests (node:http, so
// that Host and Origin can be spoofed): every status code it answers, API
// keys, DNS-rebinding checks, size limits, session end, busy answers, idle
// expiry, and SIGTERM with calls in flight (finishing within the grace
// period, and cancelled with an answer past it).
import test from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';

import { BIN, SLOWDOWN, SLOW_SQL } from './lib.mjs';
import { startDaemon, runProgram, tempDir, parseMetrics } from '../http/daemon.mjs';

const ACCEPT = 'application/json, text/event-stream';
// A query that runs about a second on SQLite (bounded: it always finishes).
const SLOW = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 3000000) SELECT count(*) AS n FROM c';

/** One request; resolves { status, headers, text, json }. */
function request(base, { method = 'POST', path = '/mcp', headers = {}, body, chunked = false } = {}) {
    const u = new URL(path, base);
    return new Promise((resolve, reject) => {
        const h = Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== undefined));
        if (body !== undefined && !chunked) h['Content-Length'] = Buffer.byteLength(body);
        const req = http.request(
            { host: u.hostname, port: u.port, path: u.pathname, method, headers: h, setHost: !('Host' in h) },
            (res) => {
                let text = '';
                res.setEncoding('utf8');
                res.on('data', (d) => (text += d));
                res.on('end', () => {
                    let json;
                    try {
                        json = JSON.parse(text);
                    } catch {
                        json = undefined;
                    }
                    resolve({ status: res.statusCode, headers: res.headers, text, json });
                });
            },
        );
        req.setTimeout(60000 * SLOWDOWN, () => req.destroy(new Error(`${method} ${path} timed out`)));
        req.on('error', reject);
        if (body !== undefined) req.write(body);
        req.end();
    });
}

function post(base, msg, headers = {}) {
    return request(base, {
        headers: { 'Content-Type': 'application/json', Accept: ACCEPT, ...headers },
        body: typeof msg === 'string' ? msg : JSON.stringify(msg),
    });
}

const INIT = {
    jsonrpc: '2.0',
    id: 0,
    method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};

async function session(base, headers = {}) {
    const r = await post(base, INIT, headers);
    assert.equal(r.status, 200, r.text);
    const sid = r.headers['mcp-session-id'];
    assert.match(sid, /^[0-9a-f]{32}$/);
    const h = { 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '2025-11-25', ...headers };
    const n = await post(base, { jsonrpc: '2.0', method: 'notifications/initialized' }, h);
    assert.equal(n.status, 202, 'a notification is accepted with 202');
    assert.equal(n.text, '', '202 has no body');
    return h;
}

/** Waits until calls hold pool connections, so that they are truly in flight. */
async function untilCallsRun(d) {
    const deadline = Date.now() + 10000 * SLOWDOWN;
    for (;;) {
        const m = parseMetrics((await request(d.base, { method: 'GET', path: '/metrics' })).text);
        if (m.get('snowflake_mcp_pool_connections_in_use') >= 1) return;
        assert.ok(Date.now() < deadline, 'calls started');
        await new Promise((res) => setTimeout(res, 20));
    }
}

function slowCall(base, h, id) {
    return post(base, { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'execute_query', arguments: { query: SLOW, database: 'SALES' } } }, h);
}

test('status codes of /mcp', async () => {
    const d = await startDaemon({ bin: BIN, env: { SNOWFLAKE_MCP_MAX_MESSAGE_BYTES: '2048' } });
    try {
        const h = await session(d.base);

        const ping = await post(d.base, { jsonrpc: '2.0', id: 1, method: 'ping' }, h);
        assert.equal(ping.status, 200);
        assert.match(ping.headers['content-type'], /application\/json/);
        assert.deepEqual(ping.json, { jsonrpc: '2.0', id: 1, result: {} });

        const put = await request(d.base, { method: 'PUT', headers: h, body: '{}' });
        assert.equal(put.status, 405);
        assert.equal(put.headers.allow, 'GET, POST, DELETE');

        const onlyJson = await post(d.base, { jsonrpc: '2.0', id: 2, method: 'ping' }, { ...h, Accept: 'application/json' });
        assert.equal(onlyJson.status, 406, 'POST must accept both JSON and SSE');
        const getJson = await request(d.base, { method: 'GET', headers: { ...h, Accept: 'application/json' } });
        assert.equal(getJson.status, 406, 'GET must accept text/event-stream');

        const text = await request(d.base, { headers: { ...h, 'Content-Type': 'text/plain', Accept: ACCEPT }, body: '{}' });
        assert.equal(text.status, 415);

        const bad = await post(d.base, '{"jsonrpc":"2.0", "id": 3, "method": "ping"', h);
        assert.equal(bad.status, 400);
        assert.equal(bad.json.error.code, -32700, 'malformed JSON: a -32700 body');

        const batch = await post(d.base, [{ jsonrpc: '2.0', id: 4, method: 'ping' }], h);
        assert.equal(batch.status, 400);
        assert.equal(batch.json.error.code, -32600);

        const noSession = await post(d.base, { jsonrpc: '2.0', id: 5, method: 'tools/list' });
        assert.equal(noSession.status, 400, 'session header required after initialize');

        const unknown = await post(d.base, { jsonrpc: '2.0', id: 6, method: 'ping' }, { ...h, 'Mcp-Session-Id': 'f'.repeat(32) });
        assert.equal(unknown.status, 404);

        const version = await post(d.base, { jsonrpc: '2.0', id: 7, method: 'ping' }, { ...h, 'MCP-Protocol-Version': '1999-01-01' });
        assert.equal(version.status, 400, 'unsupported MCP-Protocol-Version');
        const noVersion = await post(d.base, { jsonrpc: '2.0', id: 8, method: 'ping' }, { 'Mcp-Session-Id': h['Mcp-Session-Id'] });
        assert.equal(noVersion.status, 200, 'absent MCP-Protocol-Version is accepted (2025-03-26)');

        const big = JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'ping', params: { pad: 'x'.repeat(4096) } });
        const tooBig = await post(d.base, big, h);
        assert.equal(tooBig.status, 413, 'body over SNOWFLAKE_MCP_MAX_MESSAGE_BYTES (Content-Length)');
        const tooBigChunked = await request(d.base, {
            headers: { ...h, 'Content-Type': 'application/json', Accept: ACCEPT },
            body: big,
            chunked: true,
        });
        assert.equal(tooBigChunked.status, 413, 'body over the limit (chunked)');

        const nf = await request(d.base, { method: 'GET', path: '/nope' });
        assert.equal(nf.status, 404);

        const evilOrigin = await post(d.base, { jsonrpc: '2.0', id: 10, method: 'ping' }, { ...h, Origin: 'http://evil.example.com' });
        assert.equal(evilOrigin.status, 403, 'spoofed Origin');
        const goodOrigin = await post(d.base, { jsonrpc: '2.0', id: 11, method: 'ping' }, { ...h, Origin: `http://localhost:${d.port}` });
        assert.equal(goodOrigin.status, 200);
        const evilHost = await post(d.base, { jsonrpc: '2.0', id: 12, method: 'ping' }, { ...h, Host: `evil.example.com:${d.port}` });
        assert.equal(evilHost.status, 403, 'spoofed Host (DNS rebinding)');
        const evilInit = await post(d.base, INIT, { Host: 'attacker.test' });
        assert.equal(evilInit.status, 403);
        assert.equal(evilInit.headers['mcp-session-id'], undefined);

        // A response from the client (we never ask anything): 202.
        const reply = await post(d.base, { jsonrpc: '2.0', id: 'x', result: {} }, h);
        assert.equal(reply.status, 202);

        const del = await request(d.base, { method: 'DELETE', headers: h });
        assert.equal(del.status, 200);
        const afterDel = await post(d.base, { jsonrpc: '2.0', id: 13, method: 'ping' }, h);
        assert.equal(afterDel.status, 404, 'ended session: 404');
        const delAgain = await request(d.base, { method: 'DELETE', headers: h });
        assert.equal(delAgain.status, 404);

        const health = await request(d.base, { method: 'GET', path: '/healthz' });
        assert.equal(health.status, 200);
        const ready = await request(d.base, { method: 'GET', path: '/readyz' });
        assert.equal(ready.status, 200, ready.text);
        const metrics = await request(d.base, { method: 'GET', path: '/metrics' });
        assert.equal(metrics.status, 200);
        const m = parseMetrics(metrics.text);
        for (const code of [200, 202, 400, 403, 404, 405, 406, 413, 415]) {
            assert.ok(m.get(`snowflake_mcp_http_responses_total{code="${code}"}`) >= 1, `status ${code} counted`);
        }
        // The access log names the request and never a key.
        assert.match(d.stderr(), /access method=POST path=\/mcp status=413/);
    } finally {
        const { code } = await d.stop();
        assert.equal(code, 0, d.stderr());
    }
});

test('SSE: a slow call with a progress token streams progress, then its answer', async () => {
    const d = await startDaemon({ bin: BIN });
    try {
        const h = await session(d.base);
        const r = await post(d.base, {
            jsonrpc: '2.0', id: 'p', method: 'tools/call',
            params: { name: 'execute_query', arguments: { query: SLOW, database: 'SALES' }, _meta: { progressToken: 'tok' } },
        }, h);
        assert.equal(r.status, 200);
        assert.match(r.headers['content-type'], /text\/event-stream/);
        const events = r.text.split('\n\n').filter((e) => e.includes('data: ')).map((e) => JSON.parse(e.split('data: ')[1]));
        const last = events[events.length - 1];
        assert.equal(last.id, 'p', 'the stream ends with the response');
        assert.equal(last.result.structuredContent.rows[0][0], 3000000);
        assert.ok(events.slice(0, -1).every((e) => e.method === 'notifications/progress'));
        assert.ok(events.length >= 2, 'progress came before the answer');
    } finally {
        assert.equal((await d.stop()).code, 0);
    }
});

test('API keys: required, constant answers, never logged', async () => {
    const dir = tempDir();
    const d = await startDaemon({ bin: BIN, cacheDir: dir, env: { SNOWFLAKE_MCP_HTTP_API_KEYS: 'key-one,key-two' } });
    try {
        const none = await post(d.base, INIT);
        assert.equal(none.status, 401);
        assert.match(none.headers['www-authenticate'], /^Bearer/);
        const wrong = await post(d.base, INIT, { Authorization: 'Bearer key-three' });
        assert.equal(wrong.status, 401);
        const prefix = await post(d.base, INIT, { Authorization: 'Bearer key-on' });
        assert.equal(prefix.status, 401);
        const h = await session(d.base, { Authorization: 'Bearer key-two' });
        const ping = await post(d.base, { jsonrpc: '2.0', id: 1, method: 'ping' }, h);
        assert.equal(ping.status, 200);
        const noKey = await post(d.base, { jsonrpc: '2.0', id: 2, method: 'ping' }, { ...h, Authorization: undefined });
        assert.equal(noKey.status, 401, 'every request needs the key');
        assert.equal((await request(d.base, { method: 'GET', path: '/metrics' })).status, 401);
        assert.equal((await request(d.base, { method: 'GET', path: '/healthz' })).status, 200, 'probes need no key');
        assert.doesNotMatch(d.stderr(), /key-one|key-two|key-three/);
    } finally {
        assert.equal((await d.stop()).code, 0);
    }
    // Off loopback without keys: refused before binding anything.
    const r = await runProgram(BIN, ['serve', '--http', '0.0.0.0:0'], {
        env: { HOME: dir, SNOWFLAKE_MCP_CACHE_DIR: dir },
        timeoutMs: 120000,
    });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /refusing to listen on 0\.0\.0\.0 without API keys/);
});

test('busy: the per-session call cap answers a retryable tool error', async () => {
    const d = await startDaemon({ bin: BIN, env: { SNOWFLAKE_MCP_HTTP_MAX_CALLS_PER_SESSION: '2' } });
    try {
        const h = await session(d.base);
        const rs = await Promise.all([1, 2, 3, 4].map((i) => slowCall(d.base, h, i)));
        const busy = rs.filter((r) => r.json.result.isError && /Busy/.test(r.json.result.content[0].text));
        const done = rs.filter((r) => !r.json.result.isError);
        assert.equal(busy.length, 2, rs.map((r) => r.text).join('\n'));
        assert.equal(done.length, 2);
        for (const r of rs) assert.equal(r.status, 200);
    } finally {
        assert.equal((await d.stop()).code, 0);
    }
});

test('a cancelled call ends its POST, and its id can be used again', async () => {
    // A query that runs for minutes (bounded by the query timeout), cancelled
    // once it holds a connection: the cancel cannot lose a race with its end.
    const d = await startDaemon({ bin: BIN, env: { SNOWFLAKE_MCP_QUERY_TIMEOUT: '120' } });
    try {
        const h = await session(d.base);
        const pending = post(d.base, { jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'execute_query', arguments: { query: SLOW_SQL } } }, h);
        await untilCallsRun(d);
        const c = await post(d.base, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 5, reason: 'test' } }, h);
        assert.equal(c.status, 202);
        const t0 = performance.now();
        const ended = await pending; // before the fix this never completed
        assert.equal(ended.status, 200);
        assert.ok(!/"result"/.test(ended.text), `no answer for a cancelled request: ${ended.text}`);
        assert.ok(performance.now() - t0 < 5000 * SLOWDOWN, 'the POST ended promptly after the cancel');
        const again = await post(d.base, { jsonrpc: '2.0', id: 5, method: 'ping' }, h);
        assert.equal(again.status, 200, again.text);
        assert.deepEqual(again.json.result, {});
    } finally {
        assert.equal((await d.stop()).code, 0);
    }
});

test('idle sessions expire', async () => {
    const d = await startDaemon({ bin: BIN, env: { SNOWFLAKE_MCP_HTTP_SESSION_IDLE_TIMEOUT: '1s' } });
    try {
        const h = await session(d.base);
        assert.equal((await post(d.base, { jsonrpc: '2.0', id: 1, method: 'ping' }, h)).status, 200);
        const deadline = Date.now() + 15000 * SLOWDOWN;
        let status = 200;
        while (status === 200 && Date.now() < deadline) {
            await new Promise((res) => setTimeout(res, 500));
            const m = parseMetrics((await request(d.base, { method: 'GET', path: '/metrics' })).text);
            if (m.get('snowflake_mcp_http_sessions') === 0) status = 404;
        }
        assert.equal(status, 404, 'the session left the table');
        assert.equal((await post(d.base, { jsonrpc: '2.0', id: 2, method: 'ping' }, h)).status, 404);
    } finally {
        assert.equal((await d.stop()).code, 0);
    }
});

test('SIGTERM: calls in flight finish whole, then the daemon exits 0', async () => {
    // The grace period is what lets the calls finish; a sanitizer build on a
    // loaded machine can need more than the 30 s default for five of them.
    const d = await startDaemon({ bin: BIN, env: { SNOWFLAKE_MCP_HTTP_SHUTDOWN_GRACE: '300s' } });
    const h = await session(d.base);
    const calls = [1, 2, 3, 4, 5].map((i) => slowCall(d.base, h, i));
    await untilCallsRun(d);
    d.child.kill('SIGTERM');
    const rs = await Promise.all(calls);
    for (const r of rs) {
        assert.equal(r.status, 200);
        assert.ok(r.json.result, r.text);
        assert.equal(r.json.result.isError, false, r.text);
        assert.equal(r.json.result.structuredContent.rows[0][0], 3000000, 'a complete answer');
    }
    const { code } = await d.exited;
    assert.equal(code, 0, d.stderr());
    assert.match(d.stderr(), /stop signal received/);
    await assert.rejects(request(d.base, { method: 'GET', path: '/healthz' }), 'no longer listening');
});

test('SIGTERM: a call still running when the grace period ends is cancelled and answered', async () => {
    const d = await startDaemon({ bin: BIN, env: { SNOWFLAKE_MCP_HTTP_SHUTDOWN_GRACE: '1s' } });
    const h = await session(d.base);
    const endless = post(d.base, { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'execute_query', arguments: { query: SLOW_SQL } } }, h).then(
        (r) => ({ ok: true, r }),
        (e) => ({ ok: false, e }),
    );
    await untilCallsRun(d);
    const t0 = performance.now();
    d.child.kill('SIGTERM');
    const { code } = await d.exited;
    const ms = performance.now() - t0;
    const out = await endless;
    console.log(`# exited ${ms.toFixed(0)} ms after SIGTERM (grace 1 s); the call got: ${out.ok ? out.r.text.slice(0, 200) : out.e.message}`);
    assert.equal(code, 0, d.stderr());
    assert.match(d.stderr(), /still open after the grace period: cancelling/);
    assert.ok(ms < 15000 * SLOWDOWN, 'a query that runs for minutes did not hold the exit');
    assert.ok(out.ok, 'the POST got an answer rather than a cut connection');
    assert.equal(out.r.status, 200, out.r.text);
    const msg = out.r.json ?? JSON.parse(out.r.text.split('\n').find((l) => l.startsWith('data: ')).slice(6));
    assert.equal(msg.id, 7);
    assert.ok(msg.error || msg.result?.isError, out.r.text);
    assert.match(JSON.stringify(msg), /shutting down/, 'the answer says why');
});
