/**
 * CPU per span of span-relay builds side by side (issue #31's before/after steps): the testbed's load at
 * one fixed rate into one receiver → batch → otlp gRPC to a counting sink, join off, each tree's
 * compiled collector in turn (A, B, A, B …), `pairs` times. When the collector's core is full, CPU per
 * span is what decides its saturation rate, and it is far less noisy here than a saturation search.
 *   node --import tsx bench/cpu-per-span.ts <receiver> <spans/s> <seconds> <pairs> <tree A> <tree B> [more trees]
 * A tree is a checkout with its collector built (`npm run --workspace collector build`); its own
 * bench/testbed.ts runs it. Prints a line per run, then µs of CPU per span for each tree (median, min–max),
 * each tree's median over the first's, the per-round ratios, and the 1-minute load average at each run.
 * "otelcol" in place of a tree runs the OpenTelemetry Collector peer as bench/side-by-side.ts does.
 * BENCH_PIN=1: one core each, as the side-by-side saturation probe runs them: the collector on core 0
 * (the Collector with GOMAXPROCS=1), this process (the sink) and the load generator on core 1.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { median } from './median.js';

interface Testbed {
  underLoad: (receiver: string, seconds: number, rate: number, per: number, start: (sink: string) => Promise<{ pid: number; port: number; stop: () => Promise<void> }>) => Promise<{ cpuPercent: number; sent: number; delivered: number; refusedRequests: number }>;
  startCollector: (receiver: string, processorsYaml: string, processors: string, sink: string) => Promise<{ pid: number; port: number; stop: () => Promise<void> }>;
}

const [receiver, rateArg, secondsArg, pairsArg, ...trees] = process.argv.slice(2);
if (!receiver || !pairsArg || trees.length < 2) throw new Error('usage: cpu-per-span.ts <receiver> <spans/s> <seconds> <pairs> <tree A> <tree B> [more trees]');
const [rate, seconds, pairs] = [Number(rateArg), Number(secondsArg), Number(pairsArg)];
const { launch } = await import('./side-by-side.js');
const pinned = process.env.BENCH_PIN === '1';
const pin = (pid: number, cpus: string): void => void execFileSync('taskset', ['-a', '-pc', cpus, String(pid)], { stdio: 'ignore' });
// Children inherit this: the generator's core, and the collector's until it is moved.
if (pinned) pin(process.pid, '1');
const beds = await Promise.all(
  trees.map(async (t): Promise<Testbed> => {
    if (t !== 'otelcol') return (await import(`${resolve(t)}/bench/testbed.ts`)) as Testbed;
    const own = (await import('./testbed.js')) as Testbed;
    return { underLoad: own.underLoad, startCollector: (r, _y, _p, sink) => launch('otelcol', r, false, sink, pinned ? '0' : undefined) };
  }),
);
const us: number[][] = trees.map(() => []);
const loads: number[] = [];
for (let round = 0; round < pairs; round++) {
  // Alternate which tree goes first, so neither always follows the other's leftovers.
  const order = trees.map((_, i) => i);
  if (round % 2 === 1) order.reverse();
  for (const i of order) {
    const bed = beds[i]!;
    // The kernel's share of the collector's whole life (start included), read just before it is stopped.
    let sysShare = 0;
    const r = await bed.underLoad(receiver, seconds, rate, 100, async (sink) => {
      const c = await bed.startCollector(receiver, '  batch:\n', 'batch', sink);
      if (pinned && trees[i] !== 'otelcol') pin(c.pid, '0');
      const stop = c.stop;
      c.stop = () => {
        const f = readFileSync(`/proc/${c.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
        sysShare = Number(f[12]) / (Number(f[11]) + Number(f[12]));
        return stop();
      };
      return c;
    });
    // Per span taken: a run with refused requests took fewer than the rate offered.
    const perSpan = (r.cpuPercent / 100 / (rate * Math.min(1, r.delivered / r.sent))) * 1e6;
    const load = loadavg()[0]!;
    loads.push(load);
    us[i]!.push(perSpan);
    console.log(`round ${round + 1} ${trees[i]}: ${r.cpuPercent.toFixed(1)} % of a core, ${perSpan.toFixed(2)} µs/span, ${r.delivered}/${r.sent} delivered, ${r.refusedRequests} refused, kernel ${(sysShare * 100).toFixed(0)} % of its CPU, load ${load.toFixed(1)}`);
  }
}
const fmt = (xs: number[]): string => `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)})`;
console.log(`\n${receiver} at ${rate} spans/s${pinned ? ', one core each' : ''}, ${seconds} s runs, ${pairs} rounds; load average ${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)}`);
for (let i = 0; i < trees.length; i++) {
  const ratios = us[i]!.map((u, k) => u / us[0]![k]!);
  console.log(`${trees[i]}: µs CPU per span ${fmt(us[i]!)}${i ? `; /A median ${(median(us[i]!) / median(us[0]!)).toFixed(3)}, per round ${ratios.map((r) => r.toFixed(2)).join(' ')}` : ''}`);
}
