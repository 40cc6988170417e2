// The build's last step: V8's code cache for the bundle (dist/span-relay.cjs.v8-cache, read by
// src/run-bundle.ts), made by starting the span-relay command once as users start it (its #! line:
// the same node flags, which a cache must match) on the embedded default config with every port
// moved to a random high one, waiting until it is ready, and stopping it: the cache then holds every
// function a start and a shutdown compile. Without it the command works, ~70 ms slower to start, so
// a training start that fails (three attempts) warns and the build goes on.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultConfigOnPorts } from '../dist/config/default.js';
// The loader as the command requires it (its CommonJS build, scripts/bundle.mjs).
import { BUNDLE_FILES, WRITE_CODE_CACHE_ENV } from '../dist/run-bundle.cjs';

const bin = fileURLToPath(new URL('../bin/span-relay.js', import.meta.url));

async function train() {
  rmSync(BUNDLE_FILES.cache, { force: true });
  const dir = mkdtempSync(join(tmpdir(), 'span-relay-code-cache-'));
  try {
    const base = 20_000 + Math.floor(Math.random() * 40_000);
    writeFileSync(join(dir, 'config.yaml'), defaultConfigOnPorts(base));
    // The #! line finds node on the PATH: the node running the build comes first.
    const child = spawn(bin, ['run', '--config', 'config.yaml'], {
      cwd: dir,
      env: { ...process.env, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`, [WRITE_CODE_CACHE_ENV]: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve(signal ?? code)));
    child.on('error', () => undefined);
    const deadline = Date.now() + 20_000;
    let ready = false;
    let ended;
    exited.then((r) => (ended = r));
    while (!ready && ended === undefined && Date.now() < deadline) {
      ready = (await fetch(`http://127.0.0.1:${base}/readyz`).catch(() => undefined))?.status === 200;
      if (!ready) await new Promise((r) => setTimeout(r, 20));
    }
    if (!ready) {
      child.kill('SIGKILL');
      await exited;
      return `the training start was not ready within 20 s (${ended !== undefined ? `it exited: ${ended}` : 'killed'}) ${stderr.trim().slice(0, 400)}`;
    }
    child.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 15_000).unref())]);
    if (code === 'timeout') child.kill('SIGKILL');
    if (code !== 0 || !existsSync(BUNDLE_FILES.cache)) return `the training start ended with ${code} and wrote no cache ${stderr.trim().slice(0, 400)}`;
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// A port taken by chance (each attempt picks ten at random) fails an attempt; three are made.
let failed;
for (let attempt = 0; attempt < 3 && (attempt === 0 || failed); attempt++) failed = await train();
if (failed) process.stderr.write(`span-relay build: no V8 code cache for dist/span-relay.cjs (the command works, ~70 ms slower to start): ${failed}\n`);
