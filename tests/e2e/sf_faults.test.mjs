// Faults between snowflake-mcp and Snowflake, injected by the SQL API
// emulator (tests/snowemu magic comments and control endpoints), driven
// through the official SDK client. /emu/stats shows what the server did:
// polling after 202, resubmitting the same requestId with retry=true after
// 429/503, renewing an expired token, cancelling an abandoned statement.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { tempDir, startClient, call, callOk, withTimeout, SLOWDOWN } from './lib.mjs';
import { startEmu, oneRequest, waitStats } from './sf_lib.mjs';

let emu;
let srv;
let ordersCount;

before(async () => {
    emu = await startEmu({ rowsPerPartition: 100 });
    srv = await startClient({ cacheDir: tempDir(), env: emu.env() });
    const r = await callOk(srv.client, 'execute_query', { query: 'SELECT count(*) AS n FROM ORDERS' });
    ordersCount = r.structuredContent.rows[0][0];
    assert.ok(Number.isInteger(ordersCount) && ordersCount > 1000, `ORDERS has ${ordersCount} rows`);
});

after(async () => {
    await srv?.close();
    const e = await emu?.stop();
    if (e) assert.equal(e.signal ?? null, null, `snowemu ended by signal ${e.signal}`);
});

/** The rows of a successful execute_query. */
async function rows(query, options) {
    const r = await callOk(srv.client, 'execute_query', { query }, options);
    return r.structuredContent;
}

// ---- 3. 202, then polling ---------------------------------------------------

test('a slow statement answered 202 is polled to its result', async () => {
    await emu.reset();
    const sc = await rows('SELECT /*emu:slow=1500*/ count(*) AS n FROM ORDERS');
    assert.deepEqual(sc.rows, [[ordersCount]]);
    assert.ok(sc.elapsed_ms >= 1400, `the answer waited for the statement (${sc.elapsed_ms} ms)`);
    const st = await emu.stats();
    const rq = oneRequest(st, () => true, 'for the slow query');
    assert.equal(rq.submissions, 1, 'submitted once');
    assert.equal(rq.executions, 1, 'run once');
    assert.equal(rq.handles.length, 1);
    const s = st.statements[rq.handles[0]];
    assert.equal(s.status, 'succeeded');
    assert.ok(s.polls >= 1, `its status was polled (${s.polls} polls)`);
    assert.equal(st.polls, s.polls);
});

test('a failed poll (503 while running) is retried and the result still arrives', async () => {
    await emu.reset();
    const sc = await rows('SELECT /*emu:slow=800*/ /*emu:poll_status=503,poll_count=1*/ 5 AS five');
    assert.deepEqual(sc.rows, [[5]]);
    const st = await emu.stats();
    const rq = oneRequest(st, () => true, 'for the query');
    assert.equal(rq.executions, 1);
    assert.equal(st.injected['503'], 1, `the 503 was served: ${JSON.stringify(st.injected)}`);
    assert.equal(st.statements[rq.handles[0]].status, 'succeeded');
});

// ---- 4. 429 and 503 on submission ------------------------------------------

for (const code of [429, 503]) {
    test(`HTTP ${code} twice: the same requestId is resubmitted with retry=true and runs once`, async () => {
        await emu.reset();
        const sc = await rows(`SELECT /*emu:status=${code},count=2*/ 42 AS answer`);
        assert.deepEqual(sc.rows, [[42]]);
        const st = await emu.stats();
        const rq = oneRequest(st, () => true, `for the ${code} query`);
        assert.equal(rq.submissions, 3, 'two refused submissions, then the one that ran');
        assert.equal(rq.retries, 2, 'both resubmissions said retry=true');
        assert.equal(rq.injected, 2);
        assert.equal(rq.executions, 1, 'the statement ran exactly once');
        assert.equal(rq.handles.length, 1);
        assert.deepEqual(st.injected, { [code]: 2 });
        assert.equal(st.executions, 1);
    });
}

// ---- 5. expired tokens -------------------------------------------------------

test('a token expiring at submission is renewed and the call does not fail', async () => {
    await emu.reset();
    const sc = await rows('SELECT /*emu:expire_token*/ 7 AS seven');
    assert.deepEqual(sc.rows, [[7]]);
    const st = await emu.stats();
    const rq = oneRequest(st, () => true, 'for the query');
    assert.equal(rq.submissions, 2, 'refused once (401), then accepted');
    assert.equal(rq.executions, 1);
    assert.equal(rq.tokens.length, 2, `a new token was presented: ${JSON.stringify(rq.tokens)}`);
    assert.notEqual(rq.tokens[0], rq.tokens[1]);
    assert.equal(st.injected['401'], 1);
    assert.equal(st.last_request.token, rq.tokens[1], 'the new token is the one in use');
});

