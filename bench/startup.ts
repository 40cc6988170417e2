/**
 * Startup as users meet it (a part of `npm run bench`; alone: `node --import tsx bench/startup.ts`):
 * `span-relay run` on the embedded default config (every receiver, memory_limiter, join, batch, the
 * embedded store and its trace page), compiled, from the CLI, in an empty directory. Each endpoint is
 * moved to a random high port (the bench must not take the standard ones); nothing else changes.
 * Measured: from spawn to /readyz answering 200 (polled every 5 ms), the RSS 2 s later, and the RSS
 * when idle (12 s later: V8's memory reducer gives back what startup left behind after 8 s idle).
 * Beside it, the per-module build (SPAN_RELAY_UNBUNDLED=1) and bare node started the same way, the
 * floor no Node program goes below.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { defaultConfigOnPorts } from '../collector/src/config/default.js';
import { launchCollector } from './testbed.js';
import { median } from './median.js';

export interface StartupRow {
  readyMs: number;
  /** RSS 2 s after ready. */
  startedRssMiB: number;
  /** RSS 12 s after ready: idle long enough for V8's memory reducer (its first pass is at 8 s). */
  idleRssMiB: number;
}

function rssMiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}

async function once(env: NodeJS.ProcessEnv): Promise<StartupRow> {
  const collector = await launchCollector({ configFor: defaultConfigOnPorts, adminPort: (base) => base, cwdIsTempDir: true, env, pollMs: 5 });
  await new Promise((r) => setTimeout(r, 2000));
  const startedRssMiB = rssMiB(collector.pid);
  await new Promise((r) => setTimeout(r, 10_000));
  const idleRssMiB = rssMiB(collector.pid);
  await collector.stop();
  return { readyMs: collector.readyMs, startedRssMiB, idleRssMiB };
}

/** Bare node, spawned and timed the same way: from spawn to the child's first output. */
async function bareNode(): Promise<StartupRow> {
  const t0 = performance.now();
  const proc = spawn(process.execPath, ['-e', 'console.log(1); setTimeout(() => {}, 2500)'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const readyMs = await new Promise<number>((resolve) => proc.stdout!.once('data', () => resolve(performance.now() - t0)));
  await new Promise((r) => setTimeout(r, 2000));
  const rss = rssMiB(proc.pid!);
  await new Promise((r) => proc.on('exit', r));
  return { readyMs, startedRssMiB: rss, idleRssMiB: rss };
}

const medianRow = (rows: StartupRow[]): StartupRow => ({ readyMs: median(rows.map((r) => r.readyMs)), startedRssMiB: median(rows.map((r) => r.startedRssMiB)), idleRssMiB: median(rows.map((r) => r.idleRssMiB)) });

/** Median of `runs` starts of each, interleaved: the bundle (what users run), the per-module build, bare node. */
export async function startupBench(runs = 5): Promise<{ bundle: StartupRow; modules: StartupRow; node: StartupRow }> {
  const b: StartupRow[] = [];
  const m: StartupRow[] = [];
  const n: StartupRow[] = [];
  for (let i = 0; i < runs; i++) {
    b.push(await once({}));
    m.push(await once({ SPAN_RELAY_UNBUNDLED: '1' }));
    n.push(await bareNode());
  }
  return { bundle: medianRow(b), modules: medianRow(m), node: medianRow(n) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await startupBench(Number(process.env.BENCH_STARTUP_RUNS ?? 5))));
}
