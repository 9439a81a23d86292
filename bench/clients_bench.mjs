// clients_bench: many MCP clients sharing one snowflake-mcp HTTP daemon,
// with real parts end to end, ours against a baseline, in one program run.
//
// What it measures. 4 official MCP SDK clients (standing for Claude Desktop,
// Claude Code, Cursor and Roo Code) connect at once over Streamable HTTP to
// one `snowflake-mcp serve --http` daemon, which talks HTTPS to the Snowflake
// SQL API emulator tests/snowemu. All clients start together; each issues,
// all at once and interleaved (slow, quick, quick, slow, ...), 5 slow
// warehouse queries (execute_query with the emulator's `/*emu:work=300*/`
// magic comment: 300 ms of "warehouse" time during which the POST waits, as
// Snowflake answers any statement that ends within 45 s) and 10 quick calls
// (list_databases and list_tables SALES, alternating). Reported: wall time
// until every call finished, quick-call latency (p50, p99, max), slow-call
// latency (p50, max), failed calls (asserted 0: every answer is checked,
// each slow query carries its own tag so a crossed answer shows), pool
// connections created (the daemon's /metrics) and statements the emulator
// executed (its /emu/stats). Each configuration runs 3 times, each time on a
// fresh daemon, and the table shows the median of each metric.
//
// Why the baseline is fair. The server we replace shares one blocking
// Snowflake connection between all calls, so a slow query holds up every
// other call. The baseline is that behaviour and nothing else: the same
// binary, same emulator, same clients and workload, same worker threads,
// with SNOWFLAKE_POOL_MAX_SIZE=1 and SNOWFLAKE_POOL_MIN_SIZE=1, i.e. one
// shared connection. "Ours" is the daemon as shipped (no pool variable set:
// SNOWFLAKE_POOL_MAX_SIZE=10, SNOWFLAKE_POOL_MIN_SIZE=2). The only difference
// between the two columns is the pool size.
//
// Run (release build; the emulator is found beside the binary, or by
// SMCP_SNOWEMU):
//   SMCP_BIN=build/release/snowflake-mcp node bench/clients_bench.mjs
// Everything listens on 127.0.0.1 only; every daemon and the emulator are
// stopped at the end, also on failure. Runs in about a minute (the baseline
// dominates: it serializes 20 slow queries per run). Exits non-zero when a
// call failed or answered wrongly.
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Client } from '../tests/e2e/node_modules/@modelcontextprotocol/sdk/dist/esm/client/index.js';
import { StreamableHTTPClientTransport } from '../tests/e2e/node_modules/@modelcontextprotocol/sdk/dist/esm/client/streamableHttp.js';

// The helpers start the daemon and the emulator in temporary directories, so
// a relative SMCP_BIN (e.g. build/release/snowflake-mcp from the repo root)
// is made absolute before they read it.
for (const k of ['SMCP_BIN', 'SMCP_SNOWEMU']) {
    if (process.env[k]) process.env[k] = resolve(process.env[k]);
}
const { BIN, withTimeout, sleep } = await import('../tests/e2e/lib.mjs');
const { startEmu, SNOWEMU } = await import('../tests/e2e/sf_lib.mjs');
const { startDaemon, parseMetrics } = await import('../tests/http/daemon.mjs');

const CLIENT_NAMES = ['claude-desktop', 'claude-code', 'cursor', 'roo-code'];
const SLOW_PER_CLIENT = 5;
const QUICK_PER_CLIENT = 10;
const SLOW_MS = 300;
const RUNS = 3;
const CALL_TIMEOUT_MS = 60000;

const CONFIGS = [
    { key: 'ours', label: 'ours (pool max 10 = default, min 2)', env: {}, minSize: 2 },
    {
        key: 'base',
        label: 'baseline (one shared connection)',
        env: { SNOWFLAKE_POOL_MAX_SIZE: '1', SNOWFLAKE_POOL_MIN_SIZE: '1' },
        minSize: 1,
    },
];

// ---- small helpers --------------------------------------------------------------

/** Nearest-rank percentile of an array of numbers. */
function percentile(values, p) {
    const s = [...values].sort((a, b) => a - b);
    if (s.length === 0) return NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * s.length));
    return s[rank - 1];
}

