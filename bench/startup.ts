/**
 * Startup as users meet it (a part of `npm run bench`; alone: `node --import tsx bench/startup.ts`):
 * `span-relay run` on the embedded default config (every receiver, memory_limiter, join, batch, the
 * embedded store and its trace page), compiled, from the CLI, in an empty directory. Each endpoint is
 * moved to a random high port (the bench must not take the standard ones); nothing else changes.
 * Measured: from spawn to /readyz answering 200 (polled every 5 ms), the RSS 2 s later, and the RSS
 * when idle (12 s later: V8's memory reducer gives back what startup left behind after 8 s idle).
 * Beside it, the per-module build (SPAN_RELAY_UNBUNDLED=1) and bare node started the same way, the
 * floor no Node program goes below.
 *
 * Before/after: `BENCH_STARTUP_AGAINST=DIR` (another checkout, built) starts its bundle and this
 * one's in turn, A B B A A B ..., BENCH_STARTUP_RUNS pairs, and prints both medians with their
 * ranges, the per-pair differences and the 1-minute load average before and after;
 * BENCH_STARTUP_READY_ONLY=1 skips the 12 s of RSS readings (ready time only). On a machine busy with
 * other work, run it under `nice -n -10` (the collectors it starts inherit it): both builds alike.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { defaultConfigOnPorts } from '../collector/src/config/default.js';
import { launchCollector } from './testbed.js';
import { median } from './median.js';

export interface StartupRow {
  readyMs: number;
  /** CPU time (all threads) the process had used when /readyz first answered 200: less moved by other load than readyMs. */
  readyCpuMs?: number;
  /** RSS 2 s after ready. */
  startedRssMiB: number;
  /** RSS 12 s after ready: idle long enough for V8's memory reducer (its first pass is at 8 s). */
  idleRssMiB: number;
}

/** CPU time of every thread of `pid` so far, in ms (schedstat: nanoseconds, where /proc/PID/stat counts 10 ms ticks). */
function cpuMs(pid: number): number {
  let ns = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
  return ns / 1e6;
}

function rssMiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}

async function once(env: NodeJS.ProcessEnv, readyOnly = false): Promise<StartupRow> {
  const collector = await launchCollector({ configFor: defaultConfigOnPorts, adminPort: (base) => base, cwdIsTempDir: true, env, pollMs: 5 });
  const readyCpuMs = cpuMs(collector.pid);
  if (readyOnly) {
    await collector.stop();
    return { readyMs: collector.readyMs, readyCpuMs, startedRssMiB: NaN, idleRssMiB: NaN };
  }
  await new Promise((r) => setTimeout(r, 2000));
  const startedRssMiB = rssMiB(collector.pid);
  await new Promise((r) => setTimeout(r, 10_000));
  const idleRssMiB = rssMiB(collector.pid);
  await collector.stop();
  return { readyMs: collector.readyMs, readyCpuMs, startedRssMiB, idleRssMiB };
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

/** One start of the bundle of the checkout at `dir` (its own bench, so its own build and config), as JSON. */
function otherCheckout(dir: string, readyOnly: boolean): StartupRow {
  const out = execFileSync(process.execPath, ['--import', 'tsx', `${dir}/bench/startup.ts`], {
    cwd: dir,
    env: { ...process.env, BENCH_STARTUP_AGAINST: '', BENCH_STARTUP_ONE: '1', BENCH_STARTUP_READY_ONLY: readyOnly ? '1' : '' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return JSON.parse(out.toString().trim().split('\n').at(-1)!) as StartupRow;
}

const range = (xs: readonly number[]): string => `${median(xs).toFixed(1)} (${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)})`;

/** `pairs` starts of the other checkout's bundle and of this one's, alternating which goes first. */
export async function startupAgainst(dir: string, pairs: number, readyOnly: boolean): Promise<Record<string, unknown>> {
  const load0 = loadavg()[0]!;
  const a: StartupRow[] = [];
  const b: StartupRow[] = [];
  for (let i = 0; i < pairs; i++) {
    if (i % 2 === 0) {
      a.push(otherCheckout(dir, readyOnly));
      b.push(await once({}, readyOnly));
    } else {
      b.push(await once({}, readyOnly));
      a.push(otherCheckout(dir, readyOnly));
    }
  }
  const diffs = b.map((r, i) => r.readyMs - a[i]!.readyMs);
  return {
    before: { dir, readyMs: range(a.map((r) => r.readyMs)), ...(readyOnly ? {} : { idleRssMiB: range(a.map((r) => r.idleRssMiB)), startedRssMiB: range(a.map((r) => r.startedRssMiB)) }) },
    after: { dir: process.cwd(), readyMs: range(b.map((r) => r.readyMs)), ...(readyOnly ? {} : { idleRssMiB: range(b.map((r) => r.idleRssMiB)), startedRssMiB: range(b.map((r) => r.startedRssMiB)) }) },
    readyDiffMs: range(diffs),
    readyCpuMs: { before: range(a.map((r) => r.readyCpuMs ?? NaN)), after: range(b.map((r) => r.readyCpuMs ?? NaN)) },
    afterFasterPairs: `${diffs.filter((d) => d < 0).length} of ${pairs}`,
    ratio: (median(b.map((r) => r.readyMs)) / median(a.map((r) => r.readyMs))).toFixed(3),
    loadavg1: `${load0.toFixed(2)} → ${loadavg()[0]!.toFixed(2)}`,
    rawReadyMs: { before: a.map((r) => Math.round(r.readyMs)), after: b.map((r) => Math.round(r.readyMs)) },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const readyOnly = process.env.BENCH_STARTUP_READY_ONLY === '1';
  const runs = Number(process.env.BENCH_STARTUP_RUNS ?? 5);
  if (process.env.BENCH_STARTUP_ONE === '1') console.log(JSON.stringify(await once({}, readyOnly)));
  else if (process.env.BENCH_STARTUP_AGAINST) console.log(JSON.stringify(await startupAgainst(process.env.BENCH_STARTUP_AGAINST, runs, readyOnly), null, 1));
  else console.log(JSON.stringify(await startupBench(runs)));
}
