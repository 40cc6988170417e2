/**
 * `span-relay run --workers 2` (issue #13), as a user runs it: one command, two worker processes
 * sharing the Zipkin and OTLP ports. Each request's hops arrive on many connections (so on both
 * workers), over Zipkin with 64-bit IDs and OTLP with the 128-bit ID of the same request, with Zipkin
 * shared spans; the workers hand each span to the one that owns its trace, and at the sink every
 * request is one complete tree, nothing lost. Metrics come once, summed, from the primary.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { metricValue } from '../collector/test/helpers/collector.js';
import { OtlpGrpcSink } from '../collector/test/helpers/sinks.js';
import { sendOtlp, sendZipkin, voteHops, type Hop } from './helpers/mesh-traffic.js';
import { BIN, killCollectorProcesses, runCollectorProcess } from './helpers/collector-process.js';
import { portRun } from '../collector/test/helpers/ports.js';

const cleanup: (() => Promise<void>)[] = [];
afterAll(async () => {
  killCollectorProcesses();
  for (const c of cleanup.reverse()) await c();
});


function config(dir: string, port: number, sink: string, extra = '', exporters = 'otlp'): string {
  const file = join(dir, 'config.yaml');
  writeFileSync(
    file,
    `receivers:
  zipkin:
    endpoint: 127.0.0.1:${port}
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${port + 1}
processors:
  join:
    quiet_period: 300ms
    check_interval: 20ms
  batch:
    timeout: 20ms
exporters:
  otlp:
    endpoint: ${sink}
    tls: { insecure: true }
${extra}service:
  shutdown_timeout: 5s
  telemetry:
    metrics:
      address: 127.0.0.1:${port + 2}
  pipelines:
    traces:
      receivers: [zipkin, otlp]
      processors: [join, batch]
      exporters: [${exporters}]
`,
  );
  return file;
}

function request(n: number): { trace64: string; hops: Hop[]; shared: object[] } {
  const trace64 = (0xbeef000000000000n + BigInt(n) * 0x9e3779b97f4an).toString(16).slice(-16).padStart(16, '1');
  const high = (0x7a7a000000000000n + BigInt(n)).toString(16);
  const hops = voteHops(trace64, { proxyVia: 'otlp' }).map((h) => (h.via === 'zipkin' ? h : { ...h, via: 'otlp' as const, traceId: `${high}${trace64}` }));
  const nginx = hops[0]!;
  const client = { traceId: trace64, parentId: nginx.id, id: `${trace64.slice(0, 12)}00ff`, name: 'GET /audit', kind: 'CLIENT', timestamp: 1_700_000_000_020_000, duration: 30_000, localEndpoint: { serviceName: 'nginx' } };
  const server = { ...client, kind: 'SERVER', shared: true, timestamp: client.timestamp + 1_000, duration: 28_000, localEndpoint: { serviceName: 'audit' } };
  return { trace64, hops, shared: [client, server] };
}

describe('span-relay run --workers 2', () => {
  it('hops of one request reaching either worker in either ID width meet in one join: every request one complete tree, none lost, metrics summed by the primary', async () => {
    const sink = await new OtlpGrpcSink().start();
    cleanup.push(() => sink.stop());
    const port = await portRun(3);
    const file = config(mkdtempSync(join(tmpdir(), 'span-relay-workers-test-')), port, sink.endpoint);
    const { child, exited } = await runCollectorProcess(['--workers', '2', '--config', file], port + 2, 'both workers ready');
    const admin = `http://127.0.0.1:${port + 2}`;

    const requests = Array.from({ length: 40 }, (_, i) => request(i + 1));
    let sent = 0;
    // Ten requests at a time, every hop its own POST: the client opens several connections, and the
    // cluster deals them out to both workers.
    for (let i = 0; i < requests.length; i += 10) {
      const statuses = await Promise.all(
        requests.slice(i, i + 10).flatMap((r) => [
          ...r.hops.map((h) => (h.via === 'zipkin' ? sendZipkin(`http://127.0.0.1:${port}`, [h]) : sendOtlp(`http://127.0.0.1:${port + 1}`, [h]))),
          ...r.shared.map((s) => fetch(`http://127.0.0.1:${port}/api/v2/spans`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([s]) }).then((res) => res.status)),
        ]),
      );
      expect(statuses.filter((s) => s >= 300)).toEqual([]);
      sent += statuses.length;
    }
    await sink.waitForSpans(sent, 20_000);
    await new Promise((r) => setTimeout(r, 500));
    const spans = sink.spans();
    expect(spans.length).toBe(sent);
    for (const r of requests) {
      const mine = spans.filter((s) => s.traceId.endsWith(r.trace64));
      const ids = new Set(mine.map((s) => s.spanId));
      expect(mine.filter((s) => !s.parentSpanId).length, `${r.trace64}: one root`).toBe(1);
      expect(mine.filter((s) => s.parentSpanId && !ids.has(s.parentSpanId)).map((s) => s.name), `${r.trace64}: no orphans`).toEqual([]);
      expect(new Set(mine.map((s) => s.traceId)).size, `${r.trace64}: one trace ID`).toBe(1);
    }

    const metrics = await (await fetch(`${admin}/metrics`)).text();
    // Both workers took connections, and each handed the other the traces it owns.
    expect(metricValue(metrics, 'span_relay_worker_handoff_spans_total', { from: '0', to: '1' })).toBeGreaterThan(0);
    expect(metricValue(metrics, 'span_relay_worker_handoff_spans_total', { from: '1', to: '0' })).toBeGreaterThan(0);
    // Summed over the workers: everything the receivers took.
    expect(metricValue(metrics, 'span_relay_receiver_accepted_spans_total')).toBe(sent);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 60_000);

  it('refuses a config whose components own files, naming each', async () => {
    const port = await portRun(3);
    const dir = mkdtempSync(join(tmpdir(), 'span-relay-workers-test-'));
    const file = config(dir, port, '127.0.0.1:1', `  embedded:\n    path: ${dir}/t.db\n    query: { endpoint: 127.0.0.1:0 }\n`, 'otlp, embedded');
    const child = spawn(process.execPath, [BIN, 'run', '--workers', '2', '--config', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(1);
    expect(err).toContain('exporters.embedded: the embedded exporter writes files that one process owns');
  }, 30_000);
});
