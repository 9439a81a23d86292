// Starts `snowflake-mcp serve --http 127.0.0.1:0` for a test and finds its
// port from the "listening on" line. Node built-ins only, so that both the
// e2e tests and the conformance runner can import it. Every daemon started
// here is killed when the test process exits.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const daemons = new Set();
const dirs = new Set();
process.on('exit', () => {
    for (const d of daemons) {
        try {
            d.kill('SIGKILL');
        } catch {
            // already gone
        }
    }
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

export function tempDir(prefix = 'smcp-http-') {
    const d = mkdtempSync(join(tmpdir(), prefix));
    dirs.add(d);
    return d;
}

/**
 * Starts the daemon. Resolves { url, base, port, child, stderr(), exited, stop(signal) }
 * once it listens; rejects with its stderr if it exits or does not listen in time.
 */
export function startDaemon({ bin, cacheDir, args = [], env = {}, listen = '127.0.0.1:0', timeoutMs = 120000 }) {
    const dir = cacheDir || tempDir();
    const childEnv = {
        PATH: process.env.PATH || '/usr/bin:/bin',
        HOME: dir,
        SNOWFLAKE_MCP_CACHE_DIR: dir,
        SNOWFLAKE_MCP_LOG_LEVEL: 'info',
        ...env,
    };
    for (const k of ['ASAN_OPTIONS', 'TSAN_OPTIONS', 'LSAN_OPTIONS', 'UBSAN_OPTIONS']) {
        if (process.env[k] && !(k in childEnv)) childEnv[k] = process.env[k];
    }
    const child = spawn(bin, ['serve', '--http', listen, ...args], {
        cwd: dir,
        env: childEnv,
        stdio: ['ignore', 'pipe', 'pipe'],
    });
    daemons.add(child);
    let stderr = '';
    let stdout = '';
    const exited = new Promise((res) => {
        child.on('exit', (code, signal) => {
            daemons.delete(child);
            res({ code, signal });
        });
    });
    child.stdout.on('data', (d) => (stdout += d));
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
            child.kill('SIGKILL');
            reject(new Error(`daemon did not listen within ${timeoutMs} ms\n${stderr}`));
        }, timeoutMs);
        exited.then(({ code, signal }) => {
            clearTimeout(timer);
            reject(new Error(`daemon exited (code ${code}, signal ${signal}) before listening\n${stderr}`));
        });
        child.stderr.setEncoding('utf8');
        child.stderr.on('data', (d) => {
            stderr += d;
            const m = /listening on (http:\/\/[^ ]+:(\d+))\/mcp/.exec(stderr);
            if (m && timer) {
                clearTimeout(timer);
                const base = m[1];
                resolve({
                    base,
                    url: `${base}/mcp`,
                    port: Number(m[2]),
                    child,
                    stderr: () => stderr,
                    stdout: () => stdout,
                    exited,
                    async stop(signal = 'SIGTERM', ms = 60000) {
                        child.kill(signal);
                        const t = setTimeout(() => child.kill('SIGKILL'), ms);
                        const r = await exited;
                        clearTimeout(t);
                        return r;
                    },
                });
            }
        });
    });
}

/** Runs a program to completion; resolves { code, stdout, stderr }. */
export function runProgram(bin, args, { env = {}, timeoutMs = 60000 } = {}) {
    return new Promise((resolve, reject) => {
        const child = spawn(bin, args, { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        const t = setTimeout(() => {
            child.kill('SIGKILL');
            reject(new Error(`${bin} did not finish in ${timeoutMs} ms\n${stderr}`));
        }, timeoutMs);
        child.on('exit', (code) => {
            clearTimeout(t);
            resolve({ code, stdout, stderr });
        });
    });
}

/** Parses Prometheus text into a Map from "name{labels}" to a number. */
export function parseMetrics(text) {
    const m = new Map();
    for (const line of text.split('\n')) {
        if (!line || line.startsWith('#')) continue;
        const i = line.lastIndexOf(' ');
        m.set(line.slice(0, i), Number(line.slice(i + 1)));
    }
    return m;
}
