/**
 * The acceptance of the join stage: realistic traffic from every source, through the real
 * receivers, arriving shuffled, late, duplicated, with skewed clocks and split across receivers,
 * comes out at an OTLP backend as one unbroken trace per request.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OtlpGrpcSink, type FlatOtlpSpan } from '../collector/test/helpers/sinks.js';
import { capturingLogger, eventually, metricValue, startCollector, ZIPKIN_OC_OTLP_RECEIVERS, type RunningCollector } from '../collector/test/helpers/collector.js';
import { deliver, shuffled, voteHops, type Hop } from './helpers/mesh-traffic.js';

let sink: OtlpGrpcSink;
let relay: RunningCollector;
let logs: ReturnType<typeof capturingLogger>;

const JOIN_YAML = (sinkEndpoint: string, join = '') => `${ZIPKIN_OC_OTLP_RECEIVERS}
processors:
  join:
    quiet_period: 400ms
    check_interval: 20ms
    late_span_memory: 30s
${join}
  batch:
    timeout: 10ms
exporters:
  otlp:
    endpoint: ${sinkEndpoint}
    tls: { insecure: true }
service:
  pipelines:
    traces:
      receivers: [zipkin, opencensus, otlp]
      processors: [join, batch]
      exporters: [otlp]
`;

beforeAll(async () => {
  sink = await new OtlpGrpcSink().start();
  logs = capturingLogger();
  relay = await startCollector(JOIN_YAML(sink.endpoint), {}, { logger: logs.logger });
});
afterAll(async () => {
  await relay.stop();
  await sink.stop();
});
beforeEach(() => {
  sink.clear();
  logs.lines.length = 0;
});

const to = () => ({ zipkin: relay.url('zipkin'), opencensus: relay.address('opencensus'), otlp: relay.url('otlp.http') });

function tree(spans: FlatOtlpSpan[]) {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const roots = spans.filter((s) => !s.parentSpanId);
  const orphans = spans.filter((s) => s.parentSpanId && !byId.has(s.parentSpanId));
  const path = (id: string): string[] => {
    const out: string[] = [];
    for (let s = byId.get(id); s; s = s.parentSpanId ? byId.get(s.parentSpanId) : undefined) out.unshift(`${s.service}:${s.kind.replace('SPAN_KIND_', '').toLowerCase()}`);
    return out;
  };
  return { roots, orphans, path };
}

describe('join: one unbroken trace per request', () => {
  it('64-bit nginx ingress → proxies (OpenCensus) → apps, shuffled, duplicated, late and 2 s clock skew', async () => {
    const hops = voteHops('a1b2c3d4e5f60718', { votingSkewMs: 2000 });
    const emojiApp = hops.at(-1)!;
    const early = shuffled(hops.slice(0, -1), 7);
    // Split across receivers and arrival orders; the proxy hops are sent twice (a retry).
    await deliver(early.slice(0, 5), to(), 2);
    await deliver(early.slice(5), to());
    await new Promise((r) => setTimeout(r, 150)); // late, but within the quiet period
    await deliver([emojiApp], to());

    await sink.waitForSpans(hops.length);
    await new Promise((r) => setTimeout(r, 100));
    const spans = sink.spans();
    expect(spans).toHaveLength(hops.length);
    expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set(['0000000000000000a1b2c3d4e5f60718']));
    const { roots, orphans, path } = tree(spans);
    expect(orphans).toEqual([]);
    expect(roots.map((r) => r.spanId)).toEqual([hops[0]!.id]);
    expect(path(hops.find((h) => h.service === 'voting-svc')!.id)).toEqual([
      'nginx:server',
      'linkerd-proxy:server',
      'web:server',
      'web:client',
      'linkerd-proxy:client',
      'linkerd-proxy:server',
      'voting-svc:server',
    ]);
    expect(path(emojiApp.id)).toEqual(['nginx:server', 'linkerd-proxy:server', 'web:server', 'web:client', 'linkerd-proxy:client', 'linkerd-proxy:server', 'emoji-svc:server']);
    // The voting pod's clock ran 2 s ahead: its spans are shifted into their parent.
    const votingProxy = spans.find((s) => s.spanId === hops[5]!.id)!;
    const parent = spans.find((s) => s.spanId === votingProxy.parentSpanId)!;
    expect(BigInt(votingProxy.startTimeUnixNano) >= BigInt(parent.startTimeUnixNano)).toBe(true);
    expect(BigInt(votingProxy.endTimeUnixNano) <= BigInt(parent.endTimeUnixNano)).toBe(true);
    expect(votingProxy.attributes['span_relay.clock_skew_adjustment_ns']).toBe(-2_000_000_000);
    const voting = spans.find((s) => s.service === 'voting-svc')!;
    expect(BigInt(voting.startTimeUnixNano) - BigInt(votingProxy.startTimeUnixNano)).toBe(1_000_000n);
    const m = await relay.metrics();
    expect(metricValue(m, 'span_relay_join_duplicate_spans_total')).toBeGreaterThanOrEqual(1);
    expect(metricValue(m, 'span_relay_join_traces_total', { verdict: 'broken' })).toBe(0);
  });

  it('a span that comes after its trace went out still joins it (late-span memory), as a child, not an orphan', async () => {
    const hops = voteHops('b1b2c3d4e5f60718');
    await deliver(hops, to());
    await sink.waitForSpans(hops.length);
    const w = hops.find((h) => h.service === 'web' && h.kind === 'SERVER')!;
    const late: Hop = { ...w, id: 'b1b2c3d4e5f6ffff', parent: w.id, kind: 'CLIENT', name: 'late db call', startMs: 90, endMs: 95, via: 'otlp' };
    const brokenBefore = metricValue(await relay.metrics(), 'span_relay_join_traces_total', { verdict: 'broken' });
    await deliver([late], to());
    await sink.waitForSpans(hops.length + 1);
    const got = sink.spans().find((s) => s.spanId === late.id)!;
    expect(got.traceId).toBe('0000000000000000b1b2c3d4e5f60718');
    expect(got.parentSpanId).toBe(w.id);
    await eventually(async () => metricValue(await relay.metrics(), 'span_relay_join_traces_total', { verdict: 'complete' }) >= 2);
    expect(metricValue(await relay.metrics(), 'span_relay_join_traces_total', { verdict: 'broken' })).toBe(brokenBefore);
  });

  it('a 128-bit ingress trace: a legacy hop reporting only the low 64 bits is given the full ID', async () => {
    const full = 'f00dfeedcafe0001c1b2c3d4e5f60718';
    const hops = voteHops('c1b2c3d4e5f60718', { ingressTraceId: full, proxyVia: 'otlp' });
    // The web app is an old Zipkin v1 tracer that keeps 64-bit IDs.
    const legacy = hops.map((h) => (h.service === 'web' ? { ...h, via: 'zipkin' as const, traceId: 'c1b2c3d4e5f60718' } : h));
    await deliver(shuffled(legacy, 3), to());
    await sink.waitForSpans(hops.length);
    const spans = sink.spans();
    expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set([full]));
    expect(tree(spans).roots).toHaveLength(1);
    expect(tree(spans).orphans).toEqual([]);
    expect(spans.filter((s) => s.attributes['span_relay.original_trace_id'] === 'c1b2c3d4e5f60718').map((s) => s.service)).toEqual(['web', 'web', 'web']);
  });

  it('Zipkin client and server halves sharing one span ID come out as a true tree with unique IDs', async () => {
    const body = [
      { traceId: 'd1b2c3d4e5f60718', id: 'd1b2c3d4e5f60001', name: 'get /', kind: 'SERVER', timestamp: 1700000000000000, duration: 1000, localEndpoint: { serviceName: 'frontend' } },
      { traceId: 'd1b2c3d4e5f60718', parentId: 'd1b2c3d4e5f60001', id: 'd1b2c3d4e5f60002', name: 'get /api', kind: 'CLIENT', timestamp: 1700000000000100, duration: 800, localEndpoint: { serviceName: 'frontend' } },
      { traceId: 'd1b2c3d4e5f60718', parentId: 'd1b2c3d4e5f60001', id: 'd1b2c3d4e5f60002', name: 'get /api', kind: 'SERVER', shared: true, timestamp: 1700000000000150, duration: 700, localEndpoint: { serviceName: 'backend' } },
      { traceId: 'd1b2c3d4e5f60718', parentId: 'd1b2c3d4e5f60002', id: 'd1b2c3d4e5f60003', name: 'select', kind: 'CLIENT', timestamp: 1700000000000200, duration: 100, localEndpoint: { serviceName: 'backend' } },
    ];
    const res = await fetch(`${relay.url('zipkin')}/api/v2/spans`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(202);
    await sink.waitForSpans(4);
    const spans = sink.spans();
    expect(new Set(spans.map((s) => s.spanId)).size).toBe(4);
    const { roots, orphans, path } = tree(spans);
    expect(roots).toHaveLength(1);
    expect(orphans).toEqual([]);
    const select = spans.find((s) => s.name === 'select')!;
    expect(path(select.spanId)).toEqual(['frontend:server', 'frontend:client', 'backend:server', 'backend:client']);
  });
});

describe('join: what it must not paper over', () => {
  it('a genuinely missing hop is reported as an orphan with the right missing parent, and a line a user can act on', async () => {
    const hops = voteHops('e1b2c3d4e5f60718');
    const missing = hops.find((h) => h.service === 'linkerd-proxy' && h.kind === 'CLIENT' && h.name.includes('Voting'))!;
    await deliver(hops.filter((h) => h !== missing), to());
    await sink.waitForSpans(hops.length - 1);
    await eventually(() => logs.lines.some((l) => l.msg.includes('which no service reported')), 'orphan log line');
    const { orphans } = tree(sink.spans());
    expect(orphans.map((o) => [o.service, o.parentSpanId])).toEqual([['linkerd-proxy', missing.id]]);
    const line = logs.lines.find((l) => l.msg.includes('which no service reported'))!;
    expect(line.msg).toContain(`names parent ${missing.id}`);
    expect(line.msg).toContain('from service linkerd-proxy');
    expect(line.msg).toContain("the caller of this proxy's inbound hop");
    expect(line).toMatchObject({ trace_id: 'e1b2c3d4e5f60718', missing_parent_id: missing.id });
    const m = await relay.metrics();
    expect(metricValue(m, 'span_relay_join_traces_total', { verdict: 'broken' })).toBeGreaterThanOrEqual(1);
    expect(metricValue(m, 'span_relay_join_orphan_spans_total', { service: 'linkerd-proxy' })).toBeGreaterThanOrEqual(1);
  });

  it('two different requests are never merged', async () => {
    const a = voteHops('f1b2c3d4e5f60718');
    const b = voteHops('f2b2c3d4e5f60718');
    await deliver(shuffled([...a, ...b], 11), to());
    await sink.waitForSpans(a.length + b.length);
    const spans = sink.spans();
    const traces = new Set(spans.map((s) => s.traceId));
    expect(traces).toEqual(new Set(['0000000000000000f1b2c3d4e5f60718', '0000000000000000f2b2c3d4e5f60718']));
    for (const t of traces) {
      const { roots, orphans } = tree(spans.filter((s) => s.traceId === t));
      expect(roots).toHaveLength(1);
      expect(orphans).toEqual([]);
    }
  });
});

describe('join: window bounds', () => {
  it('under a flood of never-ending traces, held bytes and traces stay under the limits and every span still goes out, marked incomplete', async () => {
    const floodSink = await new OtlpGrpcSink().start();
    const limits = { traces: 50, bytes: 150_000 };
    const flood = await startCollector(JOIN_YAML(floodSink.endpoint).replace('    late_span_memory: 30s\n', `    late_span_memory: 30s\n    quiet_period: 1h\n    max_trace_age: 1h\n    max_traces: ${limits.traces}\n    max_bytes: ${limits.bytes}\n`).replace('    quiet_period: 400ms\n', ''));
    try {
      let sent = 0;
      let maxBytes = 0;
      let maxTraces = 0;
      for (let round = 0; round < 40; round++) {
        const hops: Hop[] = Array.from({ length: 50 }, (_, i) => ({
          id: (round * 1000 + i + 1).toString(16).padStart(16, '0'),
          service: 'web',
          host: 'web-pod',
          kind: 'SERVER',
          name: 'never ends '.repeat(4),
          startMs: i,
          endMs: i + 1,
          via: 'otlp',
          // ten spans per trace, traces never quiet within the test
          traceId: (round * 100 + Math.floor(i / 10) + 1).toString(16).padStart(32, '9'),
          attributes: { filler: 'x'.repeat(200) },
        }));
        await deliver(hops, { zipkin: flood.url('zipkin'), opencensus: flood.address('opencensus'), otlp: flood.url('otlp.http') });
        sent += hops.length;
        const m = await flood.metrics();
        maxBytes = Math.max(maxBytes, metricValue(m, 'span_relay_join_bytes_held'));
        maxTraces = Math.max(maxTraces, metricValue(m, 'span_relay_join_traces_held'));
      }
      expect(maxBytes).toBeGreaterThan(0);
      expect(maxBytes).toBeLessThanOrEqual(limits.bytes);
      expect(maxTraces).toBeLessThanOrEqual(limits.traces);
      const m = await flood.metrics();
      expect(metricValue(m, 'span_relay_join_evicted_traces_total')).toBeGreaterThan(100);
      await eventually(() => floodSink.count() >= sent - maxTraces * 10, 'evicted spans at the sink');
      const out = floodSink.spans();
      expect(out.every((s) => s.attributes['span_relay.join.incomplete'] === 'max_traces' || s.attributes['span_relay.join.incomplete'] === 'max_bytes')).toBe(true);
    } finally {
      await flood.stop();
    }
    // Shutdown releases what was still held: nothing silently dropped.
    expect(floodSink.count()).toBe(2000);
    await floodSink.stop();
  });
});
