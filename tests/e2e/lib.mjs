// Shared helpers for the end-to-end tests: they drive the real snowflake-mcp
// binary, through the official MCP TypeScript SDK client over stdio or as a
// raw child process speaking newline-delimited JSON-RPC.
//
// Every child process started here is tracked and killed when the test file's
// process exits, so a failing assertion never leaves a server running.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const here = dirname(fileURLToPath(import.meta.url));

export const SOURCE_DIR = process.env.SMCP_SOURCE_DIR || resolve(here, '..', '..');
export const BIN = process.env.SMCP_BIN || join(SOURCE_DIR, 'build', 'e2e', 'snowflake-mcp');
/** "" for a plain build, "asan" or "tsan" for a sanitizer build. */
export const SANITIZE = process.env.SMCP_SANITIZE || '';

if (!existsSync(BIN)) {
    throw new Error(`snowflake-mcp binary not found at ${BIN}: build it or set SMCP_BIN`);
}

/** Sanitizers slow everything down several times; bounds scale with this. */
export const SLOWDOWN = SANITIZE ? 5 : 1;

/** A SQLite query that runs for minutes unless stopped. */
export const SLOW_SQL =
    'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 2000000000) ' +
    'SELECT count(*) FROM c';

export const TOOL_NAMES = [
    'list_databases',
    'list_schemas',
    'list_tables',
    'list_views',
    'describe_table',
    'describe_view',
    'query_view',
    'execute_query',
];

const children = new Set();
const tempDirs = new Set();

