/**
 * span-relay beside the OpenTelemetry Collector (the peers/ build, v0.165.0), run in turn by the same
 * load generator on the same machine in the same run (issue #31's table):
 *   node --import tsx bench/side-by-side.ts [table|saturation|rss]...   (default: table)
 * - table: 10,000 spans/s in requests of 100 into each receiver both have → batch (→ span-relay's
 *   join / the Collector's groupbytrace, held for the same 3 s) → otlp gRPC → a counting sink; CPU %
 *   of one core over the steady part, peak RSS, delivered/sent. BENCH_SIDE_RUNS runs of each
 *   (default 3), the two collectors alternating, first one then the other; median and spread.
 * - saturation: the highest steady rate each holds with nothing refused and everything delivered,
 *   the collector pinned to core 0, the generator and the sink to core 1 (taskset); with
 *   BENCH_SATURATION_WARMUP=N each probe's collector first takes N s at 10,000 spans/s.
 * - rss: peak RSS over time of a BENCH_RSS_SECONDS run (default 600) at 10,000 spans/s into zipkin,
 *   join / groupbytrace on, against its figure at 60 s.
 * OpenCensus has no Collector counterpart at this release (its receiver left contrib in v0.134).
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { portRun } from '../collector/test/helpers/ports.js';
import { peer } from '../peers/peers.js';
import { startOtelcol } from '../peers/otelcol/start.js';
import { median } from './median.js';
import { CLK_TCK, countingSink, cpuTicks, receiverId, receiverYaml, startCollector, underLoad, type UnderTest } from './testbed.js';

const ALL_SHARED = ['zipkin', 'otlp-grpc', 'otlp-http', 'jaeger-thrift', 'jaeger-grpc'];
/** The receivers both collectors have; BENCH_SIDE_RECEIVERS (comma-separated) runs some of them. */
export const SHARED_RECEIVERS = process.env.BENCH_SIDE_RECEIVERS ? process.env.BENCH_SIDE_RECEIVERS.split(',').filter((r) => ALL_SHARED.includes(r)) : ALL_SHARED;
export type Who = 'span-relay' | 'otelcol';
const ROOT = new URL('../', import.meta.url).pathname;
/** The join's default quiet period, and the Collector's groupbytrace wait_duration set to it. */
const HOLD = '3s';

function pin(pid: number, cpus: string): void {
  execFileSync('taskset', ['-a', '-pc', cpus, String(pid)], { stdio: 'ignore' });
}

/** One collector on `receiver`, stateful stage on or off, sending to `sinkEndpoint`; pinned to `cpus` if given. */
export async function launch(who: Who, receiver: string, stateful: boolean, sinkEndpoint: string, cpus?: string): Promise<UnderTest> {
  if (who === 'span-relay') {
    const c = await startCollector(receiver, `  join:\n    quiet_period: ${HOLD}\n  batch:\n`, stateful ? 'join, batch' : 'batch', sinkEndpoint);
    if (cpus) pin(c.pid, cpus);
    return { pid: c.pid, port: c.port, stop: c.stop };
  }
  const port = await portRun(1);
  const config = `receivers:\n  ${receiverYaml(receiver, port)}\nprocessors:\n  batch:\n  groupbytrace:\n    wait_duration: ${HOLD}\n    num_traces: 1000000\nexporters:\n  otlp_grpc:\n    endpoint: ${sinkEndpoint}\n    tls:\n      insecure: true\n    compression: none\nservice:\n  pipelines:\n    traces:\n      receivers: [${receiverId(receiver)}]\n      processors: [${stateful ? 'groupbytrace, batch' : 'batch'}]\n      exporters: [otlp_grpc]\n`;
  const p = await startOtelcol(config, cpus ? { cpus } : {});
  return { pid: p.child.pid!, port, stop: p.stop };
}

export interface SideRow {
  who: Who;
  receiver: string;
  stateful: boolean;
  cpu: number[];
  rss: number[];
  delivered: number[];
  sent: number[];
}

/** The 10,000 spans/s table: every shared receiver, stage off and on, `runs` alternating runs of each collector. */
export async function sideBySideTable(seconds: number, runs: number, log: (line: string) => void = () => {}): Promise<SideRow[]> {
  const rows = new Map<string, SideRow>();
  for (const receiver of SHARED_RECEIVERS)
    for (const stateful of [false, true])
      for (let run = 0; run < runs; run++) {
        const order: Who[] = run % 2 === 0 ? ['otelcol', 'span-relay'] : ['span-relay', 'otelcol'];
        for (const who of order) {
          const key = `${who}|${receiver}|${stateful}`;
          const row = rows.get(key) ?? { who, receiver, stateful, cpu: [], rss: [], delivered: [], sent: [] };
          rows.set(key, row);
          const r = await underLoad(receiver, seconds, 10_000, 100, (sink) => launch(who, receiver, stateful, sink));
          row.cpu.push(r.cpuPercent);
          row.rss.push(r.peakRssMiB);
          row.delivered.push(r.delivered);
          row.sent.push(r.sent);
          log(`  ${receiver} ${stateful ? 'stateful' : 'plain'} ${who}: CPU ${r.cpuPercent.toFixed(1)} %, peak RSS ${r.peakRssMiB.toFixed(0)} MiB, ${r.delivered}/${r.sent}`);
        }
      }
  return [...rows.values()];
}

