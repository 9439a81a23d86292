// Helpers for the Snowflake end-to-end tests: they start the SQL API
// emulator tests/snowemu (binary SMCP_SNOWEMU, else `snowemu` beside the
// server binary) in a temporary directory with its own CA, server
// certificate and user key, read its /emu/* control endpoints, and build the
// SNOWFLAKE_* environment that points snowflake-mcp at it.
//
// Everything listens on 127.0.0.1 only. Every emulator started here is
// stopped by its test's after hook (stop()), and killed when the test
// process exits in any case.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, createPublicKey } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { dirname, join } from 'node:path';
import assert from 'node:assert/strict';

import { BIN, SOURCE_DIR, SLOWDOWN, tempDir, sleep, withTimeout, assertNoSanitizerReport } from './lib.mjs';

export const SNOWEMU = process.env.SMCP_SNOWEMU || join(dirname(BIN), 'snowemu');
if (!existsSync(SNOWEMU)) {
    throw new Error(`snowemu binary not found at ${SNOWEMU}: build the target snowemu or set SMCP_SNOWEMU`);
}

export const ACCOUNT = 'ACME';
export const USER = 'ALICE';

const emulators = new Set();
process.on('exit', () => {
    for (const c of emulators) {
        try {
            c.kill('SIGKILL');
        } catch {
            // already gone
        }
    }
});

function run(cmd, args) {
    const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60000 });
    if (r.status !== 0) {
        throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}`);
    }
    return r.stdout;
}

/** "SHA256:<base64>" of a PEM public key, as Snowflake's RSA_PUBLIC_KEY_FP shows it. */
export function fingerprintOf(pubPem) {
    const der = createPublicKey(pubPem).export({ type: 'spki', format: 'der' });
    return 'SHA256:' + createHash('sha256').update(der).digest('base64');
}

/** The emulator's 16-hex token id (first 16 hex digits of sha256). */
export function tokenHash(token) {
    return createHash('sha256').update(token).digest('hex').slice(0, 16);
}

/** A fresh RSA 2048 key pair made with openssl in dir: { key, pub, fingerprint }. */
export function makeKeyPair(dir, name) {
    const key = join(dir, `${name}.key`);
    const pub = join(dir, `${name}.pub`);
    run('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', key]);
    run('openssl', ['pkey', '-in', key, '-pubout', '-out', pub]);
    return { key, pub, fingerprint: fingerprintOf(readFileSync(pub, 'utf8')) };
}

/** One HTTPS request to 127.0.0.1:port trusting ca; resolves { status, headers, body }. */
export function httpsRequest(port, ca, method, path, { headers = {}, body, timeoutMs = 10000 } = {}) {
    const p = new Promise((resolveR, rejectR) => {
        const req = https.request(
            { host: '127.0.0.1', port, method, path, ca, headers, agent: false },
            (res) => {
                const chunks = [];
                res.on('data', (c) => chunks.push(c));
                res.on('end', () =>
                    resolveR({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
                );
                res.on('error', rejectR);
            },
        );
        req.on('error', rejectR);
        req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path}: no answer in ${timeoutMs} ms`)));
        req.end(body);
    });
    return withTimeout(p, timeoutMs + 1000, `${method} ${path}`);
}

/**
 * Starts snowemu in a fresh temporary directory: certificates by
 * gen-certs.sh, a user key by openssl, the demo warehouse in its own cache
 * dir. Options: rowsPerPartition (default 100), token (the PAT/OAuth
 * secret written to the emulator's --token-file; default none), args.
 */
