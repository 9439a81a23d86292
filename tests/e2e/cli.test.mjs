// The command line: call, call --json, check, --help, --version, settings
// errors, .env handling, and a server whose stdout carries only JSON-RPC.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { TOOL_NAMES, SLOW_SQL, SLOWDOWN, tempDir, runCli, startRaw, checkJsonRpcLine, assertNoSanitizerReport } from './lib.mjs';

const cacheDir = tempDir();

before(async () => {
    const r = await runCli(['check'], { cacheDir });
    assert.equal(r.code, 0, r.stderr);
});

test('call list_databases prints a table with SALES and exits 0', async () => {
    const r = await runCli(['call', 'list_databases'], { cacheDir });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\| SALES \|/);
    assert.match(r.stdout, /\| MARKETING \|/);
    assert.match(r.stdout, /\| FINANCE \|/);
    assert.match(r.stdout, /^\d+ rows?\./m);
});

test('call with arguments runs the tool', async () => {
    const r = await runCli(['call', 'list_tables', '{"database":"SALES"}'], { cacheDir });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\| ORDERS \|/);
    const viaStdin = await runCli(['call', 'execute_query', '-'], {
        cacheDir,
        input: '{"query":"SELECT 40 + 2 AS answer"}',
    });
    assert.equal(viaStdin.code, 0, viaStdin.stderr);
    assert.match(viaStdin.stdout, /\| answer \|\n\| --- \|\n\| 42 \|/);
});

test('call of a refused statement exits 1 with the reason on stderr', async () => {
    const r = await runCli(['call', 'execute_query', '{"query":"DELETE FROM ORDERS"}'], { cacheDir });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '', 'nothing on stdout');
    assert.match(r.stderr, /Refused: .*DELETE/i);
});

test('call --json prints structuredContent as parseable JSON', async () => {
    const r = await runCli(['call', '--json', 'execute_query', '{"query":"SELECT count(*) AS n, NULL AS z FROM ORDERS"}'], { cacheDir });
    assert.equal(r.code, 0, r.stderr);
    const sc = JSON.parse(r.stdout);
    assert.deepEqual(sc.columns.map((c) => c.name.toLowerCase()), ['n', 'z']);
    assert.ok(Number.isInteger(sc.rows[0][0]) && sc.rows[0][0] >= 45000);
    assert.equal(sc.rows[0][1], null);
    assert.equal(sc.row_count, 1);
    assert.equal(sc.truncated, false);
    assert.equal(typeof sc.elapsed_ms, 'number');
});

test('call errors: bad JSON arguments, unknown tool, no tool', async () => {
    const badJson = await runCli(['call', 'execute_query', '{query:'], { cacheDir });
    assert.equal(badJson.code, 2);
    assert.match(badJson.stderr, /JSON/);
    const unknown = await runCli(['call', 'no_such_tool'], { cacheDir });
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no_such_tool/);
    const none = await runCli(['call'], { cacheDir });
    assert.equal(none.code, 2);
    assert.match(none.stderr, /tool/);
    const badArgs = await runCli(['call', 'execute_query', '{"query":"SELECT 1","limit":0}'], { cacheDir });
    assert.equal(badArgs.code, 1);
    assert.match(badArgs.stderr, /Invalid arguments: .*limit/);
});

test('a query time limit with a unit stops a slow call', async () => {
    const r = await runCli(['call', 'execute_query', JSON.stringify({ query: SLOW_SQL })], {
        cacheDir,
        env: { SNOWFLAKE_MCP_QUERY_TIMEOUT: '500ms' },
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Timed out/);
    assert.ok(r.ms < 10000 * SLOWDOWN, `took ${r.ms.toFixed(0)} ms`);
});

test('--help names every tool and the pool settings', async () => {
    const r = await runCli(['--help'], { cacheDir });
    assert.equal(r.code, 0);
    for (const name of TOOL_NAMES) assert.ok(r.stdout.includes(name), `--help mentions ${name}`);
    for (const env of ['SNOWFLAKE_POOL_MAX_SIZE', 'SNOWFLAKE_POOL_MIN_SIZE', 'SNOWFLAKE_MCP_QUERY_TIMEOUT', 'SNOWFLAKE_MCP_DSN']) {
        assert.ok(r.stdout.includes(env), `--help mentions ${env}`);
    }
    assert.match(r.stdout, /Usage:/);
});

test('--version prints the name and a version', async () => {
    const r = await runCli(['--version'], { cacheDir });
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^snowflake-mcp \d+\.\d+\.\d+\S*\n$/);
});