test('all tokens revoked between calls (POST /emu/expire-tokens): the next call still succeeds', async () => {
    await rows('SELECT 1 AS one');
    const before = await emu.stats();
    const oldToken = before.last_request.token;
    await emu.expireTokens();
    await emu.reset();
    const sc = await rows('SELECT 8 AS eight');
    assert.deepEqual(sc.rows, [[8]]);
    const st = await emu.stats();
    const rq = oneRequest(st, () => true, 'for the query');
    assert.deepEqual(rq.tokens[0], oldToken, 'the first attempt used the revoked token');
    assert.equal(rq.tokens.length, 2, `then a new one: ${JSON.stringify(rq.tokens)}`);
    assert.notEqual(rq.tokens[1], oldToken);
    assert.equal(rq.executions, 1);
    assert.equal(st.auth_failures, 1, 'exactly one refused request');
    // Later calls keep using the new token without another failure.
    assert.deepEqual((await rows('SELECT 9 AS nine')).rows, [[9]]);
    const after2 = await emu.stats();
    assert.equal(after2.auth_failures, 1);
    assert.equal(after2.last_request.token, rq.tokens[1]);
});

// ---- 6. cancellation reaches Snowflake ---------------------------------------

/**
 * Starts a 10 s statement through the SDK, lets stop(promise) abandon the
 * call once the emulator runs it, and returns how long until the emulator
 * saw the cancel for its handle.
 */
async function cancelled(startCall) {
    await emu.reset();
    const pending = startCall(`SELECT /*emu:slow=${10000 * SLOWDOWN}*/ 1 AS never`);
    pending.catch(() => {}); // inspected below
    const running = await waitStats(emu, (s) => s.running === 1, 10000 * SLOWDOWN, 'the slow statement to run');
    const rq = oneRequest(running, () => true, 'for the slow query');
    const handle = rq.handles[0];
    assert.equal(running.statements[handle].status, 'running');
    return { pending, handle };
}

async function expectCancel(handle, t0) {
    const st = await waitStats(
        emu,
        (s) => s.cancelled_handles.some((c) => c.handle === handle),
        5000 * SLOWDOWN,
        `a cancel of ${handle}`,
    );
    const ms = performance.now() - t0;
    const c = st.cancelled_handles.find((x) => x.handle === handle);
    assert.equal(c.was_running, true, 'it was cancelled while running');
    assert.equal(st.statements[handle].status, 'cancelled');
    // The statement is marked cancelled at once; the emulator's worker
    // thread that ran it ends a moment later.
    await waitStats(emu, (s) => s.running === 0, 5000 * SLOWDOWN, 'the cancelled statement to stop');
    assert.ok(ms < 2500 * SLOWDOWN, `the cancel reached the emulator ${ms.toFixed(0)} ms after the client gave up`);
    return ms;
}

async function stillResponsive() {
    const t0 = performance.now();
    assert.deepEqual((await rows('SELECT 3 AS three')).rows, [[3]]);
    return performance.now() - t0;
}

test('an aborted call (AbortSignal) cancels its statement in Snowflake', async (t) => {
    const ac = new AbortController();
    const { pending, handle } = await cancelled((q) =>
        call(srv.client, 'execute_query', { query: q }, { signal: ac.signal }),
    );
    const t0 = performance.now();
    ac.abort('the user gave up');
    await assert.rejects(withTimeout(pending, 5000, 'the aborted call'), (e) => {
        assert.match(String(e?.message ?? e), /gave up|abort/i);
        return true;
    });
    const ms = await expectCancel(handle, t0);
    const resp = await stillResponsive();
    t.diagnostic(`abort → cancel ${ms.toFixed(0)} ms; next call ${resp.toFixed(0)} ms`);
});

test('a call timing out in the SDK (timeout option) cancels its statement too', async (t) => {
    let t0;
    const { pending, handle } = await cancelled((q) => {
        t0 = performance.now();
        return call(srv.client, 'execute_query', { query: q }, { timeout: 1500 * SLOWDOWN });
    });
    await assert.rejects(withTimeout(pending, 10000, 'the timed-out call'), /timed out|timeout/i);
    const gaveUp = performance.now();
    assert.ok(gaveUp - t0 >= 1400 * SLOWDOWN, 'the SDK waited for its timeout');
    const ms = await expectCancel(handle, gaveUp);
    const resp = await stillResponsive();
    t.diagnostic(`timeout → cancel ${ms.toFixed(0)} ms; next call ${resp.toFixed(0)} ms`);
    assert.deepEqual(srv.errors, [], 'the client saw no protocol errors (no answer to a cancelled call)');
});
