/**
 * Scale-out with trace affinity (issue #13), real processes on loopback: two routers (receivers →
 * batch → loadbalancing exporter) in front of three joiners (otlp → join → batch → otlp to a sink).
 * Each request's hops go to both routers at random, over Zipkin with 64-bit IDs and OTLP with the
 * 128-bit ID of the same request, with Zipkin shared spans; at the sink every request must be one
 * complete tree, nothing lost. Then a joiner leaves the ring and another joins while traffic flows.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OtlpGrpcSink } from '../collector/test/helpers/sinks.js';
import { startCollector, type RunningCollector } from '../collector/test/helpers/collector.js';
import { request, send, sentSpanIds, verdicts } from './helpers/mesh-requests.js';
import { killCollectorProcesses, runCollectorProcess } from './helpers/collector-process.js';
import type { LoadbalancingExporter } from '../collector/src/exporters/loadbalancing/index.js';
import { portRun } from '../collector/test/helpers/ports.js';

const cleanup: (() => Promise<void>)[] = [];
afterAll(async () => {
  killCollectorProcesses();
  for (const c of cleanup.reverse()) await c();
});


/** A joiner: OTLP gRPC in, the join, OTLP out to the sink. Resolves with its OTLP endpoint once ready. */
async function joiner(sinkEndpoint: string): Promise<{ endpoint: string; child: ChildProcess; exited: Promise<number | null> }> {
  const dir = mkdtempSync(join(tmpdir(), 'span-relay-joiner-'));
  const port = await portRun(2);
  writeFileSync(
    join(dir, 'config.yaml'),
    `receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:${port}\nprocessors:\n  join:\n    quiet_period: 300ms\n    check_interval: 20ms\n  batch:\n    timeout: 20ms\nexporters:\n  otlp:\n    endpoint: ${sinkEndpoint}\n    tls: { insecure: true }\nservice:\n  shutdown_timeout: 5s\n  telemetry:\n    metrics:\n      address: 127.0.0.1:${port + 1}\n  pipelines:\n    traces:\n      receivers: [otlp]\n      processors: [join, batch]\n      exporters: [otlp]\n`,
  );
  const { child, exited } = await runCollectorProcess(['--config', join(dir, 'config.yaml')], port + 1, 'the joiner to start');
  return { endpoint: `127.0.0.1:${port}`, child, exited };
}

/** A router: Zipkin and OTLP/HTTP in, batch, loadbalancing over the joiners. In process, so the test can change its ring. */
async function router(backends: string[]): Promise<RunningCollector> {
  const r = await startCollector(`
receivers:
  zipkin:
    endpoint: 127.0.0.1:0
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
processors:
  batch:
    timeout: 10ms
exporters:
  loadbalancing:
    routing_key: traceID
    protocol:
      otlp:
        tls: { insecure: true }
        retry_on_failure: { initial_interval: 50ms, max_interval: 200ms, max_elapsed_time: 0 }
    resolver:
      static:
        hostnames: [${backends.join(', ')}]
service:
  pipelines:
    traces:
      receivers: [zipkin, otlp]
      processors: [batch]
      exporters: [loadbalancing]
`);
  cleanup.push(() => r.stop());
  return r;
}

describe('scale-out with trace affinity', () => {
  it('two routers, three joiners: hops of one request sent to either router in either ID width all meet in one joiner: every request one complete tree, no span lost', async () => {
    const sink = await new OtlpGrpcSink().start();
    cleanup.push(() => sink.stop());
    const joiners = await Promise.all([joiner(sink.endpoint), joiner(sink.endpoint), joiner(sink.endpoint)]);
    const routers = [await router(joiners.map((j) => j.endpoint)), await router(joiners.map((j) => j.endpoint))];
    const requests = Array.from({ length: 30 }, (_, i) => request(i + 1));
    let sent = 0;
    for (const r of requests) sent += await send(routers, r);
    await sink.waitForSpans(sent, 20_000);
    await new Promise((r) => setTimeout(r, 500));
    const spans = sink.spans();
    // Shared spans come out as two (client half, and the server half with a new ID): one more each.
    expect(spans.length).toBe(sent);
    expect(verdicts(spans, requests.map((r) => r.trace64))).toEqual({ complete: requests.length, broken: 0 });
  }, 60_000);

  it('rescale under load: a joiner leaves the ring (SIGTERM) and another joins; nothing acknowledged is lost, few traces split', async () => {
    const sink = await new OtlpGrpcSink().start();
    cleanup.push(() => sink.stop());
    const [a, b, c] = await Promise.all([joiner(sink.endpoint), joiner(sink.endpoint), joiner(sink.endpoint)]);
    const r = await router([a!.endpoint, b!.endpoint]);
    const lb = r.collector.exporters.get('loadbalancing') as unknown as LoadbalancingExporter;
    const requests = Array.from({ length: 120 }, (_, i) => request(1000 + i));
    let sent = 0;
    let moved = false;
    for (const [i, req] of requests.entries()) {
      sent += await send([r], req);
      if (i === 60 && !moved) {
        moved = true;
        // What the DNS resolver would do when a pod goes and another comes: b leaves, c joins.
        await lb.setBackends([a!.endpoint, c!.endpoint]);
        b!.child.kill('SIGTERM');
      }
      await new Promise((res) => setTimeout(res, 10));
    }
    expect(await b!.exited).toBe(0);
    await sink.waitForSpans(sent, 30_000);
    await new Promise((res) => setTimeout(res, 800));
    const spans = sink.spans();
    const delivered = new Set(spans.map((s) => s.spanId));
    const sentIds = sentSpanIds(requests);
    expect(sentIds.filter((id) => !delivered.has(id)), 'spans lost').toEqual([]);
    const v = verdicts(spans, requests.map((q) => q.trace64));
    // Only traces in flight on b's part of the ring when it left can split: at this pace the join's
    // 300 ms quiet period holds about 15 requests, a third of them on b's part.
    console.log(`rescale: ${v.broken} of ${requests.length} traces split (${((v.broken / requests.length) * 100).toFixed(1)} %)`);
    expect(v.broken).toBeLessThanOrEqual(8);
  }, 90_000);
});