test('check prints healthy on stdout and details on stderr', async () => {
    const r = await runCli(['check'], { cacheDir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'healthy\n');
    assert.match(r.stderr, /pool/);
    assert.match(r.stderr, /demo/i);
});

test('check of a DSN that cannot be opened fails', async () => {
    const missing = join(cacheDir, 'no', 'such', 'dir', 'x.db');
    const r = await runCli(['--dsn', `sqlite://${missing}`, 'check'], { cacheDir });
    assert.notEqual(r.code, 0);
    assert.doesNotMatch(r.stdout, /healthy/);
    assert.ok(r.stderr.includes(missing), `the reason names the path: ${r.stderr}`);
});

test('check does not silently ignore arguments after the command', async () => {
        const missing = join(cacheDir, 'no', 'such', 'dir', 'x.db');
        const r = await runCli(['check', '--dsn', `sqlite://${missing}`], { cacheDir });
        assert.notEqual(r.code, 0, `exit code; stdout ${JSON.stringify(r.stdout)}`);
        assert.doesNotMatch(r.stdout, /healthy/);
    },
);

test('a bad setting exits 2 naming the variable', async () => {
    const r = await runCli(['check'], { cacheDir, env: { SNOWFLAKE_POOL_MAX_SIZE: 'abc' } });
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /SNOWFLAKE_POOL_MAX_SIZE/);
    assert.match(r.stderr, /abc/);
    // The server mode refuses to start the same way.
    const s = await runCli([], { cacheDir, env: { SNOWFLAKE_MCP_QUERY_TIMEOUT: 'soon' } });
    assert.equal(s.code, 2);
    assert.equal(s.stdout, '');
    assert.match(s.stderr, /SNOWFLAKE_MCP_QUERY_TIMEOUT/);
    const range = await runCli(['check'], { cacheDir, env: { SNOWFLAKE_MCP_MAX_MESSAGE_BYTES: '10' } });
    assert.equal(range.code, 2);
    assert.match(range.stderr, /SNOWFLAKE_MCP_MAX_MESSAGE_BYTES/);
});

test('.env in the working directory is read, and --no-env-file ignores it', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, '.env'), '# settings\nSNOWFLAKE_POOL_MAX_SIZE=abc\n');
    const r = await runCli(['check'], { cacheDir, cwd: dir });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /SNOWFLAKE_POOL_MAX_SIZE/);
    const ignored = await runCli(['--no-env-file', 'check'], { cacheDir, cwd: dir });
    assert.equal(ignored.code, 0, ignored.stderr);
    assert.equal(ignored.stdout, 'healthy\n');
    // The environment wins over .env.
    writeFileSync(join(dir, '.env'), 'SNOWFLAKE_DATABASE=FINANCE\n');
    const db = await runCli(['call', '--json', 'execute_query', '{"query":"SELECT count(*) FROM ACCOUNTS"}'], { cacheDir, cwd: dir });
    assert.equal(db.code, 0, db.stderr);
    assert.ok(JSON.parse(db.stdout).rows[0][0] > 0, '.env chose FINANCE as the default database');
    const env = await runCli(['call', '--json', 'execute_query', '{"query":"SELECT count(*) FROM ORDERS"}'], {
        cacheDir,
        cwd: dir,
        env: { SNOWFLAKE_DATABASE: 'SALES' },
    });
    assert.equal(env.code, 0, env.stderr);
    assert.ok(JSON.parse(env.stdout).rows[0][0] >= 45000, 'the environment overrode .env');
});

test('an unknown command or option exits 2', async () => {
    const r = await runCli(['serv'], { cacheDir });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /serv/);
    const f = await runCli(['--no-such-flag'], { cacheDir });
    assert.equal(f.code, 2);
    assert.equal(f.stdout, '');
});

test('server mode: stdout carries only JSON-RPC, logs go to stderr', async () => {
    const raw = startRaw({ cacheDir, env: { SNOWFLAKE_MCP_LOG_LEVEL: 'debug' } });
    try {
        await raw.handshake();
        const ids = [
            raw.request('tools/list'),
            raw.request('tools/call', { name: 'list_databases', arguments: {} }),
            raw.request('tools/call', { name: 'execute_query', arguments: { query: 'DROP TABLE ORDERS' } }),
            raw.request('tools/call', { name: 'execute_query', arguments: { query: 'SELECT * FROM no_such_table' } }),
        ];
        for (const id of ids) await raw.response(id);
        raw.child.stdin.end();
        const ex = await raw.waitExit(5000 * SLOWDOWN);
        assert.ok(ex, 'exited after stdin EOF');
        assert.equal(ex.code, 0);
    } finally {
        await raw.kill();
    }
    assert.ok(raw.lines.length >= 5);
    for (const line of raw.lines) checkJsonRpcLine(line);
    assert.equal(raw.partial(), '');
    assertNoSanitizerReport(raw.stderr());
    assert.ok(raw.stderr().length > 0, 'debug logs went to stderr');
    assert.match(raw.stderr(), /demo/i, 'the demo notice is on stderr');
});
