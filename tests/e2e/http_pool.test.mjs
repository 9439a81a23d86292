// One snowflake-mcp HTTP daemon, many MCP clients, one pool: 8 official SDK
// clients (StreamableHTTPClientTransport) make 50 calls each, concurrently;
// every answer must be the one asked for, the pool must never have opened
// more connections than its max size, and /metrics must count 400 calls.
import test from 'node:test';
import assert from 'node:assert/strict';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

import { BIN, SLOWDOWN, withTimeout } from './lib.mjs';
import { startDaemon, parseMetrics } from '../http/daemon.mjs';

const CLIENTS = 8;
const CALLS = 50;
const POOL_MAX = 4;

async function connect(url, name) {
    const client = new Client({ name, version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(url));
    await withTimeout(client.connect(transport), 30000 * SLOWDOWN, `${name} connect`);
    return { client, transport };
}

test('8 clients x 50 calls share one pool', async () => {
    const d = await startDaemon({
        bin: BIN,
        env: { SNOWFLAKE_POOL_MAX_SIZE: String(POOL_MAX), SNOWFLAKE_MCP_LOG_LEVEL: 'notice' },
    });
    try {
        const clients = await Promise.all(
            Array.from({ length: CLIENTS }, (_, i) => connect(d.url, `http-e2e-${i}`)),
        );
        const ids = new Set(clients.map((c) => c.transport.sessionId));
        assert.equal(ids.size, CLIENTS, 'each client has its own session id');
        for (const id of ids) assert.match(id, /^[0-9a-f]{32}$/, 'session id is 128 random bits in hex');

        const t0 = performance.now();
        await Promise.all(
            clients.map(async ({ client }, ci) => {
                for (let k = 0; k < CALLS; k++) {
                    const n = ci * 1000 + k;
                    // Every call asks for its own number: a crossed answer shows.
                    const r = await client.callTool(
                        { name: 'execute_query', arguments: { query: `SELECT ${n} AS n`, database: 'SALES' } },
                        undefined,
                        { timeout: 60000 * SLOWDOWN },
                    );
                    assert.notEqual(r.isError, true, r.content?.[0]?.text);
                    assert.deepEqual(r.structuredContent.rows, [[n]], `client ${ci} call ${k}`);
                }
            }),
        );
        const ms = performance.now() - t0;
        console.log(`# ${CLIENTS * CALLS} calls over HTTP in ${ms.toFixed(0)} ms (${((CLIENTS * CALLS * 1000) / ms).toFixed(0)} calls/s)`);

        const text = await (await fetch(`${d.base}/metrics`)).text();
        const m = parseMetrics(text);
        let calls = 0;
        for (const [k, v] of m) if (k.startsWith('snowflake_mcp_tool_calls_total{')) calls += v;
        const ok = m.get('snowflake_mcp_tool_calls_total{tool="execute_query",outcome="ok"}');
        const created = m.get('snowflake_mcp_pool_created_total');
        const open = m.get('snowflake_mcp_pool_connections');
        console.log(`# metrics: calls total ${calls} (ok ${ok}), pool created ${created}, open ${open}, sessions ${m.get('snowflake_mcp_http_sessions')}`);
        assert.equal(calls, CLIENTS * CALLS, 'calls total = 400');
        assert.equal(ok, CLIENTS * CALLS, 'all 400 calls ok');
        assert.ok(created >= 1 && created <= POOL_MAX, `pool created ${created} <= max ${POOL_MAX}`);
        assert.ok(open <= POOL_MAX);
        assert.equal(m.get('snowflake_mcp_http_sessions'), CLIENTS);
        assert.equal(
            m.get('snowflake_mcp_tool_call_duration_seconds_count{tool="execute_query",outcome="ok"}'),
            CLIENTS * CALLS,
        );
        assert.ok(m.get('snowflake_mcp_pool_acquire_wait_seconds_count') >= CLIENTS * CALLS);

        // DELETE ends the sessions (terminateSession sends it).
        for (const { client, transport } of clients) {
            await transport.terminateSession();
            await client.close();
        }
        const after = parseMetrics(await (await fetch(`${d.base}/metrics`)).text());
        assert.equal(after.get('snowflake_mcp_http_sessions'), 0, 'DELETE ended every session');
    } finally {
        const { code } = await d.stop();
        assert.equal(code, 0, `daemon exit code after SIGTERM\n${d.stderr()}`);
    }
});

test('progress and log notifications travel over SSE', async () => {
    const d = await startDaemon({ bin: BIN });
    try {
        const { client, transport } = await connect(d.url, 'http-e2e-sse');
        const progress = [];
        const r = await client.callTool(
            { name: 'list_databases', arguments: {} },
            undefined,
            { timeout: 30000 * SLOWDOWN, onprogress: (p) => progress.push(p) },
        );
        assert.notEqual(r.isError, true);
        assert.ok(progress.length >= 1, 'at least one progress notification before the result');
        for (let i = 1; i < progress.length; i++) assert.ok(progress[i].progress > progress[i - 1].progress);

        // After logging/setLevel, log messages reach the client (GET stream
        // or the call's own SSE stream).
        const logs = [];
        client.fallbackNotificationHandler = async (n) => {
            if (n.method === 'notifications/message') logs.push(n.params);
        };
        const { LoggingMessageNotificationSchema } = await import('@modelcontextprotocol/sdk/types.js');
        client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => logs.push(n.params));
        await client.setLoggingLevel('debug');
        await client.callTool({ name: 'list_databases', arguments: {} });
        const deadline = Date.now() + 10000 * SLOWDOWN;
        while (logs.length === 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
        assert.ok(logs.length >= 1, 'a log notification arrived');
        assert.ok(logs.every((l) => typeof l.level === 'string' && 'data' in l));
        await transport.terminateSession();
        await client.close();
    } finally {
        const { code } = await d.stop();
        assert.equal(code, 0, d.stderr());
    }
});
