// The pool heals over real PostgreSQL faults, seen through the MCP SDK
// client: backends terminated while idle and mid-query, a server restart
// under a steady stream of calls, a server down at start-up, and
// max_connections exhausted. Recovery times are printed (# lines).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';

import { startClient, tempDir, call, callOk, runCli, sleep, SLOWDOWN } from './lib.mjs';
import {
    pgEnv,
    adminSql,
    cluster,
    clusterAsync,
    serverBackends,
    terminateServerBackends,
    DSN,
    PG_BIN,
} from './pg_lib.mjs';

const QUERY = { query: 'SELECT count(*) AS n FROM sales.orders' };
// Short call limits so that failing calls fail fast during outages.
const LIMIT_MS = 2000 * SLOWDOWN;
const FAST = { SNOWFLAKE_MCP_QUERY_TIMEOUT: `${LIMIT_MS / 1000}s` };
// A failing call may wait out its whole limit (the pool keeps trying to
// connect until then); what matters is that it is bounded by the limit, not
// by how late the scheduler let it report. Twice the limit says that.
const FAIL_BOUND_MS = 2 * LIMIT_MS;

const servers = [];
async function start(extra = {}) {
    const s = await startClient({ cacheDir: tempDir(), env: pgEnv(extra) });
    servers.push(s);
    return s;
}

after(async () => {
    for (const s of servers) await s.close().catch(() => {});
    // Leave the cluster running for whoever comes next.
    try {
        cluster('status');
    } catch {
        cluster('resume');
    }
});

async function succeeds(client, args = QUERY) {
    const r = await call(client, 'execute_query', args);
    return r.isError ? null : r;
}

test('(1) every idle pooled connection terminated: the next 100 calls all succeed', async () => {
    const s = await start();
    for (let i = 0; i < 4; i++) await callOk(s.client, 'execute_query', QUERY);
    // The pool tops up to its minimum (2) in the background: wait for it, so
    // that "every pooled connection" means more than one.
    const until = Date.now() + 10000 * SLOWDOWN;
    while (serverBackends() < 2 && Date.now() < until) await sleep(20);
    const killed = terminateServerBackends();
    assert.ok(killed >= 2, `terminated ${killed} backends`);
    let ok = 0;
    const failures = [];
    for (let i = 0; i < 100; i++) {
        const r = await call(s.client, 'execute_query', QUERY);
        if (r.isError) failures.push(r.content[0].text);
        else ok++;
    }
    console.log(`# terminated ${killed} idle backends; ${ok}/100 calls then succeeded`);
    assert.equal(ok, 100, failures.join('\n'));
});

test('(2) backend killed during a query: that call fails clearly, later calls succeed', async () => {
    const s = await start({ SNOWFLAKE_MCP_QUERY_TIMEOUT: '60s' });
    const slow = 'SELECT count(*) FROM (SELECT generate_series(1, 2000000000)) s';
    const p = call(s.client, 'execute_query', { query: slow });
    let killed = 0;
    for (let i = 0; i < 100 && killed === 0; i++) {
        await sleep(50);
        killed = Number(
            adminSql(
                'SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) FROM pg_stat_activity ' +
                    "WHERE state = 'active' AND query LIKE '%generate_series(1, 2000000000)%' " +
                    "AND application_name = 'snowflake-mcp'",
            ),
        );
    }
    assert.equal(killed, 1, 'the running query was found and its backend terminated');
    const r = await p;
    assert.equal(r.isError, true);
    assert.match(r.content[0].text, /connection to PostgreSQL was lost while the statement ran/);
    console.log(`# killed mid-query: ${r.content[0].text}`);
    for (let i = 0; i < 20; i++) await callOk(s.client, 'execute_query', QUERY);
});

/**
 * Runs `workers` steady streams of calls while action() runs; returns every
 * call as {start, end, ok, text} (ms since the epoch of performance.now()).
 */
