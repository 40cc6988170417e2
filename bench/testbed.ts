/**
 * The OpenTelemetry Collector's load test, in its shape (contrib `testbed`): a steady 10,000 spans/s
 * in requests of 100 spans from a load generator in its own process, into one receiver → batch
 * (→ join) → otlp gRPC exporter to a sink in this process; the collector runs as users run it
 * (compiled, from the CLI). Measured: CPU time of the collector process as % of one core over the
 * steady part, its peak RSS, spans delivered of spans sent. Compared with the OTel Collector's
 * published figures for the same receivers (contrib loadtests, 2023-07).
 */
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import ts from 'typescript';
import { passThrough } from '../collector/src/net/grpc-server.js';
import { binStart } from './bin-start.js';
import { assertBuildCurrent } from './compiled.js';
import { median } from './median.js';

export const OTEL_FIGURES: Record<string, { cpu: number; ramMiB: number }> = {
  zipkin: { cpu: 27.5, ramMiB: 86 },
  'otlp-grpc': { cpu: 7.7, ramMiB: 78 },
  'otlp-http': { cpu: 6.3, ramMiB: 75 },
  opencensus: { cpu: 12.3, ramMiB: 81 },
};

export interface TestbedRow {
  receiver: string;
  join: boolean;
  cpuPercent: number;
  peakRssMiB: number;
  sent: number;
  delivered: number;
  refusedRequests: number;
  /** CPU % of one core of the other processes the run measured (UnderTest.others), by name. */
  othersCpuPercent?: Record<string, number>;
}

const ROOT = new URL('../', import.meta.url).pathname;
export const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

export function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

/** One receiver of the testbed on `port`, in the config both collectors read (the OpenTelemetry Collector's shape). */
export function receiverYaml(receiver: string, port: number): string {
  switch (receiver) {
    case 'zipkin':
      return `zipkin:\n    endpoint: 127.0.0.1:${port}`;
    case 'otlp-grpc':
      return `otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:${port}`;
    case 'otlp-http':
      return `otlp:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:${port}`;
    case 'jaeger-thrift':
      return `jaeger:\n    protocols:\n      thrift_http:\n        endpoint: 127.0.0.1:${port}`;
    case 'jaeger-grpc':
      return `jaeger:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:${port}`;
    default:
      return `opencensus:\n    endpoint: 127.0.0.1:${port}`;
  }
}

/** The pipeline's name for a testbed receiver: `otlp-grpc` → `otlp`. */
export const receiverId = (receiver: string): string => receiver.split('-')[0]!;

/** Length-delimited fields `field` of a protobuf message, without decoding the rest (the sink only counts). */
function* fieldsOf(buf: Uint8Array, start: number, end: number, field: number): Generator<[number, number]> {
  let i = start;
  const varint = (): number => {
    let v = 0;
    let shift = 0;
    for (;;) {
      const b = buf[i++]!;
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
      shift += 7;
    }
  };
  while (i < end) {
    const tag = varint();
    const wire = tag & 7;
    if (wire === 0) varint();
    else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else if (wire === 2) {
      const len = varint();
      if (tag >>> 3 === field) yield [i, i + len];
      i += len;
    } else throw new Error(`sink: wire type ${wire}`);
  }
}

/** Spans in an ExportTraceServiceRequest: resource_spans(1) → scope_spans(2) → spans(2). */
export function countOtlpSpans(buf: Uint8Array): number {
  let n = 0;
  for (const [a, b] of fieldsOf(buf, 0, buf.length, 1)) for (const [c, d] of fieldsOf(buf, a, b, 2)) for (const _ of fieldsOf(buf, c, d, 2)) n++;
  return n;
}