export interface SaturationResult {
  who: Who;
  receiver: string;
  steady: number;
  probes: { rate: number; held: boolean; why: string; cpu: number }[];
}

const WARMUP_SECONDS = Number(process.env.BENCH_SATURATION_WARMUP ?? 0);

/** One probe at a steady `rate`: the collector on core 0, the generator and this process (the sink) on core 1. */
async function probe(who: Who, receiver: string, rate: number, seconds: number): Promise<SaturationResult['probes'][number]> {
  const sink = await countingSink();
  const c = await launch(who, receiver, false, sink.endpoint, '0');
  const loadgen = (r: number, s: number) => spawn('taskset', ['-c', '1', process.execPath, '--import', 'tsx', `${ROOT}bench/loadgen.ts`, receiver, `127.0.0.1:${c.port}`, String(r), String(s), '100', '4'], { stdio: ['ignore', 'pipe', 'inherit'] });
  // BENCH_SATURATION_WARMUP seconds at 10,000 spans/s first (default 0: a cold collector meets the
  // probe's full rate), so that the probe measures a warm process: span-relay's JIT-compiled code
  // and heap take their first seconds under load, which the Collector, compiled ahead of time, does not.
  let base = 0;
  if (WARMUP_SECONDS > 0) {
    const warm = loadgen(10_000, WARMUP_SECONDS);
    warm.stdout!.resume();
    await new Promise<void>((resolve) => warm.on('exit', () => resolve()));
    for (let i = 0; i < 30 && sink.count() < WARMUP_SECONDS * 10_000; i++) await new Promise((r) => setTimeout(r, 100));
    base = sink.count();
  }
  const gen = loadgen(rate, seconds);
  let out = '';
  let c0 = 0;
  let t0 = 0;
  gen.stdout!.on('data', (d: Buffer) => {
    if (!out.includes('started')) [c0, t0] = [cpuTicks(c.pid), performance.now()];
    out += d.toString();
  });
  await new Promise<void>((resolve) => gen.on('exit', () => resolve()));
  const cpu = ((cpuTicks(c.pid) - c0) / CLK_TCK / ((performance.now() - t0) / 1000)) * 100;
  const g = JSON.parse(out.trim().split('\n').at(-1)!) as { sent: number; refused: number; endLagMs: number };
  for (let i = 0; i < 30 && sink.count() - base < g.sent; i++) await new Promise((r) => setTimeout(r, 100));
  const delivered = sink.count() - base;
  await c.stop();
  sink.stop();
  const why = g.refused > 0 ? `${g.refused} requests refused` : g.endLagMs > seconds * 20 ? `generator ${g.endLagMs} ms behind` : delivered < g.sent ? `${g.sent - delivered} of ${g.sent} not delivered 3 s after` : 'held';
  return { rate, held: why === 'held', why, cpu };
}

/** Raises the rate by half until a probe fails, then halves the gap three times. */
export async function saturation(who: Who, receiver: string, seconds: number, start = 10_000): Promise<SaturationResult> {
  const probes: SaturationResult['probes'] = [];
  let ok = 0;
  let bad = 0;
  for (let rate = start; ; rate = Math.round((rate * 1.5) / 1000) * 1000) {
    const p = await probe(who, receiver, rate, seconds);
    probes.push(p);
    if (!p.held) {
      bad = rate;
      break;
    }
    ok = rate;
  }
  for (let i = 0; i < 3 && bad - ok > 1000; i++) {
    const rate = Math.round((ok + bad) / 2 / 500) * 500;
    const p = await probe(who, receiver, rate, seconds);
    probes.push(p);
    if (p.held) ok = rate;
    else bad = rate;
  }
  return { who, receiver, steady: ok, probes };
}

/** Peak RSS sampled every second of a long run at 10,000 spans/s into zipkin, stateful stage on. */
export async function rssOverTime(who: Who, seconds: number): Promise<{ at60: number; peak: number; delivered: number; sent: number }> {
  let at60 = 0;
  let pid = 0;
  const sampler = setInterval(() => {
    if (!pid) return;
    try {
      const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
      if (performance.now() - started < 60_000) at60 = hwm;
    } catch {
      // gone
    }
  }, 1000);
  const started = performance.now();
  const r = await underLoad('zipkin', seconds, 10_000, 100, async (sink) => {
    const c = await launch(who, 'zipkin', true, sink);
    pid = c.pid;
    return c;
  });
  clearInterval(sampler);
  return { at60, peak: r.peakRssMiB, delivered: r.delivered, sent: r.sent };
}