async function stream(client, workers, action) {
    const calls = [];
    let stop = false;
    const loop = async () => {
        while (!stop) {
            const startT = performance.now();
            let ok = false;
            let text = '';
            try {
                const r = await call(client, 'execute_query', QUERY);
                ok = !r.isError;
                text = r.content?.[0]?.text ?? '';
            } catch (e) {
                text = String(e);
            }
            calls.push({ start: startT, end: performance.now(), ok, text });
            await sleep(20);
        }
    };
    const loops = Array.from({ length: workers }, loop);
    const result = await action();
    stop = true;
    await Promise.all(loops);
    return { calls, result };
}

test('(3) pg_ctl restart under a steady stream of calls: fail fast, recover within 2 s', async () => {
    const s = await start(FAST);
    await callOk(s.client, 'execute_query', QUERY);
    const { calls, result } = await stream(s.client, 4, async () => {
        await sleep(300);
        const down = performance.now();
        await clusterAsync('restart');
        const up = performance.now(); // pg_ctl -w returns once it accepts connections
        await sleep(3000 * SLOWDOWN);
        return { down, up };
    });
    const { down, up } = result;
    const failed = calls.filter((c) => !c.ok);
    const firstOkAfterUp = calls.filter((c) => c.ok && c.end >= up).sort((a, b) => a.end - b.end)[0];
    assert.ok(firstOkAfterUp, 'some call succeeded after the restart');
    const recovery = Math.max(0, firstOkAfterUp.end - up);
    const lastFailEnd = failed.length ? Math.max(...failed.map((c) => c.end)) : up;
    const slowestFail = failed.length ? Math.max(...failed.map((c) => c.end - c.start)) : 0;
    console.log(
        `# restart: outage ${(up - down).toFixed(0)} ms; ${calls.length} calls, ${failed.length} failed ` +
            `(slowest failure ${slowestFail.toFixed(0)} ms); first success ${recovery.toFixed(0)} ms ` +
            `after the server accepted connections; last failure ended ${(lastFailEnd - up).toFixed(0)} ms after`,
    );
    for (const f of failed) {
        assert.match(f.text, /PostgreSQL|connection/, `a clear message: ${f.text}`);
        assert.ok(f.end - f.start <= FAIL_BOUND_MS, `failed within the call limit: ${f.end - f.start} ms`);
    }
    if (failed.length) console.log(`# a failure during the outage: ${failed[0].text}`);
    assert.ok(recovery <= 2000 * SLOWDOWN, `recovered ${recovery} ms after the server came back`);
    const lateFailures = calls.filter((c) => !c.ok && c.start >= up + 2000 * SLOWDOWN);
    assert.equal(lateFailures.length, 0, 'every call started 2 s after the restart succeeded');
});

test('(3b) a longer outage: calls fail fast and clearly, then recover within 2 s', async () => {
    const s = await start(FAST);
    await callOk(s.client, 'execute_query', QUERY);
    const { calls, result } = await stream(s.client, 4, async () => {
        await sleep(300);
        await clusterAsync('halt');
        const down = performance.now();
        await sleep(3000 * SLOWDOWN); // longer than the call limit
        await clusterAsync('resume');
        const up = performance.now();
        await sleep(3000 * SLOWDOWN);
        return { down, up };
    });
    const { down, up } = result;
    const failed = calls.filter((c) => !c.ok);
    assert.ok(failed.length > 0, 'calls failed during the outage');
    const slowestFail = Math.max(...failed.map((c) => c.end - c.start));
    for (const f of failed) {
        assert.match(f.text, /PostgreSQL|connection/, `a clear message: ${f.text}`);
        assert.ok(f.end - f.start <= FAIL_BOUND_MS, `failed within the call limit: ${f.end - f.start} ms`);
    }
    const firstOkAfterUp = calls.filter((c) => c.ok && c.end >= up).sort((a, b) => a.end - b.end)[0];
    assert.ok(firstOkAfterUp, 'some call succeeded after the server came back');
    const recovery = Math.max(0, firstOkAfterUp.end - up);
    console.log(
        `# outage ${(up - down).toFixed(0)} ms: ${calls.length} calls, ${failed.length} failed ` +
            `(slowest failure ${slowestFail.toFixed(0)} ms); first success ${recovery.toFixed(0)} ms ` +
            'after the server accepted connections',
    );
    console.log(`# a failure during the outage: ${failed[0].text}`);
    assert.ok(recovery <= 2000 * SLOWDOWN, `recovered ${recovery} ms after the server came back`);
    const lateFailures = calls.filter((c) => !c.ok && c.start >= up + 2000 * SLOWDOWN);
    assert.equal(lateFailures.length, 0, 'every call started 2 s after the server came back succeeded');
});