export async function startEmu({ rowsPerPartition = 100, token, args = [] } = {}) {
    const dir = tempDir('smcp-sf-e2e-');
    run('bash', [join(SOURCE_DIR, 'tests', 'snowemu', 'gen-certs.sh'), join(dir, 'certs')]);
    const user = makeKeyPair(dir, 'user');
    const caFile = join(dir, 'certs', 'ca.pem');
    const ca = readFileSync(caFile);
    const readyFile = join(dir, 'ready');
    const emuTokenFile = join(dir, 'emu-token');
    const argv = [
        '--cert', join(dir, 'certs', 'server.pem'),
        '--key', join(dir, 'certs', 'server.key'),
        '--cache-dir', join(dir, 'cache'),
        '--account', ACCOUNT,
        '--user', USER,
        '--public-key', user.pub,
        '--rows-per-partition', String(rowsPerPartition),
        '--ready-file', readyFile,
        '--idle-timeout', '300',
    ];
    if (token !== undefined) {
        writeFileSync(emuTokenFile, token + '\n');
        argv.push('--token-file', emuTokenFile);
    }
    argv.push(...args);
    const env = { PATH: process.env.PATH || '/usr/bin:/bin' };
    for (const k of ['ASAN_OPTIONS', 'LSAN_OPTIONS', 'UBSAN_OPTIONS', 'TSAN_OPTIONS']) {
        if (process.env[k]) env[k] = process.env[k];
    }
    const child = spawn(SNOWEMU, argv, { env, cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    emulators.add(child);
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise((res) =>
        child.on('exit', (code, signal) => {
            emulators.delete(child);
            res({ code, signal });
        }),
    );
    let gone = null;
    exited.then((e) => (gone = e));

    // The ready file is written atomically once the emulator listens.
    const limit = performance.now() + 60000 * SLOWDOWN;
    let port;
    for (;;) {
        if (existsSync(readyFile)) {
            const [p, pid] = readFileSync(readyFile, 'utf8').trim().split(/\s+/).map(Number);
            assert.equal(pid, child.pid, 'the ready file names the emulator we started');
            port = p;
            break;
        }
        if (gone) throw new Error(`snowemu exited early (${JSON.stringify(gone)}):\n${stderr}`);
        if (performance.now() > limit) {
            child.kill('SIGKILL');
            throw new Error(`snowemu not ready within ${60 * SLOWDOWN} s:\n${stderr}`);
        }
        await sleep(50);
    }

    const control = async (method, path) => {
        const r = await httpsRequest(port, ca, method, path);
        assert.equal(r.status, 200, `${method} ${path}: ${r.body}`);
        return r.body;
    };
    const emu = {
        dir,
        port,
        pid: child.pid,
        caFile,
        ca,
        user,
        emuTokenFile,
        host: `127.0.0.1:${port}`,
        stderr: () => stderr,
        /** The /emu/stats counters. */
        async stats() {
            return JSON.parse(await control('GET', '/emu/stats'));
        },
        /** Zeroes the counters (statements stay). */
        async reset() {
            await control('POST', '/emu/reset');
        },
        /** Every token seen so far is refused from now on. */
        async expireTokens() {
            await control('POST', '/emu/expire-tokens');
        },
        /** Writes the token the emulator accepts from now on. */
        setToken(t) {
            writeFileSync(emuTokenFile, t + '\n');
        },
        /** SNOWFLAKE_* environment for a key-pair client of this emulator. */
        env(extra = {}) {
            return {
                SNOWFLAKE_ACCOUNT: ACCOUNT,
                SNOWFLAKE_USER: USER,
                SNOWFLAKE_PRIVATE_KEY_PATH: user.key,
                SNOWFLAKE_HOST: `127.0.0.1:${port}`,
                SNOWFLAKE_CA_FILE: caFile,
                SNOWFLAKE_DATABASE: 'SALES',
                SNOWFLAKE_SCHEMA: 'PUBLIC',
                SNOWFLAKE_WAREHOUSE: 'EMU_WH',
                ...extra,
            };
        },
        /** SIGTERM, then waits for the exit; resolves { code, signal }. */
        async stop() {
            if (!gone) {
                child.kill('SIGTERM');
                let timer;
                const r = await Promise.race([
                    exited,
                    new Promise((res) => {
                        timer = setTimeout(() => res(null), 10000);
                    }),
                ]);
                clearTimeout(timer);
                if (!r) {
                    child.kill('SIGKILL');
                    await withTimeout(exited, 5000, 'snowemu SIGKILL');
                    throw new Error(`snowemu did not stop on SIGTERM within 10 s:\n${stderr}`);
                }
            }
            await sleep(50);
            assertNoSanitizerReport(stderr, 'snowemu');
            return gone;
        },
    };
    return emu;
}

/**
 * A recording HTTPS proxy in front of the emulator (same certificate, so the
 * client trusts it with the emulator's CA): every request it forwards is kept
 * as { method, path, headers, body }, so a test sees exactly what the client
 * sent, body included, which /emu/stats does not show.
 */
export async function startRecordingProxy(emu) {
    const records = [];
    const server = https.createServer(
        {
            cert: readFileSync(join(emu.dir, 'certs', 'server.pem')),
            key: readFileSync(join(emu.dir, 'certs', 'server.key')),
        },
        (req, res) => {
            const chunks = [];
            req.on('data', (c) => chunks.push(c));
            req.on('end', () => {
                const body = Buffer.concat(chunks);
                records.push({ method: req.method, path: req.url, headers: req.headers, body: body.toString('utf8') });
                const headers = { ...req.headers, host: emu.host };
                const up = https.request(
                    { host: '127.0.0.1', port: emu.port, method: req.method, path: req.url, headers, ca: emu.ca },
                    (ur) => {
                        res.writeHead(ur.statusCode, ur.headers);
                        ur.pipe(res);
                    },
                );
                up.on('error', (e) => {
                    res.writeHead(502, { 'content-type': 'text/plain' });
                    res.end(`proxy: ${e.message}`);
                });
                up.end(body);
            });
        },
    );
    await withTimeout(new Promise((r) => server.listen(0, '127.0.0.1', r)), 5000, 'proxy listen');
    return {
        port: server.address().port,
        host: `127.0.0.1:${server.address().port}`,
        records,
        async close() {
            server.closeAllConnections();
            await withTimeout(new Promise((r) => server.close(r)), 5000, 'proxy close');
        },
    };
}

// ---- reading /emu/stats ------------------------------------------------------

/** [requestId, record] pairs of stats.requests matching pred(record). */
export function requestsWhere(stats, pred = () => true) {
    return Object.entries(stats.requests).filter(([, r]) => pred(r));
}

/** The one request matching pred; fails when there is not exactly one. */
export function oneRequest(stats, pred, what) {
    const found = requestsWhere(stats, pred);
    assert.equal(found.length, 1, `exactly one request ${what} in ${JSON.stringify(stats.requests)}`);
    return { id: found[0][0], ...found[0][1] };
}

/** Polls /emu/stats (a test helper, every 25 ms) until pred(stats) holds; resolves the stats. */
export async function waitStats(emu, pred, ms, what) {
    const limit = performance.now() + ms;
    for (;;) {
        const s = await emu.stats();
        if (pred(s)) return s;
        if (performance.now() > limit) {
            throw new Error(`timed out after ${ms} ms waiting for ${what}; stats: ${JSON.stringify(s)}`);
        }
        await sleep(25);
    }
}
