// Credentials against the Snowflake SQL API emulator (tests/snowemu):
// `snowflake-mcp check` with the registered key and with a wrong one, and
// programmatic access tokens read from SNOWFLAKE_TOKEN_FILE, rotated while
// the server runs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { tempDir, startClient, call, callOk, textOf, runCli } from './lib.mjs';
import { startEmu, makeKeyPair, tokenHash, oneRequest } from './sf_lib.mjs';

let emu;

before(async () => {
    emu = await startEmu({ token: 'pat-one' });
});

after(async () => {
    const e = await emu?.stop();
    if (e) assert.equal(e.signal ?? null, null, `snowemu ended by signal ${e.signal}`);
});

// ---- 8. snowflake-mcp check --------------------------------------------------------

test('check against the emulator: exit 0, "healthy" and the key fingerprint', async () => {
    await emu.reset();
    const r = await runCli(['check'], { cacheDir: tempDir(), env: emu.env() });
    assert.equal(r.code, 0, `exit status; stderr:\n${r.stderr}`);
    assert.equal(r.stdout.trim(), 'healthy');
    // The fingerprint computed here, the one the emulator registered and the
    // one check prints are the same.
    const fp = emu.user.fingerprint;
    assert.ok(emu.stderr().includes(`public key 1: ${fp}`), `the emulator registered ${fp}`);
    assert.match(r.stderr, new RegExp(`^key: +${fp.replace(/[+/]/g, '\\$&')}$`, 'm'));
    assert.match(r.stderr, /RSA_PUBLIC_KEY_FP/);
    assert.match(r.stderr, /^SELECT 1: +ok/m);
    assert.match(r.stderr, /^current user +ALICE$/m);
    assert.match(r.stderr, /^current wh +EMU_WH$/m);
    const st = await emu.stats();
    assert.ok(st.executions >= 2, `SELECT 1 and more ran: ${st.executions}`);
    assert.equal(st.auth_failures, 0);
    assert.equal(st.last_request.token_type, 'KEYPAIR_JWT');
});

test('check with a key the user does not have: exit 1 naming the fingerprint to compare', async () => {
    const other = makeKeyPair(tempDir(), 'other');
    assert.notEqual(other.fingerprint, emu.user.fingerprint);
    await emu.reset();
    const r = await runCli(['check'], { cacheDir: tempDir(), env: emu.env({ SNOWFLAKE_PRIVATE_KEY_PATH: other.key }) });
    assert.equal(r.code, 1, `exit status; stderr:\n${r.stderr}`);
    assert.equal(r.stdout.trim(), 'unhealthy');
    const verdict = r.stderr.split('\n').find((l) => /UNHEALTHY/.test(l));
    assert.ok(verdict, `an UNHEALTHY line in:\n${r.stderr}`);
    assert.match(verdict, /401/);
    assert.match(verdict, /390144/);
    assert.match(verdict, /RSA_PUBLIC_KEY_FP/);
    assert.ok(verdict.includes(other.fingerprint), `the message names the key in use: ${verdict}`);
    assert.match(verdict, /SNOWFLAKE_ACCOUNT/);
    const st = await emu.stats();
    assert.equal(st.executions, 0, 'nothing ran');
    assert.ok(st.auth_failures >= 1, 'the emulator refused the JWT');
});

// ---- 9. programmatic access token from a file, rotated ----------------------------

/** Key-pair variables out, PAT from tokenFile in. */
function patEnv(tokenFile) {
    const env = emu.env({ SNOWFLAKE_AUTH_TYPE: 'pat', SNOWFLAKE_TOKEN_FILE: tokenFile });
    delete env.SNOWFLAKE_PRIVATE_KEY_PATH;
    return env;
}

test('PAT from SNOWFLAKE_TOKEN_FILE: a rotated token is re-read after a 401, no restart', async () => {
    const dir = tempDir();
    const tokenFile = join(dir, 'pat');
    writeFileSync(tokenFile, 'pat-one\n');
    const srv = await startClient({ cacheDir: dir, env: patEnv(tokenFile) });
    try {
        await emu.reset();
        const dbs = await callOk(srv.client, 'list_databases');
        assert.ok(dbs.structuredContent.rows.length === 3, 'three databases');
        let st = await emu.stats();
        assert.equal(st.last_request.token_type, 'PROGRAMMATIC_ACCESS_TOKEN');
        assert.equal(st.last_request.token, tokenHash('pat-one'));
        assert.equal(st.auth_failures, 0);

        // Rotation: Snowflake accepts only the new token; the file has it.
        emu.setToken('pat-two');
        writeFileSync(tokenFile, 'pat-two\n');
        await emu.reset();
        const two = await callOk(srv.client, 'execute_query', { query: 'SELECT 2 AS two' });
        assert.deepEqual(two.structuredContent.rows, [[2]]);
        st = await emu.stats();
        const rq = oneRequest(st, () => true, 'for SELECT 2');
        assert.deepEqual(rq.tokens, [tokenHash('pat-one'), tokenHash('pat-two')], 'old token refused, new one used');
        assert.equal(rq.submissions, 2);
        assert.equal(rq.executions, 1);
        assert.equal(st.auth_failures, 1);
        const three = await callOk(srv.client, 'execute_query', { query: 'SELECT 3 AS three' });
        assert.deepEqual(three.structuredContent.rows, [[3]]);
        st = await emu.stats();
        assert.equal(st.auth_failures, 1, 'the new token stays in use');
        assert.equal(st.last_request.token, tokenHash('pat-two'));

        // Snowflake rotated but the file was not refreshed yet: an actionable
        // error, and once the file has the new token the next call works.
        emu.setToken('pat-three');
        const stale = await call(srv.client, 'execute_query', { query: 'SELECT 4 AS four' });
        assert.equal(stale.isError, true, `a stale token fails: ${textOf(stale)}`);
        assert.match(textOf(stale), /SNOWFLAKE_TOKEN_FILE/, 'the error says where the token comes from');
        assert.match(textOf(stale), /rejected|expired/i);
        writeFileSync(tokenFile, 'pat-three\n');
        const four = await callOk(srv.client, 'execute_query', { query: 'SELECT 4 AS four' });
        assert.deepEqual(four.structuredContent.rows, [[4]]);
        st = await emu.stats();
        assert.equal(st.last_request.token, tokenHash('pat-three'));
    } finally {
        await srv.close();
    }
});

test('check with PAT auth reports healthy and no key fingerprint', async () => {
    const dir = tempDir();
    const tokenFile = join(dir, 'pat');
    writeFileSync(tokenFile, 'pat-four\n');
    emu.setToken('pat-four');
    const r = await runCli(['check'], { cacheDir: dir, env: patEnv(tokenFile) });
    assert.equal(r.code, 0, `exit status; stderr:\n${r.stderr}`);
    assert.equal(r.stdout.trim(), 'healthy');
    assert.match(r.stderr, /^auth: +pat$/m);
    assert.doesNotMatch(r.stderr, /^key: /m, 'no key is involved');
    assert.doesNotMatch(r.stderr, /pat-four/, 'the token is never printed');
});