test('(4) server down at start-up: it starts, check says why, and it recovers', async () => {
    cluster('halt');
    let s;
    try {
        const chk = await runCli(['--no-env-file', 'check'], { cacheDir: tempDir(), env: pgEnv(FAST) });
        assert.equal(chk.code, 1, chk.stderr);
        assert.match(chk.stdout, /unhealthy/);
        assert.match(chk.stderr, /UNHEALTHY/);
        assert.match(chk.stderr, /cannot connect to PostgreSQL/);
        console.log(`# check while down: ${chk.stderr.split('\n').find((l) => /UNHEALTHY/.test(l))}`);
        s = await start(FAST);
        const r = await call(s.client, 'list_databases');
        assert.equal(r.isError, true);
        assert.match(r.content[0].text, /cannot connect to PostgreSQL/);
    } finally {
        cluster('resume');
    }
    const up = performance.now();
    let recovered = null;
    while (!recovered && performance.now() - up < 10000 * SLOWDOWN) {
        if (await succeeds(s.client)) recovered = performance.now() - up;
        else await sleep(20);
    }
    assert.ok(recovered !== null, 'recovered after the server came up');
    console.log(`# server up after a down start: first success after ${recovered.toFixed(0)} ms`);
    assert.ok(recovered <= 2000 * SLOWDOWN);
    const chk = await runCli(['--no-env-file', 'check'], { cacheDir: tempDir(), env: pgEnv(FAST) });
    assert.equal(chk.code, 0, chk.stderr);
});

test('(5) max_connections exhausted: clear error, no crash, recovery afterwards', async () => {
    const s = await start({ ...FAST, SNOWFLAKE_POOL_MIN_SIZE: '0' });
    await callOk(s.client, 'execute_query', QUERY);
    terminateServerBackends();
    // Fill every slot a non-superuser may take with sleeping psql sessions.
    const holders = [];
    const psql = join(PG_BIN, 'psql');
    let full = false;
    for (let i = 0; i < 25 && !full; i++) {
        const child = spawn(psql, ['-X', '-q', DSN, '-c', 'SELECT pg_sleep(120)'], {
            stdio: ['ignore', 'ignore', 'pipe'],
            env: { ...process.env, PGAPPNAME: 'smcp-slot-holder' },
        });
        let err = '';
        child.stderr.on('data', (d) => (err += d));
        holders.push(child);
        await sleep(150);
        if (child.exitCode !== null && /too many clients|remaining connection slots/.test(err)) full = true;
    }
    try {
        assert.ok(full, 'the server ran out of connection slots');
        const r = await call(s.client, 'execute_query', QUERY);
        assert.equal(r.isError, true);
        assert.match(r.content[0].text, /no free connection slot \(max_connections reached\)/);
        console.log(`# exhausted: ${r.content[0].text}`);
    } finally {
        for (const h of holders) h.kill('SIGKILL');
        // A backend in pg_sleep does not notice its client is gone.
        adminSql(
            'SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity ' +
                "WHERE application_name = 'smcp-slot-holder'",
        );
    }
    const freed = performance.now();
    let recovered = null;
    while (!recovered && performance.now() - freed < 10000 * SLOWDOWN) {
        if (await succeeds(s.client)) recovered = performance.now() - freed;
        else await sleep(20);
    }
    assert.ok(recovered !== null, 'recovered after the slots were freed');
    console.log(`# slots freed: first success after ${recovered.toFixed(0)} ms`);
    for (let i = 0; i < 20; i++) await callOk(s.client, 'execute_query', QUERY);
});