/** An OTLP gRPC backend that counts the spans it is sent (cheaply: it shares the cores with the collector). */
export async function countingSink(): Promise<{ endpoint: string; count: () => number; stop: () => void }> {
  let spans = 0;
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
  const empty = Buffer.alloc(0); // ExportTraceServiceResponse {}
  server.addService(
    { Export: { path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export', requestStream: false, responseStream: false, requestSerialize: passThrough.serialize, requestDeserialize: passThrough.deserialize, responseSerialize: passThrough.serialize, responseDeserialize: passThrough.deserialize } },
    {
      Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        spans += countOtlpSpans(call.request);
        cb(null, empty);
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return { endpoint: `127.0.0.1:${port}`, count: () => spans, stop: () => server.forceShutdown() };
}

export interface LaunchedCollector {
  pid: number;
  /** The random base port the config was written for. */
  port: number;
  /** From spawn to /readyz answering 200. */
  readyMs: number;
  stop: () => Promise<void>;
}

/** The environment and node flags the span-relay command starts node with (its #! line; the Dockerfile and `npm start` give the same). */
const BIN = binStart();

/**
 * `span-relay run` as users run it (compiled, from the CLI) on the config `configFor(port)` writes
 * for a random high base port, in a temporary directory; resolves once /readyz on `adminPort(port)`
 * answers (polled every `pollMs`). A random port may be taken (another run, a port in TIME_WAIT): a
 * collector that exits before it is ready is started again elsewhere, up to 5 times.
 */
export async function launchCollector(opts: { configFor: (port: number) => string; adminPort: (port: number) => number; cliArgs?: string[]; cwdIsTempDir?: boolean; env?: NodeJS.ProcessEnv; pollMs?: number; root?: string }): Promise<LaunchedCollector> {
  const pollMs = opts.pollMs ?? 50;
  // What collector/bin runs: the bundle, when it is there. Another checkout (a before/after
  // comparison's "before") is built by whoever made it.
  const root = opts.root ?? ROOT;
  if (root === ROOT) assertBuildCurrent('span-relay.cjs');
  for (let attempt = 1; ; attempt++) {
    const dir = mkdtempSync(join(tmpdir(), 'span-relay-bench-'));
    const port = 20000 + Math.floor(Math.random() * 20000);
    writeFileSync(join(dir, 'config.yaml'), opts.configFor(port));
    const nodeArgs = [...BIN.flags, ...(process.env.BENCH_COLLECTOR_NODE_ARGS ?? '').split(' ').filter(Boolean)];
    const t0 = performance.now();
    // BENCH_COLLECTOR_STDOUT: a file for what the collector's node prints (with --trace-gc, say).
    const stdout = process.env.BENCH_COLLECTOR_STDOUT ? openSync(process.env.BENCH_COLLECTOR_STDOUT, 'a') : 'ignore';
    // BENCH_COLLECTOR_CPUS: the cores the collector (and so its workers) may run on, through taskset (which execs node: the pid is node's).
    const cpus = process.env.BENCH_COLLECTOR_CPUS;
    const argv = [...nodeArgs, `${root}collector/bin/span-relay.js`, 'run', ...(opts.cliArgs ?? []), '--config', join(dir, 'config.yaml')];
    const collector = spawn(cpus ? 'taskset' : process.execPath, cpus ? ['-c', cpus, process.execPath, ...argv] : argv, {
      stdio: ['ignore', stdout, 'inherit'],
      env: { ...process.env, ...BIN.env, ...opts.env },
      ...(opts.cwdIsTempDir ? { cwd: dir } : {}),
    });
    if (typeof stdout === 'number') closeSync(stdout);
    let exited = false;
    const exit = new Promise<void>((resolve) => collector.on('exit', () => resolve(void (exited = true))));
    let readyMs = 0;
    for (let waited = 0; waited < 10_000 && !exited && !readyMs; waited += pollMs) {
      if (await fetch(`http://127.0.0.1:${opts.adminPort(port)}/readyz`).then((r) => r.status === 200, () => false)) readyMs = performance.now() - t0;
      else await new Promise((r) => setTimeout(r, pollMs));
    }
    const stop = async (): Promise<void> => {
      collector.kill(readyMs ? 'SIGTERM' : 'SIGKILL');
      await exit;
      rmSync(dir, { recursive: true, force: true });
    };
    if (readyMs) return { pid: collector.pid!, port, readyMs, stop };
    await stop();
    if (attempt === 5) throw new Error('bench: the collector did not become ready (5 attempts)');
  }
}

/** One receiver → `processors` → otlp gRPC to the sink. */
export function startCollector(receiver: string, processorsYaml: string, processors: string, sinkEndpoint: string, cliArgs: string[] = [], root?: string): Promise<LaunchedCollector> {
  return launchCollector({
    root,
    configFor: (port) =>
      `receivers:\n  ${receiverYaml(receiver, port)}\nprocessors:\n${processorsYaml}exporters:\n  otlp:\n    endpoint: ${sinkEndpoint}\n    tls: { insecure: true }\n    compression: none\nservice:\n  telemetry:\n    logs: { level: warn }\n    metrics:\n      address: 127.0.0.1:${port + 1}\n  pipelines:\n    traces:\n      receivers: [${receiverId(receiver)}]\n      processors: [${processors}]\n      exporters: [otlp]\n`,
    adminPort: (port) => port + 1,
    cliArgs,
  });
}

/** A process under the testbed's load: span-relay, the floor, or the OpenTelemetry Collector. */
export interface UnderTest {
  pid: number;
  /** Other processes whose CPU the run measures beside it (a tier behind it, say). */
  others?: { name: string; pid: number }[];
  /** Where the load generator sends. */
  port: number;
  stop: () => Promise<void>;
}

/** The testbed's load through `receiver` into whatever `start` runs, sending to a counting sink. */
export async function underLoad(receiver: string, seconds: number, rate: number, per: number, start: (sinkEndpoint: string) => Promise<UnderTest>): Promise<Omit<TestbedRow, 'receiver' | 'join'>> {
  const sink = await countingSink();
  const target = await start(sink.endpoint);
  const { pid, port } = target;
  const gen = spawn(process.execPath, ['--import', 'tsx', `${ROOT}bench/loadgen.ts`, receiver, `127.0.0.1:${port}`, String(rate), String(seconds + 3), String(per)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const started = new Promise<void>((resolve) =>
    gen.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('started')) resolve();
    }),
  );
  const genDone = new Promise<void>((resolve) => gen.on('exit', () => resolve()));
  // Measure the steady part: from a second after the generator starts sending. It encodes its
  // requests first, which took 8-10 s on a busy 2-core machine: a fixed 4 s wait then measured the
  // collector before most of its load (0.1-4 % CPU read where the load takes 13-27 %).
  await Promise.race([started, genDone]);
  await new Promise((r) => setTimeout(r, 1000));
  const t0 = performance.now();
  const c0 = cpuTicks(pid);
  const o0 = (target.others ?? []).map((o) => cpuTicks(o.pid));
  await new Promise((r) => setTimeout(r, seconds * 1000 - 1000));
  const c1 = cpuTicks(pid);
  const o1 = (target.others ?? []).map((o) => cpuTicks(o.pid));
  const wall = (performance.now() - t0) / 1000;
  await genDone;
  const gen2 = JSON.parse(out.trim().split('\n').at(-1)!) as { sent: number; refused: number };
  for (let i = 0; i < 100 && sink.count() < gen2.sent; i++) await new Promise((r) => setTimeout(r, 100));
  const peak = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
  await target.stop();
  sink.stop();
  const percent = (ticks: number): number => (ticks / CLK_TCK / wall) * 100;
  const othersCpuPercent = Object.fromEntries((target.others ?? []).map((o, i) => [o.name, percent(o1[i]! - o0[i]!)]));
  return { cpuPercent: percent(c1 - c0), peakRssMiB: peak, sent: gen2.sent, delivered: sink.count(), refusedRequests: gen2.refused, othersCpuPercent };
}

export async function testbedRun(receiver: string, withJoin: boolean, seconds: number, rate = 10_000, per = 100): Promise<TestbedRow> {
  const row = await underLoad(receiver, seconds, rate, per, (sink) => startCollector(receiver, '  join:\n  batch:\n', withJoin ? 'join, batch' : 'batch', sink));
  return { receiver, join: withJoin, ...row };
}

/**
 * bench/floor-relay.ts as plain JavaScript, run by node alone: through tsx its process would also
 * hold tsx's loader thread (an isolate of its own) and count it against the floor. Written under
 * node_modules/.cache so that it resolves the project's packages.
 */
function floorRelayScript(): string {
  const dir = `${ROOT}node_modules/.cache/span-relay-bench`;
  mkdirSync(dir, { recursive: true });
  const source = readFileSync(`${ROOT}bench/floor-relay.ts`, 'utf8');
  const out = join(dir, 'floor-relay.mjs');
  writeFileSync(out, ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText);
  return out;
}

/** The receivers the floor (bench/floor-relay.ts) stands in for. */
export const FLOOR_RECEIVERS = ['otlp-grpc', 'otlp-http', 'opencensus'] as const;

/**
 * Floors served otherwise than span-relay serves the receiver, with the receiver whose load they
 * take: otlp-grpc-h2 is the OTLP gRPC floor on node:http2 without grpc-js (issue #31).
 */
export const FLOOR_VARIANTS = { 'otlp-grpc-h2': 'otlp-grpc' } as const;
export type FloorName = (typeof FLOOR_RECEIVERS)[number] | keyof typeof FLOOR_VARIANTS;
export const isFloorName = (name: string): name is FloorName => (FLOOR_RECEIVERS as readonly string[]).includes(name) || name in FLOOR_VARIANTS;

/**
 * The same load into bench/floor-relay.ts instead of span-relay: the runtime's own cost of taking
 * these requests and passing their bytes on, beside which span-relay's figure is read.
 */
export async function testbedFloor(floor: FloorName, seconds: number, rate = 10_000, per = 100): Promise<Omit<TestbedRow, 'join'>> {
  const receiver = floor in FLOOR_VARIANTS ? FLOOR_VARIANTS[floor as keyof typeof FLOOR_VARIANTS] : floor;
  const row = await underLoad(receiver, seconds, rate, per, async (sink) => {
    const relay = spawn(process.execPath, [...BIN.flags, floorRelayScript(), floor, sink], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...BIN.env } });
    const exited = new Promise<void>((resolve) => relay.on('exit', () => resolve()));
    const port = await new Promise<number>((resolve, reject) => {
      relay.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
      relay.once('exit', () => reject(new Error('bench: the floor relay exited before it listened')));
    });
    return { pid: relay.pid!, port, stop: async () => void (relay.kill(), await exited) };
  });
  return { receiver: floor, ...row };
}

export async function testbed(seconds: number): Promise<TestbedRow[]> {
  const rows: TestbedRow[] = [];
  for (const receiver of ['zipkin', 'otlp-grpc', 'otlp-http', 'opencensus']) for (const j of [false, true]) rows.push(await testbedRun(receiver, j, seconds));
  return rows;
}

export interface SaturationProbe {
  rate: number;
  held: boolean;
  why: string;
  /** CPU of the collector's processes (primary and workers) over the probe, % of one core. */
  cpuPercent: number;
  /** Of which the process started: the primary under --workers above 1, else the one process. */
  primaryCpuPercent: number;
}

export interface SaturationRow {
  receiver: string;
  workers: number;
  /** The highest rate probed that held: nothing refused, the generator on schedule (within 2 %), all delivered. */
  steadySpansPerSecond: number;
  probes: SaturationProbe[];
}

/** The collector's processes: the one started (the primary under --workers) and its children (the workers). */
function treePids(pid: number): { primary: number; workers: number[] } {
  let children: number[] = [];
  try {
    children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)]).toString().trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    // ps exits 1 when there are none
  }
  return { primary: pid, workers: children };
}