const spread = (xs: number[], digits = 1) => `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;

export async function sideBySide(modes: string[], print: (line: string) => void = console.log): Promise<void> {
  if (!peer('otelcol')) {
    print('side by side with the OpenTelemetry Collector: SKIPPED, peer otelcol not built (npm run peers)');
    return;
  }
  const cpus = execFileSync('nproc').toString().trim();
  const model = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown CPU';
  print(`span-relay beside the OpenTelemetry Collector v0.165.0 (contrib v0.165.1, peers/otelcol), node ${process.version}, ${cpus} cores (${model})`);
  if (modes.includes('table')) {
    const seconds = Number(process.env.BENCH_TESTBED_SECONDS ?? 10);
    const runs = Number(process.env.BENCH_SIDE_RUNS ?? 3);
    print(`\n10,000 spans/s in requests of 100 from a separate process → receiver → [join | groupbytrace, ${HOLD}] → batch → otlp gRPC → sink; ${runs} runs of ${seconds} s each, alternating; median (min–max)`);
    const rows = await sideBySideTable(seconds, runs, process.env.BENCH_VERBOSE ? print : undefined);
    print('  receiver        stage          CPU %: span-relay      Collector         ratio   peak RSS MiB: span-relay   Collector   ratio   delivered/sent (all runs)');
    for (const receiver of SHARED_RECEIVERS)
      for (const stateful of [false, true]) {
        const s = rows.find((r) => r.who === 'span-relay' && r.receiver === receiver && r.stateful === stateful)!;
        const o = rows.find((r) => r.who === 'otelcol' && r.receiver === receiver && r.stateful === stateful)!;
        const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
        print(
          `  ${receiver.padEnd(15)} ${(stateful ? 'join / gbt' : 'off').padEnd(14)} ${spread(s.cpu).padStart(18)} ${spread(o.cpu).padStart(18)} ${(median(s.cpu) / median(o.cpu)).toFixed(2).padStart(6)}×   ${spread(s.rss, 0).padStart(14)} ${spread(o.rss, 0).padStart(14)} ${(median(s.rss) / median(o.rss)).toFixed(2).padStart(6)}×   ${sum(s.delivered)}/${sum(s.sent)}, ${sum(o.delivered)}/${sum(o.sent)}`,
        );
      }
  }
  if (modes.includes('saturation')) {
    const seconds = Number(process.env.BENCH_SATURATION_SECONDS ?? 10);
    print(`\nsteady saturation, one core each: collector on core 0, generator and sink on core 1; receiver → batch → otlp gRPC; ${seconds} s probes`);
    execFileSync('taskset', ['-a', '-pc', '1', String(process.pid)], { stdio: 'ignore' });
    try {
      for (const receiver of SHARED_RECEIVERS) {
        const s = await saturation('span-relay', receiver, seconds);
        const o = await saturation('otelcol', receiver, seconds);
        const probes = (r: SaturationResult) => r.probes.map((p) => `${p.rate / 1000}k ${p.cpu.toFixed(0)}%${p.held ? '' : ` (${p.why})`}`).join(', ');
        print(`  ${receiver.padEnd(15)} span-relay ${String(s.steady).padStart(7)} spans/s, Collector ${String(o.steady).padStart(7)} spans/s, ratio ${(s.steady / o.steady).toFixed(2)}×`);
        print(`    span-relay probes: ${probes(s)}`);
        print(`    Collector probes:  ${probes(o)}`);
      }
    } finally {
      execFileSync('taskset', ['-a', '-pc', `0-${Number(cpus) - 1}`, String(process.pid)], { stdio: 'ignore' });
    }
  }
  if (modes.includes('rss')) {
    const seconds = Number(process.env.BENCH_RSS_SECONDS ?? 600);
    print(`\npeak RSS over a ${seconds} s run at 10,000 spans/s into zipkin, join / groupbytrace on`);
    // BENCH_RSS_WHO runs one of them. Not two at once: on 2 cores, two collectors, generators and
    // sinks starve each other, the collectors fall behind and buffer (2026-12-06: 1,325 and 4,519 MiB
    // peaks side by side, against ~200 MiB for span-relay alone).
    const whos = (['span-relay', 'otelcol'] as const).filter((w) => !process.env.BENCH_RSS_WHO || process.env.BENCH_RSS_WHO === w);
    for (const who of whos) {
      const r = await rssOverTime(who, seconds);
      print(`  ${who.padEnd(11)} at 60 s ${r.at60.toFixed(0)} MiB, at ${seconds} s ${r.peak.toFixed(0)} MiB (${((r.peak / r.at60 - 1) * 100).toFixed(1)} % above), ${r.delivered}/${r.sent} delivered`);
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const modes = process.argv.slice(2);
  await sideBySide(modes.length ? modes : ['table']);
}