process.on('exit', () => {
    for (const c of children) {
        try {
            c.kill('SIGKILL');
        } catch {
            // already gone
        }
    }
    for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

/** A fresh temporary directory, removed when the process exits. */
export function tempDir(prefix = 'smcp-e2e-') {
    const d = mkdtempSync(join(tmpdir(), prefix));
    tempDirs.add(d);
    return d;
}

/** Removes a directory made by tempDir now (for tests that want it gone early). */
export function removeTempDir(d) {
    tempDirs.delete(d);
    rmSync(d, { recursive: true, force: true });
}

/**
 * The environment for a server: the cache dir (never the user's), quiet
 * logs unless asked, and the sanitizer options of the calling environment.
 * No SNOWFLAKE_* variable of the caller leaks in.
 */
export function serverEnv(cacheDir, extra = {}) {
    const env = {
        PATH: process.env.PATH || '/usr/bin:/bin',
        HOME: cacheDir,
        SNOWFLAKE_MCP_CACHE_DIR: cacheDir,
        SNOWFLAKE_MCP_LOG_LEVEL: 'warning',
    };
    for (const k of ['ASAN_OPTIONS', 'TSAN_OPTIONS', 'LSAN_OPTIONS', 'UBSAN_OPTIONS']) {
        if (process.env[k]) env[k] = process.env[k];
    }
    return { ...env, ...extra };
}

/** Fails when a sanitizer (ASan, LSan, TSan, UBSan) reported anything on stderr. */
export function assertNoSanitizerReport(stderr, what = 'server') {
    const m = /(ERROR|WARNING): (AddressSanitizer|LeakSanitizer|ThreadSanitizer|UndefinedBehaviorSanitizer)|runtime error: /.exec(stderr);
    assert.ok(!m, `${what} stderr has a sanitizer report:\n${stderr.slice(Math.max(0, (m?.index ?? 0) - 200))}`);
}

/** Rejects with a clear message when p does not settle within ms. */
export function withTimeout(p, ms, what) {
    let timer;
    const t = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    });
    return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

export function sleep(ms) {
    return new Promise((r) => setTimeout(r, ms));
}

/**
 * Starts the server under the SDK client and completes the MCP handshake.
 * Returns { client, transport, stderr(), close() }; close() always ends the
 * child (the transport escalates to SIGTERM/SIGKILL).
 */
export async function startClient({ cacheDir, env = {}, args = [], cwd } = {}) {
    const transport = new StdioClientTransport({
        command: BIN,
        args,
        env: serverEnv(cacheDir, env),
        cwd: cwd || cacheDir,
        stderr: 'pipe',
    });
    let stderrText = '';
    transport.stderr.on('data', (chunk) => {
        stderrText += chunk.toString();
    });
    const client = new Client({ name: 'snowflake-mcp-e2e', version: '1.0.0' });
    const errors = [];
    client.onerror = (e) => errors.push(e);
    let closed = false;
    const close = async () => {
        if (closed) return;
        closed = true;
        await withTimeout(client.close(), 10000, 'client.close');
        await sleep(50); // the last stderr bytes pass through a stream
        assertNoSanitizerReport(stderrText);
    };
    try {
        // Demo generation happens before the server reads stdin; allow for it.
        await withTimeout(client.connect(transport, { timeout: 120000 }), 150000, 'connect');
    } catch (e) {
        await close().catch(() => {});
        throw new Error(`${e.message}\nserver stderr:\n${stderrText}`);
    }
    const pid = transport.pid;
    if (pid) {
        // Tracked so that even a crashed test kills it; removed on exit.
        const proxy = { kill: (sig) => process.kill(pid, sig) };
        children.add(proxy);
        // The client installed its own onclose in connect(): chain, do not replace.
        const clientOnClose = transport.onclose;
        transport.onclose = () => {
            children.delete(proxy);
            clientOnClose?.();
        };
    }
    return { client, transport, stderr: () => stderrText, errors, close };
}

/** The text of a CallToolResult's first content block. */
export function textOf(result) {
    assert.ok(Array.isArray(result.content), 'result.content is an array');
    assert.ok(result.content.length >= 1, 'result has at least one content block');
    assert.equal(result.content[0].type, 'text');
    assert.equal(typeof result.content[0].text, 'string');
    return result.content[0].text;
}

/** callTool with a bounded wait; the SDK also validates structuredContent. */
export async function call(client, name, args = {}, options = {}) {
    const timeout = options.timeout ?? 30000 * SLOWDOWN;
    return withTimeout(
        client.callTool({ name, arguments: args }, undefined, { timeout, ...options }),
        timeout + 5000,
        `tools/call ${name} ${JSON.stringify(args)}`,
    );
}

/** Calls a tool that must succeed; returns its result. */
export async function callOk(client, name, args = {}, options = {}) {
    const r = await call(client, name, args, options);
    assert.notEqual(r.isError, true, `${name} ${JSON.stringify(args)} failed: ${r.content?.[0]?.text}`);
    return r;
}

/** Calls a tool that must fail as a tool error; returns its text. */
export async function callErr(client, name, args = {}, options = {}) {
    const r = await call(client, name, args, options);
    assert.equal(r.isError, true, `${name} ${JSON.stringify(args)} should fail: ${r.content?.[0]?.text}`);
    assert.equal(r.structuredContent, undefined, 'an error result carries no structuredContent');
    return textOf(r);
}

/** Index of a column by case-insensitive name; -1 if absent. */
export function colIndex(sc, name) {
    return sc.columns.findIndex((c) => c.name.toUpperCase() === name.toUpperCase());
}

/** The values of one column (case-insensitive name). */
export function column(sc, name) {
    const i = colIndex(sc, name);
    assert.ok(i >= 0, `column ${name} in ${sc.columns.map((c) => c.name).join(', ')}`);
    return sc.rows.map((r) => r[i]);
}

// ---- a small JSON Schema checker (the subset the server's schemas use) ----

function typeOk(v, t) {
    switch (t) {
        case 'object':
            return v !== null && typeof v === 'object' && !Array.isArray(v);
        case 'array':
            return Array.isArray(v);
        case 'string':
            return typeof v === 'string';
        case 'integer':
            return Number.isInteger(v);
        case 'number':
            return typeof v === 'number' && Number.isFinite(v);
        case 'boolean':
            return typeof v === 'boolean';
        case 'null':
            return v === null;
        default:
            throw new Error(`schema type ${t} not understood by this checker`);
    }
}

/** Checks v against schema (type, properties, required, items); throws on mismatch. */
export function checkSchema(v, schema, path = '$') {
    if (schema.type !== undefined) {
        const types = Array.isArray(schema.type) ? schema.type : [schema.type];
        assert.ok(
            types.some((t) => typeOk(v, t)),
            `${path}: ${JSON.stringify(v)?.slice(0, 80)} is not ${types.join('|')}`,
        );
    }
    if (schema.required) {
        for (const k of schema.required) assert.ok(k in v, `${path}: required key ${k} missing`);
    }
    if (schema.properties && v && typeof v === 'object') {
        for (const [k, sub] of Object.entries(schema.properties)) {
            if (k in v) checkSchema(v[k], sub, `${path}.${k}`);
        }
        if (schema.additionalProperties === false) {
            for (const k of Object.keys(v)) {
                assert.ok(k in schema.properties, `${path}: unexpected key ${k}`);
            }
        }
    }
    if (schema.items && Array.isArray(v)) {
        v.forEach((item, i) => checkSchema(item, schema.items, `${path}[${i}]`));
    }
}

/**
 * Checks a successful result's structuredContent against the tool's
 * published outputSchema, then the invariants the schema cannot say.
 */
export function checkStructured(result, outputSchema) {
    const sc = result.structuredContent;
    assert.ok(sc, 'a successful result has structuredContent');
    checkSchema(sc, outputSchema);
    for (const k of Object.keys(sc)) {
        assert.ok(k in outputSchema.properties, `structuredContent key ${k} is in the outputSchema`);
    }
    assert.equal(sc.row_count, sc.rows.length, 'row_count equals the number of rows');
    for (const row of sc.rows) {
        assert.equal(row.length, sc.columns.length, 'each row has one value per column');
    }
    assert.ok(sc.elapsed_ms >= 0, 'elapsed_ms is not negative');
    if (sc.truncated_by !== undefined) assert.equal(sc.truncated, true, 'truncated_by implies truncated');
    return sc;
}

/** The summary line of a result text ("N rows." or "N rows shown (row limit N)…"). */
export function summaryOf(text) {
    const lines = text.split('\n').filter((l) => /^\d+ rows?\b/.test(l));
    assert.equal(lines.length, 1, `one summary line in:\n${text}`);
    return lines[0];
}

// ---- raw child process ----------------------------------------------------

/**
 * Starts the server as a plain child process. Collects stdout lines (every
 * one is kept for later checks) and stderr text.
 */
export function startRaw({ cacheDir, env = {}, args = [], cwd } = {}) {
    const child = spawn(BIN, args, {
        env: serverEnv(cacheDir, env),
        cwd: cwd || cacheDir,
        stdio: ['pipe', 'pipe', 'pipe'],
    });
    children.add(child);
    const lines = [];
    const waiters = [];
    let buf = '';
    let stderr = '';
    let stdinError = null;
    child.stdin.on('error', (e) => {
        stdinError = e;
    });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => {
        buf += d;
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            lines.push(line);
            for (const w of [...waiters]) w.check();
        }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d) => {
        stderr += d;
    });
    const exited = new Promise((res) => {
        child.on('exit', (code, signal) => {
            children.delete(child);
            res({ code, signal });
        });
    });
    let nextId = 1;
    const raw = {
        child,
        lines,
        stderr: () => stderr,
        /** Leftover stdout bytes after the last newline (should stay empty). */
        partial: () => buf,
        stdinError: () => stdinError,
        exited,
        /** Writes text as-is (add the newline yourself). */
        write(text) {
            child.stdin.write(text);
        },
        /** Sends a message object as one line. */
        send(obj) {
            child.stdin.write(JSON.stringify(obj) + '\n');
        },
        /** Sends a request with a fresh id; returns the id. */
        request(method, params) {
            const id = nextId++;
            const msg = { jsonrpc: '2.0', id, method };
            if (params !== undefined) msg.params = params;
            raw.send(msg);
            return id;
        },
        /** Resolves with the first parsed stdout message (from index `from`) matching pred. */
        waitFor(pred, ms, what, from = 0) {
            return new Promise((resolveW, rejectW) => {
                const w = {
                    check() {
                        for (let i = from; i < lines.length; i++) {
                            let m;
                            try {
                                m = JSON.parse(lines[i]);
                            } catch {
                                continue;
                            }
                            if (pred(m)) {
                                done();
                                resolveW(m);
                                return;
                            }
                        }
                    },
                };
                const timer = setTimeout(() => {
                    done();
                    rejectW(
                        new Error(
                            `timed out after ${ms} ms waiting for ${what}\nstdout:\n${lines.join('\n')}\nstderr:\n${stderr}`,
                        ),
                    );
                }, ms);
                const done = () => {
                    clearTimeout(timer);
                    const i = waiters.indexOf(w);
                    if (i >= 0) waiters.splice(i, 1);
                };
                waiters.push(w);
                w.check();
            });
        },
        /** The response to request id. */
        response(id, ms = 10000 * SLOWDOWN) {
            return raw.waitFor((m) => m.id === id && !('method' in m), ms, `response to id ${id}`);
        },
        /** initialize + notifications/initialized. */
        async handshake() {
            const id = raw.request('initialize', {
                protocolVersion: '2025-06-18',
                capabilities: {},
                clientInfo: { name: 'raw-e2e', version: '1.0.0' },
            });
            const r = await raw.response(id, 120000);
            assert.ok(r.result, `initialize succeeded: ${JSON.stringify(r)}`);
            raw.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
            return r.result;
        },
        /** Waits for exit up to ms; resolves {code, signal, ms} or null on timeout. */
        async waitExit(ms) {
            const t0 = performance.now();
            let timer;
            const r = await Promise.race([
                exited,
                new Promise((res) => {
                    timer = setTimeout(() => res(null), ms);
                }),
            ]);
            clearTimeout(timer);
            return r && { ...r, ms: performance.now() - t0 };
        },
        /** Ends the process for sure (closing stdin, then signals). */
        async kill() {
            if (child.exitCode !== null || child.signalCode !== null) return;
            child.stdin.end();
            if (await raw.waitExit(3000)) return;
            child.kill('SIGTERM');
            if (await raw.waitExit(3000)) return;
            child.kill('SIGKILL');
            await raw.waitExit(3000);
        },
    };
    return raw;
}