function median(values) {
    const s = [...values].sort((a, b) => a - b);
    const n = s.length;
    return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

function column(sc, name) {
    const i = sc.columns.findIndex((c) => c.name === name);
    if (i < 0) throw new Error(`no column ${name} in ${JSON.stringify(sc.columns)}`);
    return sc.rows.map((r) => r[i]);
}

async function metrics(d) {
    const r = await withTimeout(fetch(`${d.base}/metrics`), 10000, 'GET /metrics');
    if (r.status !== 200) throw new Error(`GET /metrics: HTTP ${r.status}`);
    return parseMetrics(await r.text());
}

async function connect(url, name) {
    const client = new Client({ name, version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(url));
    await withTimeout(client.connect(transport), 30000, `${name} connect`);
    return { name, client, transport };
}

// ---- the workload ---------------------------------------------------------------

/** One client's 15 calls, interleaved: slow, quick, quick, slow, quick, quick, ... */
function planFor(ci) {
    const plan = [];
    let slow = 0;
    let quick = 0;
    while (slow < SLOW_PER_CLIENT || quick < QUICK_PER_CLIENT) {
        if (slow < SLOW_PER_CLIENT) plan.push({ kind: 'slow', tag: ci * 100 + slow++ });
        for (let k = 0; k < 2 && quick < QUICK_PER_CLIENT; k++) {
            plan.push({ kind: 'quick', tool: quick++ % 2 === 0 ? 'list_databases' : 'list_tables' });
        }
    }
    return plan;
}

/** Runs one call and checks its answer; resolves { kind, ms, error }. */
async function runCall(client, step, expectedOrders) {
    const t0 = performance.now();
    let error = null;
    try {
        let r;
        if (step.kind === 'slow') {
            r = await client.callTool(
                {
                    name: 'execute_query',
                    arguments: {
                        query: `SELECT /*emu:work=${SLOW_MS}*/ count(*) AS n, ${step.tag} AS tag FROM ORDERS`,
                        database: 'SALES',
                    },
                },
                undefined,
                { timeout: CALL_TIMEOUT_MS },
            );
        } else {
            const args = step.tool === 'list_tables' ? { database: 'SALES' } : {};
            r = await client.callTool({ name: step.tool, arguments: args }, undefined, { timeout: CALL_TIMEOUT_MS });
        }
        if (r.isError) throw new Error(r.content?.[0]?.text || 'isError');
        const sc = r.structuredContent;
        if (step.kind === 'slow') {
            const want = JSON.stringify([[expectedOrders, step.tag]]);
            if (JSON.stringify(sc.rows) !== want) throw new Error(`rows ${JSON.stringify(sc.rows)}, want ${want}`);
        } else if (step.tool === 'list_databases') {
            const names = column(sc, 'name').sort().join(',');
            if (names !== 'FINANCE,MARKETING,SALES') throw new Error(`databases ${names}`);
        } else {
            const names = column(sc, 'name');
            if (!names.includes('ORDERS') || !names.includes('CUSTOMERS')) throw new Error(`tables ${names}`);
        }
    } catch (e) {
        error = `${step.kind} ${step.tool || 'execute_query'}: ${e.message}`;
    }
    return { kind: step.kind, ms: performance.now() - t0, error };
}

/** One run on a fresh daemon; resolves the metrics of that run. */
async function runOnce(emu, cfg, expectedOrders, daemons) {
    const d = await startDaemon({
        bin: BIN,
        env: { ...emu.env(), SNOWFLAKE_MCP_LOG_LEVEL: 'notice', ...cfg.env },
        timeoutMs: 30000,
    });
    daemons.add(d);
    const clients = [];
    try {
        for (const c of await Promise.all(CLIENT_NAMES.map((n) => connect(d.url, n)))) clients.push(c);

        // Let the pool open its minimum (both configurations start warm).
        const limit = performance.now() + 10000;
        for (;;) {
            const m = await metrics(d);
            if (m.get('snowflake_mcp_pool_connections') >= cfg.minSize && m.get('snowflake_mcp_pool_connecting') === 0) {
                break;
            }
            if (performance.now() > limit) throw new Error(`pool did not open ${cfg.minSize} connection(s) in 10 s`);
            await sleep(20);
        }
        await emu.reset();

        // All clients start together, each with all its calls at once.
        let go;
        const start = new Promise((r) => (go = r));
        const work = clients.map(async ({ client }, ci) => {
            await start;
            return Promise.all(planFor(ci).map((step) => runCall(client, step, expectedOrders)));
        });
        const t0 = performance.now();
        go();
        const results = (await withTimeout(Promise.all(work), 2 * CALL_TIMEOUT_MS, 'workload')).flat();
        const wall = performance.now() - t0;

        const m = await metrics(d);
        const st = await emu.stats();
        const quick = results.filter((r) => r.kind === 'quick').map((r) => r.ms);
        const slow = results.filter((r) => r.kind === 'slow').map((r) => r.ms);
        const errors = results.filter((r) => r.error).map((r) => r.error);
        const okCalls = [...m]
            .filter(([k]) => k.startsWith('snowflake_mcp_tool_calls_total{') && k.endsWith('outcome="ok"}'))
            .reduce((a, [, v]) => a + v, 0);
        if (okCalls !== results.length - errors.length) {
            errors.push(`/metrics counts ${okCalls} ok calls, the clients saw ${results.length - errors.length}`);
        }
        return {
            wall,
            quickP50: percentile(quick, 50),
            quickP99: percentile(quick, 99),
            quickMax: Math.max(...quick),
            slowP50: percentile(slow, 50),
            slowMax: Math.max(...slow),
            failed: errors.length,
            errors,
            created: m.get('snowflake_mcp_pool_created_total'),
            executions: st.executions,
            polls: st.polls,
        };
    } finally {
        for (const { client, transport } of clients) {
            try {
                await withTimeout(transport.terminateSession(), 5000, 'terminateSession');
                await withTimeout(client.close(), 5000, 'client.close');
            } catch {
                // the daemon is stopped below anyway
            }
        }
        const { code, signal } = await d.stop('SIGTERM', 20000);
        daemons.delete(d);
        if (code !== 0) throw new Error(`daemon exited with code ${code} signal ${signal}\n${d.stderr()}`);
    }
}

// ---- output ---------------------------------------------------------------------

const ROWS = [
    ['wall time until all calls finished (ms)', 'wall'],
    ['quick-call latency p50 (ms)', 'quickP50'],
    ['quick-call latency p99 (ms)', 'quickP99'],
    ['quick-call latency max (ms)', 'quickMax'],
    ['slow-call latency p50 (ms)', 'slowP50'],
    ['slow-call latency max (ms)', 'slowMax'],
    ['calls failed', 'failed'],
    ['pool connections created', 'created'],
    ['emulator statements executed', 'executions'],
    ['emulator status polls', 'polls'],
];

function fmt(v) {
    return Number.isInteger(v) ? String(v) : v.toFixed(0);
}

function ratio(a, b) {
    if (b === 0) return a === 0 ? '-' : 'inf';
    const r = a / b;
    return r >= 10 ? r.toFixed(1) : r.toFixed(2);
}

function printTable(med) {
    const [ours, base] = CONFIGS;
    console.log(`| metric | ${ours.label} | ${base.label} | ratio ours/baseline |`);
    console.log('|---|---:|---:|---:|');
    for (const [label, k] of ROWS) {
        console.log(`| ${label} | ${fmt(med.ours[k])} | ${fmt(med.base[k])} | ${ratio(med.ours[k], med.base[k])} |`);
    }
}

// ---- main -----------------------------------------------------------------------

async function main() {
    const calls = CLIENT_NAMES.length * (SLOW_PER_CLIENT + QUICK_PER_CLIENT);
    console.log('# snowflake-mcp: many MCP clients, one HTTP daemon');
    console.log('');
    console.log(
        `${CLIENT_NAMES.length} MCP SDK clients (${CLIENT_NAMES.join(', ')}) share one \`snowflake-mcp serve --http\` ` +
            `daemon in front of the Snowflake SQL API emulator; each sends ${SLOW_PER_CLIENT} slow queries ` +
            `(${SLOW_MS} ms of warehouse time) and ${QUICK_PER_CLIENT} quick catalog calls at once ` +
            `(${calls} calls per run). Ours is the daemon as shipped; the baseline is the same binary with ` +
            'SNOWFLAKE_POOL_MAX_SIZE=1 SNOWFLAKE_POOL_MIN_SIZE=1: one shared connection, how the server we replace behaved.',
    );
    console.log('');
    console.log(`binary: ${BIN}`);
    console.log(`emulator: ${SNOWEMU}`);
    console.log(`run: SMCP_BIN=${BIN} SMCP_SNOWEMU=${SNOWEMU} node ${relative(process.cwd(), fileURLToPath(import.meta.url))}`);
    console.log('');

    const daemons = new Set();
    let emu;
    let failed = false;
    try {
        emu = await startEmu();
        // The expected answer of the slow query, asked once without the delay.
        let expectedOrders;
        let alone;
        {
            const d = await startDaemon({ bin: BIN, env: { ...emu.env(), SNOWFLAKE_MCP_LOG_LEVEL: 'notice' } });
            daemons.add(d);
            try {
                const c = await connect(d.url, 'bench-setup');
                // The guard must accept the emulator's magic comment.
                const r = await c.client.callTool({
                    name: 'execute_query',
                    arguments: { query: 'SELECT /*emu:work=1*/ count(*) AS n FROM ORDERS', database: 'SALES' },
                });
                if (r.isError) throw new Error(`the slow-query comment was refused: ${r.content?.[0]?.text}`);
                expectedOrders = r.structuredContent.rows[0][0];
                if (!(expectedOrders > 0)) throw new Error(`ORDERS count ${expectedOrders}`);
                // One call at a time, nothing else running: what a call costs alone.
                const slow = [];
                const quick = [];
                for (let k = 0; k < 3; k++) {
                    const s = await runCall(c.client, { kind: 'slow', tag: 9000 + k }, expectedOrders);
                    const q = await runCall(c.client, { kind: 'quick', tool: 'list_databases' }, expectedOrders);
                    for (const x of [s, q]) if (x.error) throw new Error(`alone: ${x.error}`);
                    slow.push(s.ms);
                    quick.push(q.ms);
                }
                alone = { slow: median(slow), quick: median(quick) };
                await c.transport.terminateSession();
                await c.client.close();
            } finally {
                await d.stop();
                daemons.delete(d);
            }
        }

        const runs = { ours: [], base: [] };
        for (let i = 0; i < RUNS; i++) {
            for (const cfg of CONFIGS) {
                const r = await runOnce(emu, cfg, expectedOrders, daemons);
                runs[cfg.key].push(r);
                console.error(
                    `run ${i + 1}/${RUNS} ${cfg.key}: wall ${r.wall.toFixed(0)} ms, quick p50 ${r.quickP50.toFixed(0)} ms ` +
                        `max ${r.quickMax.toFixed(0)} ms, slow p50 ${r.slowP50.toFixed(0)} ms, failed ${r.failed}, ` +
                        `pool created ${r.created}, emulator statements ${r.executions}`,
                );
                for (const e of r.errors.slice(0, 5)) console.error(`  failure: ${e}`);
                if (r.failed) failed = true;
            }
        }

        const med = {};
        for (const cfg of CONFIGS) {
            med[cfg.key] = Object.fromEntries(ROWS.map(([, k]) => [k, median(runs[cfg.key].map((r) => r[k]))]));
        }
        printTable(med);
        console.log('');
        console.log(
            `Each cell is the median of ${RUNS} runs per configuration (runs alternate, each on a fresh daemon ` +
                `with its pool warm at its minimum size). ORDERS has ${expectedOrders} rows; every answer is checked (the failed row counts wrong ones).`,
        );
        console.log(
            `p99 of ${CLIENT_NAMES.length * QUICK_PER_CLIENT} quick calls per run is the slowest one. ` +
                `${CLIENT_NAMES.length * SLOW_PER_CLIENT} slow queries are in flight at once, more than ours' 10 ` +
                'connections, so in ours too a quick call can wait for a connection.',
        );
        console.log(
            `Alone (one call at a time, median of 3): a slow query (${SLOW_MS} ms of warehouse time) takes ` +
                `${fmt(alone.slow)} ms through the daemon, ${fmt(alone.slow - SLOW_MS)} ms more than the warehouse ` +
                `time (TLS, JSON and the SQLite count behind the emulator); list_databases takes ${fmt(alone.quick)} ms.`,
        );
    } finally {
        for (const d of daemons) await d.stop('SIGKILL');
        if (emu) await emu.stop();
    }
    if (failed) {
        console.error('FAILED: some calls failed or answered wrongly (see above)');
        process.exitCode = 1;
    }
}

for (const sig of ['SIGINT', 'SIGTERM']) {
    // process.exit runs the libraries' exit hooks, which kill every child.
    process.on(sig, () => process.exit(130));
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
