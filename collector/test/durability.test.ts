/**
 * Nothing acknowledged is lost (issue #11), with real processes: the collector runs as users run
 * it (the CLI, in its own process), a load generator counts every span ID that got a 202, the
 * backend counts every span ID it received, and faults are injected: kill -9, a backend outage,
 * a slow backend, a full disk, a corrupt log tail.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { OtlpGrpcSink } from './helpers/sinks.js';
import { metricValue } from './helpers/collector.js';
import { portRun } from './helpers/ports.js';

const BIN = new URL('../bin/span-relay.js', import.meta.url).pathname;
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

interface Relay {
  child: ChildProcess;
  out: () => string;
  exited: Promise<number | null>;
}

async function runRelay(config: string, port: number): Promise<Relay> {
  const child = spawn(process.execPath, [BIN, 'run', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  cleanup.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  for (let i = 0; i < 300; i++) {
    const ok = await fetch(`http://127.0.0.1:${port + 1}/readyz`).then((r) => r.status === 200, () => false);
    if (ok) return { child, out: () => out, exited };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`collector did not become ready:\n${out}`);
}

/** A steady load of Zipkin requests (one trace of `perRequest` spans each); every 202 is counted. */
function load(port: number, perRequest = 20, everyMs = 10) {
  const acked = new Set<string>();
  let refused = 0;
  let seq = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const trace = (++seq).toString(16).padStart(16, '0');
      const spans = Array.from({ length: perRequest }, (_, i) => ({
        traceId: trace,
        id: `${trace.slice(4)}${(i + 1).toString(16).padStart(4, '0')}`,
        ...(i > 0 ? { parentId: `${trace.slice(4)}0001` } : {}),
        name: 'op',
        timestamp: 1_700_000_000_000_000 + seq,
        duration: 10,
        localEndpoint: { serviceName: 'load' },
      }));
      try {
        const res = await fetch(`http://127.0.0.1:${port}/api/v2/spans`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spans) });
        if (res.status === 202) for (const s of spans) acked.add(s.id);
        else refused++;
        await res.arrayBuffer();
      } catch {
        refused++;
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    acked,
    refused: () => refused,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

async function allDelivered(sink: OtlpGrpcSink, acked: Set<string>, ms = 30_000): Promise<string[]> {
  let missing: string[] = [...acked];
  for (let i = 0; i < ms / 100; i++) {
    const got = new Set(sink.spans().map((s) => s.spanId));
    missing = [...acked].filter((id) => !got.has(id));
    if (missing.length === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return missing;
}

async function setup(extra: { storage?: string; processors?: string; exporter?: string; service?: string } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'span-relay-durable-'));
  const port = await portRun(2);
  return { dir, port, file: join(dir, 'config.yaml'), write: (sinkEndpoint: string) => writeFileSync(join(dir, 'config.yaml'), config(dir, port, sinkEndpoint, extra)) };
}

function config(dir: string, port: number, sink: string, extra: { storage?: string; processors?: string; exporter?: string; service?: string }): string {
  return `
receivers:
  zipkin:
    endpoint: 127.0.0.1:${port}
processors:
  join:
    quiet_period: 200ms
    check_interval: 20ms
${extra.storage !== undefined ? '    storage: file_storage\n' : ''}  batch:
    timeout: 20ms
    send_batch_size: 500
${extra.processors ?? ''}
exporters:
  otlp:
    endpoint: ${sink}
    tls: { insecure: true }
    timeout: 2s
    retry_on_failure: { initial_interval: 50ms, max_interval: 200ms, max_elapsed_time: 0 }
${extra.exporter ?? ''}
extensions:
  health_check:
    endpoint: 127.0.0.1:0
${extra.storage !== undefined ? `  file_storage:\n    directory: ${dir}/storage\n${extra.storage}` : ''}
service:
  extensions: [health_check${extra.storage !== undefined ? ', file_storage' : ''}]
${extra.service ?? ''}
  telemetry:
    metrics:
      address: 127.0.0.1:${port + 1}
  pipelines:
    traces:
      receivers: [zipkin]
      processors: [${extra.processors?.includes('memory_limiter') ? 'memory_limiter, ' : ''}join, batch]
      exporters: [otlp]
`;
}

describe('nothing acknowledged is lost', () => {
  it('kill -9 at a steady rate, restart on the same storage, then a backend outage: every acknowledged span arrives', async () => {
    const sink = await new OtlpGrpcSink().start();
    cleanup.push(() => sink.stop());
    const s = await setup({ storage: '    fsync: false\n', exporter: '    sending_queue: { storage: file_storage, queue_size: 100000, sizer: items }\n' });
    s.write(sink.endpoint);
    const first = await runRelay(s.file, s.port);
    const gen = load(s.port);
    await new Promise((r) => setTimeout(r, 700 + Math.random() * 600));
    first.child.kill('SIGKILL');
    await first.exited;
    const ackedBeforeKill = gen.acked.size;
    const second = await runRelay(s.file, s.port);
    await new Promise((r) => setTimeout(r, 800));
    sink.failure = { times: 1_000_000, grpcCode: grpc.status.UNAVAILABLE };
    await new Promise((r) => setTimeout(r, 1200));
    sink.failure = undefined;
    await gen.stop();
    const missing = await allDelivered(sink, gen.acked);
    expect(ackedBeforeKill).toBeGreaterThan(0);
    expect(gen.acked.size).toBeGreaterThan(ackedBeforeKill);
    expect(missing, `acknowledged but never delivered (of ${gen.acked.size})`).toEqual([]);
    expect(second.out()).toContain('sending again what the last run');
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 60_000);

  it('a slow backend: clients see refusals, memory stays bounded, and every acknowledged span arrives', async () => {
    const sink = await new OtlpGrpcSink().start();
    cleanup.push(() => sink.stop());
    sink.delayMs = 1000;
    const s = await setup({
      processors: '  memory_limiter:\n    check_interval: 100ms\n    limit_mib: 120\n    spike_limit_mib: 30\n',
      exporter: '    sending_queue: { queue_size: 2000, sizer: items, num_consumers: 2 }\n',
    });
    s.write(sink.endpoint);
    const relay = await runRelay(s.file, s.port);
    const gens = [load(s.port, 200, 0), load(s.port, 200, 0), load(s.port, 200, 0)];
    // Load until the collector pushes back (bounded: 20 s), then a little longer.
    for (let i = 0; i < 200 && gens.every((g) => g.refused() === 0); i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 1000));
    for (const g of gens) await g.stop();
    const metrics = await (await fetch(`http://127.0.0.1:${s.port + 1}/metrics`)).text();
    const peak = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${relay.child.pid}/status`, 'utf8'))![1]) * 1024;
    sink.delayMs = 0;
    const acked = new Set(gens.flatMap((g) => [...g.acked]));
    const missing = await allDelivered(sink, acked);
    expect(gens.reduce((n, g) => n + g.refused(), 0), 'refusals the clients saw').toBeGreaterThan(0);
    expect(metricValue(metrics, 'span_relay_receiver_refused_spans_total')).toBeGreaterThan(0);
    expect(missing, `acknowledged but never delivered (of ${acked.size})`).toEqual([]);
    // The limiter counts heap + buffers (120 MiB); RSS adds V8's own overhead on top.
    expect(peak).toBeLessThan(300 * 1024 * 1024);
    relay.child.kill('SIGTERM');
    await relay.exited;
  }, 60_000);

  it('a full disk (max_size) is backpressure, never a crash or a silent drop; space freed is taken again', async () => {
    const sink = await new OtlpGrpcSink().start();
    cleanup.push(() => sink.stop());
    sink.failure = { times: 1_000_000, grpcCode: grpc.status.UNAVAILABLE };
    const s = await setup({ storage: '    max_size: 200000\n    segment_size: 20000\n' });
    s.write(sink.endpoint);
    const relay = await runRelay(s.file, s.port);
    const gen = load(s.port, 20, 5);
    for (let i = 0; i < 100 && gen.refused() === 0; i++) await new Promise((r) => setTimeout(r, 50));
    const metrics = await (await fetch(`http://127.0.0.1:${s.port + 1}/metrics`)).text();
    expect(metricValue(metrics, 'span_relay_receiver_refused_spans_total', { reason: 'storage_full' })).toBeGreaterThan(0);
    sink.failure = undefined;
    const refusedWhileFull = gen.refused();
    await new Promise((r) => setTimeout(r, 1500));
    const ackedAfter = gen.acked.size;
    await new Promise((r) => setTimeout(r, 500));
    await gen.stop();
    expect(gen.acked.size).toBeGreaterThan(ackedAfter);
    expect(refusedWhileFull).toBeGreaterThan(0);
    expect(await allDelivered(sink, gen.acked)).toEqual([]);
    relay.child.kill('SIGTERM');
    expect(await relay.exited).toBe(0);
  }, 60_000);

  it('a corrupt log tail is cut at the last good record and reported; the good records are delivered', async () => {
    const sink = await new OtlpGrpcSink().start();
    cleanup.push(() => sink.stop());
    sink.failure = { times: 1_000_000, grpcCode: grpc.status.UNAVAILABLE };
    const s = await setup({ storage: '' });
    s.write(sink.endpoint);
    const first = await runRelay(s.file, s.port);
    const gen = load(s.port, 10, 5);
    await new Promise((r) => setTimeout(r, 500));
    await gen.stop();
    first.child.kill('SIGKILL');
    await first.exited;
    const logDir = join(s.dir, 'storage', 'processor-join');
    const last = readdirSync(logDir).filter((f) => f.endsWith('.wal')).sort().at(-1)!;
    appendFileSync(join(logDir, last), Buffer.from('SRW1\u0000\u0000\u0001\u0000torn'));
    sink.failure = undefined;
    const second = await runRelay(s.file, s.port);
    expect(await allDelivered(sink, gen.acked)).toEqual([]);
    expect(second.out()).toContain('cut at the last good record');
    second.child.kill('SIGTERM');
    await second.exited;
  }, 60_000);
});