/** Asserts that one stdout line is a JSON-RPC 2.0 message and returns it. */
export function checkJsonRpcLine(line) {
    let m;
    assert.doesNotThrow(() => {
        m = JSON.parse(line);
    }, `stdout line is JSON: ${line.slice(0, 200)}`);
    assert.ok(m && typeof m === 'object' && !Array.isArray(m), `an object: ${line.slice(0, 200)}`);
    assert.equal(m.jsonrpc, '2.0', `jsonrpc 2.0: ${line.slice(0, 200)}`);
    if ('method' in m) {
        assert.equal(typeof m.method, 'string');
        assert.ok(!('result' in m) && !('error' in m), 'a notification has no result/error');
        assert.ok(!('id' in m), `the server sends notifications only, not requests: ${line.slice(0, 200)}`);
    } else {
        assert.ok('id' in m, `a response has an id: ${line.slice(0, 200)}`);
        assert.ok(
            m.id === null || typeof m.id === 'string' || Number.isInteger(m.id),
            'id is a string, integer or null',
        );
        assert.ok(('result' in m) !== ('error' in m), `exactly one of result/error: ${line.slice(0, 200)}`);
        if ('error' in m) {
            assert.ok(Number.isInteger(m.error.code), 'error.code is an integer');
            assert.equal(typeof m.error.message, 'string');
        }
    }
    return m;
}