/** CPU ticks of the collector's processes, the primary's apart. */
function treeTicks(pid: number): { total: number; primary: number } {
  const { primary, workers } = treePids(pid);
  const own = cpuTicks(primary);
  return { total: workers.reduce((t, w) => t + cpuTicks(w), own), primary: own };
}

const QUIET_MS = 2000;
/** otlp-grpc's generator over one connection stops near 70,000 spans/s, before the collector does. */
const SATURATION_GRPC_CONNECTIONS = 4;

const PROBE_PROCESSORS = `  memory_limiter:\n    limit_mib: 512\n    spike_limit_mib: 128\n  join:\n    quiet_period: ${QUIET_MS}ms\n  batch:\n`;

/** One steady-rate probe against a fresh collector (of the checkout at `root`, this one by default). */
async function probe(receiver: string, workers: number, rate: number, seconds: number, root?: string): Promise<SaturationProbe> {
  const sink = await countingSink();
  const collector = await startCollector(receiver, PROBE_PROCESSORS, 'memory_limiter, join, batch', sink.endpoint, ['--workers', String(workers)], root);
  const gen = spawn(process.execPath, ['--import', 'tsx', `${ROOT}bench/loadgen.ts`, receiver, `127.0.0.1:${collector.port}`, String(rate), String(seconds), '100', String(SATURATION_GRPC_CONNECTIONS)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  let c0 = { total: 0, primary: 0 };
  let t0 = 0;
  gen.stdout!.on('data', (d: Buffer) => {
    if (!out.includes('started')) [c0, t0] = [treeTicks(collector.pid), performance.now()];
    out += d.toString();
  });
  await new Promise<void>((resolve) => gen.on('exit', () => resolve()));
  const g = JSON.parse(out.trim().split('\n').at(-1)!) as { sent: number; refused: number; lagMs: number; endLagMs: number };
  // Held: the backlog never grew beyond what the join holds by design (its quiet period).
  await new Promise((r) => setTimeout(r, QUIET_MS + 1000));
  const delivered = sink.count();
  const c1 = treeTicks(collector.pid);
  const wall = (performance.now() - t0) / 1000;
  const cpuPercent = ((c1.total - c0.total) / CLK_TCK / wall) * 100;
  const primaryCpuPercent = ((c1.primary - c0.primary) / CLK_TCK / wall) * 100;
  // Why spans were refused, from the collector's own counter (by reason).
  const metrics = await fetch(`http://127.0.0.1:${collector.port + 1}/metrics`).then((r) => r.text(), () => '');
  const reasons = [...metrics.matchAll(/^span_relay_receiver_refused_spans_total\{[^}]*reason="([^"]+)"[^}]*\} (\d+)/gm)].map((m) => `${m[1]} ${m[2]}`).join(', ');
  await collector.stop();
  sink.stop();
  const why = g.refused > 0 ? `${g.refused} requests refused${reasons ? ` (${reasons})` : ''}` : g.endLagMs > seconds * 20 ? `generator ended ${g.endLagMs} ms behind schedule` : delivered < g.sent ? `${g.sent - delivered} of ${g.sent} spans not delivered ${QUIET_MS + 1000} ms after the end` : 'held';
  return { rate, held: why === 'held', why, cpuPercent, primaryCpuPercent };
}

/** A collector the workers-cost bench runs: a worker count, and the checkout it comes from (this one by default). */
export interface WorkersVariant {
  workers: number;
  root?: string;
}

export interface WorkersCostRow extends WorkersVariant {
  /** CPU of all the collector's processes, % of one core, one per run. */
  cpu: number[];
  /** Of which the primary's (the one process's with --workers 1). */
  primaryCpu: number[];
  held: boolean;
}

/**
 * The hand-off's cost (issue #31): CPU of every collector process per span with `--workers 2`
 * against `--workers 1` at the same offered rate (one both hold), the variants taking turns `runs`
 * times. Two workers pay for trace affinity (each span's trace may belong to the other worker:
 * handed over a local socket), a second runtime and the primary.
 */
export async function workersCostRows(receiver: string, rate: number, seconds: number, runs: number, variants: readonly WorkersVariant[]): Promise<WorkersCostRow[]> {
  const rows: WorkersCostRow[] = variants.map((v) => ({ ...v, cpu: [], primaryCpu: [], held: true }));
  for (let i = 0; i < runs; i++) {
    for (const row of rows) {
      const p = await probe(receiver, row.workers, rate, seconds, row.root);
      row.held &&= p.held;
      row.cpu.push(p.cpuPercent);
      row.primaryCpu.push(p.primaryCpuPercent);
    }
  }
  return rows;
}

/** `npm run bench`'s figure: 1 worker and 2 in turn, their medians and the ratio. */
export async function workersCost(receiver: string, rate: number, seconds: number, runs: number): Promise<{ one: number[]; two: number[]; ratio: number; held: boolean }> {
  const [one, two] = await workersCostRows(receiver, rate, seconds, runs, [{ workers: 1 }, { workers: 2 }]);
  return { one: one!.cpu, two: two!.cpu, ratio: median(two!.cpu) / median(one!.cpu), held: one!.held && two!.held };
}

/**
 * The fixed part of `--workers N`'s cost: CPU of the collector's processes, the saturation probe's
 * config, with no load at all for `seconds` (after `settleSeconds` past ready), the variants taking
 * turns `runs` times. What a second runtime costs when nothing comes in: its timers (the join's
 * ticks, the memory_limiter's checks), its garbage collector, the primary.
 */
export async function workersIdle(seconds: number, runs: number, variants: readonly WorkersVariant[] = [{ workers: 1 }, { workers: 2 }], settleSeconds = 3): Promise<WorkersCostRow[]> {
  const rows: WorkersCostRow[] = variants.map((v) => ({ ...v, cpu: [], primaryCpu: [], held: true }));
  for (let i = 0; i < runs; i++) {
    for (const row of rows) {
      const sink = await countingSink();
      const collector = await startCollector('zipkin', PROBE_PROCESSORS, 'memory_limiter, join, batch', sink.endpoint, ['--workers', String(row.workers)], row.root);
      await new Promise((r) => setTimeout(r, settleSeconds * 1000));
      const c0 = treeTicks(collector.pid);
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, seconds * 1000));
      const c1 = treeTicks(collector.pid);
      const wall = (performance.now() - t0) / 1000;
      await collector.stop();
      sink.stop();
      row.cpu.push(((c1.total - c0.total) / CLK_TCK / wall) * 100);
      row.primaryCpu.push(((c1.primary - c0.primary) / CLK_TCK / wall) * 100);
    }
  }
  return rows;
}

/**
 * Steady saturation rate (issue #13's scaling figure): the highest rate of requests of 100 spans
 * that receiver → memory_limiter (as in the default config, per worker) → join → batch → otlp holds
 * with nothing refused and nothing falling behind, with the collector run as
 * `span-relay run --workers N`. Found by raising the rate by half until a probe fails, then halving
 * the gap three times. The generator and the sink share the machine's cores with the collector.
 */
export async function saturationSearch(receiver: string, workers: number, seconds: number, start = 4000): Promise<SaturationRow> {
  const probes: SaturationProbe[] = [];
  let ok = 0;
  let bad = 0;
  for (let rate = start; ; rate = Math.round(rate * 1.5 / 500) * 500) {
    const p = await probe(receiver, workers, rate, seconds);
    probes.push(p);
    if (!p.held) {
      bad = rate;
      break;
    }
    ok = rate;
  }
  for (let i = 0; i < 3 && bad - ok > 500; i++) {
    const rate = Math.round((ok + bad) / 2 / 250) * 250;
    const p = await probe(receiver, workers, rate, seconds);
    probes.push(p);
    if (p.held) ok = rate;
    else bad = rate;
  }
  return { receiver, workers, steadySpansPerSecond: ok, probes };
}