// ---- one-shot CLI runs ----------------------------------------------------

/**
 * Runs the binary with args to completion (killed after timeoutMs).
 * Resolves { code, signal, stdout, stderr, ms }.
 */
export function runCli(args, { cacheDir, env = {}, cwd, input, timeoutMs = 60000 * SLOWDOWN } = {}) {
    return new Promise((resolveRun, rejectRun) => {
        const t0 = performance.now();
        const child = spawn(BIN, args, {
            env: serverEnv(cacheDir, env),
            cwd: cwd || cacheDir,
            stdio: ['pipe', 'pipe', 'pipe'],
        });
        children.add(child);
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        child.stdin.on('error', () => {});
        const timer = setTimeout(() => {
            child.kill('SIGKILL');
            rejectRun(new Error(`${args.join(' ')} did not finish in ${timeoutMs} ms\nstderr:\n${stderr}`));
        }, timeoutMs);
        child.on('error', (e) => {
            clearTimeout(timer);
            rejectRun(e);
        });
        child.on('close', (code, signal) => {
            clearTimeout(timer);
            children.delete(child);
            try {
                assertNoSanitizerReport(stderr, args.join(' '));
            } catch (e) {
                rejectRun(e);
                return;
            }
            resolveRun({ code, signal, stdout, stderr, ms: performance.now() - t0 });
        });
        if (input !== undefined) child.stdin.end(input);
        else child.stdin.end();
    });
}
