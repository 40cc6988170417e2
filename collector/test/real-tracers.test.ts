/**
 * Tracers this project does not write, on their default transports, through the real receivers
 * and the join: Debian's py_zipkin (v1 Thrift, v1 JSON, v2 JSON), Ruby's jaeger-client (agent UDP,
 * compact Thrift), npm's jaeger-client (agent UDP, binary Thrift). A client missing on this machine
 * reports its test skipped by name; `.ci/run` installs them, so CI runs every one.
 */
import { spawnSync, execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { loadService, OtlpGrpcSink, type FlatOtlpSpan } from './helpers/sinks.js';
import { eventually, metricValue, startCollector, type RunningCollector, tracerRelayYaml } from './helpers/collector.js';

const run = promisify(execFile);
const PY = '/usr/bin/python3';
const HAVE_PY_ZIPKIN = spawnSync(PY, ['-c', 'import py_zipkin.zipkin'], { stdio: 'ignore' }).status === 0;
const HAVE_RUBY_JAEGER = spawnSync('ruby', ['-e', 'require "jaeger/client"'], { stdio: 'ignore' }).status === 0;
const CLIENTS = fileURLToPath(new URL('./clients/', import.meta.url));

let sink: OtlpGrpcSink;
let relay: RunningCollector;

beforeAll(async () => {
  sink = await new OtlpGrpcSink().start();
  relay = await startCollector(tracerRelayYaml(sink.endpoint, ['zipkin', 'jaeger:thrift_compact,thrift_binary,grpc']));
});
afterAll(async () => {
  await relay.stop();
  await sink.stop();
});
beforeEach(() => {
  sink.clear();
});

/** A trace as shape: each span as service/kind/name under its parent's, IDs left out. */
function shape(spans: FlatOtlpSpan[]): string[] {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const label = (s: FlatOtlpSpan) => `${s.service}:${(s.kind ?? 'unspecified').replace('SPAN_KIND_', '').toLowerCase()}:${s.name}`;
  return spans
    .map((s) => {
      const path: string[] = [];
      for (let x: FlatOtlpSpan | undefined = s; x; x = x.parentSpanId ? byId.get(x.parentSpanId) : undefined) path.unshift(label(x));
      return path.join(' > ');
    })
    .sort();
}

function oneTree(spans: FlatOtlpSpan[]): void {
  const ids = new Set(spans.map((s) => s.spanId));
  expect(ids.size, 'span IDs are unique').toBe(spans.length);
  expect(spans.filter((s) => !s.parentSpanId), 'one root').toHaveLength(1);
  expect(spans.filter((s) => s.parentSpanId && !ids.has(s.parentSpanId)), 'no orphans').toEqual([]);
}

interface PyIds {
  lone: { traceId: string; serverId: string };
  pair: { traceId: string; rootId: string; clientId: string };
}

describe('py_zipkin (python3-py-zipkin): the same spans give the same trees in every encoding', () => {
  const results = new Map<string, { ids: PyIds; lone: FlatOtlpSpan[]; pair: FlatOtlpSpan[] }>();

  for (const encoding of ['V1_THRIFT', 'V1_JSON', 'V2_JSON']) {
    it.skipIf(!HAVE_PY_ZIPKIN)(`py_zipkin ${encoding} → zipkin receiver → join: a lone shared server stays the root; a shared pair is split into one tree`, async () => {
      const { stdout } = await run(PY, [`${CLIENTS}py_zipkin_client.py`, relay.url('zipkin'), encoding], { timeout: 20_000 });
      const ids = JSON.parse(stdout) as PyIds;
      await sink.waitForSpans(6);
      await eventually(() => sink.spans().length >= 6, 'six spans');
      const spans = sink.spans();
      const lone = spans.filter((s) => s.traceId.endsWith(ids.lone.traceId));
      const pair = spans.filter((s) => s.traceId.endsWith(ids.pair.traceId));
      expect(lone).toHaveLength(2);
      expect(pair).toHaveLength(4);
      oneTree(lone);
      oneTree(pair);

      // The lone server keeps the ID its caller gave it and stays the root.
      const loneServer = lone.find((s) => s.kind === 'SPAN_KIND_SERVER')!;
      expect(loneServer).toMatchObject({ spanId: ids.lone.serverId, service: 'py-lone', name: 'GET /lone' });
      expect(loneServer.parentSpanId ?? '').toBe('');
      // IPv6 in RFC 5952 form, whatever the encoding carried (text or 16 bytes).
      expect(loneServer.attributes['net.host.ip']).toBe('2001:db8::5');

      // The shared pair: the server half has a new ID under the client half.
      const client = pair.find((s) => s.kind === 'SPAN_KIND_CLIENT')!;
      const server = pair.find((s) => s.kind === 'SPAN_KIND_SERVER')!;
      const charge = pair.find((s) => s.name === 'charge')!;
      expect(client.spanId).toBe(ids.pair.clientId);
      expect(server.parentSpanId).toBe(ids.pair.clientId);
      expect(server.spanId).not.toBe(ids.pair.clientId);
      expect(server.attributes['span_relay.original_span_id']).toBe(ids.pair.clientId);
      expect(charge.parentSpanId).toBe(server.spanId);
      // OpenCensus status tags are the status; otel.library.* the scope.
      expect(server.status).toMatchObject({ code: 'STATUS_CODE_ERROR', message: 'card service unavailable' });
      expect(server.attributes['census.status_code']).toBeUndefined();
      expect(server.attributes['otel.library.name']).toBeUndefined();
      expect(server.scope).toEqual({ name: 'py-pay-lib', version: '1.2.3' });
      results.set(encoding, { ids, lone, pair });
    });
  }

  it.skipIf(!HAVE_PY_ZIPKIN)('py_zipkin: the three encodings give the same trees', () => {
    const shapes = [...results.entries()].map(([encoding, r]) => ({ encoding, lone: shape(r.lone), pair: shape(r.pair) }));
    expect(shapes).toHaveLength(3);
    for (const s of shapes.slice(1)) {
      expect({ lone: s.lone, pair: s.pair }, s.encoding).toEqual({ lone: shapes[0]!.lone, pair: shapes[0]!.pair });
    }
  });
});

interface RubyIds {
  trace_id: string;
  root: string;
  child: string;
}

describe('jaeger agent UDP', () => {
  it.skipIf(!HAVE_RUBY_JAEGER)('ruby jaeger-client (ruby-jaeger-client) → thrift_compact UDP: every field', async () => {
    const port = relay.address('jaeger.thrift_compact').split(':').pop()!;
    const { stdout } = await run('ruby', [`${CLIENTS}ruby_jaeger_client.rb`, port], { timeout: 20_000 });
    const ids = JSON.parse(stdout) as RubyIds;
    await sink.waitForSpans(2);
    const spans = sink.spans();
    const root = spans.find((s) => s.spanId.endsWith(ids.root.padStart(16, '0')))!;
    const child = spans.find((s) => s.spanId.endsWith(ids.child.padStart(16, '0')))!;
    expect(root).toMatchObject({ traceId: ids.trace_id.padStart(32, '0'), name: 'GET /checkout', kind: 'SPAN_KIND_SERVER', service: 'ruby-checkout' });
    expect(root.resource).toMatchObject({ hostname: 'ruby-host-1', 'jaeger.version': expect.stringMatching(/^Ruby-/) });
    expect(root.attributes).toMatchObject({ 'http.status_code': 200 });
    expect(child).toMatchObject({ parentSpanId: root.spanId, name: 'SELECT orders', kind: 'SPAN_KIND_CLIENT', status: { code: 'STATUS_CODE_ERROR' } });
    expect(child.attributes).toMatchObject({ 'db.rows': 3, ratio: 0.25, cache: true });
    expect(child.events).toEqual([{ name: 'retry', timeUnixNano: expect.stringMatching(/^\d+000$/), attributes: { attempt: 2 } }]);
    expect(BigInt(child.startTimeUnixNano) >= BigInt(root.startTimeUnixNano)).toBe(true);
  });

  it("npm jaeger-client → thrift_binary UDP (Node's default agent transport): every field", async () => {
    const { initTracer } = createRequire(import.meta.url)('jaeger-client') as { initTracer: JaegerInit };
    const port = Number(relay.address('jaeger.thrift_binary').split(':').pop());
    const tracer = initTracer(
      { serviceName: 'node-web', sampler: { type: 'const', param: 1 }, reporter: { agentHost: '127.0.0.1', agentPort: port, flushIntervalMs: 20 } },
      { tags: { 'k8s.pod.name': 'web-1' }, logger: { info: () => undefined, error: () => undefined } },
    );
    const root = tracer.startSpan('GET /api/vote', { tags: { 'span.kind': 'server', 'http.method': 'GET' } });
    const child = tracer.startSpan('VoteDoughnut', { childOf: root, tags: { 'span.kind': 'client', attempt: 2 } });
    child.log({ event: 'retry', backoff_ms: 20 });
    child.setTag('error', true);
    child.finish();
    root.finish();
    await new Promise<void>((r) => tracer.close(() => r()));
    await sink.waitForSpans(2);
    const spans = sink.spans();
    const r = spans.find((s) => s.name === 'GET /api/vote')!;
    const c = spans.find((s) => s.name === 'VoteDoughnut')!;
    expect(r).toMatchObject({ kind: 'SPAN_KIND_SERVER', service: 'node-web' });
    expect(r.resource).toMatchObject({ 'k8s.pod.name': 'web-1' });
    expect(r.attributes).toMatchObject({ 'http.method': 'GET' });
    expect(c).toMatchObject({ traceId: r.traceId, parentSpanId: r.spanId, kind: 'SPAN_KIND_CLIENT', status: { code: 'STATUS_CODE_ERROR' } });
    expect(c.attributes).toMatchObject({ attempt: 2 });
    expect(c.events.map((e) => [e.name, e.attributes])).toEqual([['retry', { backoff_ms: 20 }]]);
  });

  it('a garbage datagram is counted and does not stop the socket', async () => {
    const { createSocket } = await import('node:dgram');
    const [host, port] = relay.address('jaeger.thrift_compact').split(':') as [string, string];
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.send(Buffer.from('not thrift at all'), Number(port), host, () => r()));
    await new Promise<void>((r) => sock.send(Buffer.from([0x82, 0x81, 0x00, 0x09, ...Buffer.from('emitBatch'), 0x1c, 0x1c, 0xff]), Number(port), host, () => r()));
    sock.close();
    await eventually(async () => metricValue(await relay.metrics(), 'span_relay_receiver_refused_spans_total', { receiver: 'jaeger', transport: 'udp_thrift_compact' }) >= 2, 'refusals counted');
  });
});

describe('jaeger gRPC (api_v2 CollectorService/PostSpans), as the linkerd-jaeger collector and jaeger-agent send', () => {
  type PostSpans = (req: unknown, cb: (err: grpc.ServiceError | null) => void) => void;
  const client = () => {
    const Service = loadService('jaeger.proto', ['jaeger', 'api_v2']).CollectorService as unknown as new (addr: string, creds: grpc.ChannelCredentials) => grpc.Client & { PostSpans: PostSpans };
    return new Service(relay.address('jaeger.grpc'), grpc.credentials.createInsecure());
  };
  const ts = (s: number, n: number) => ({ seconds: s, nanos: n });
  const kv = (key: string, v: Record<string, unknown>) => ({ key, ...v });

  it('takes a batch field by field, to the nanosecond, and refuses a bad span beside a good one with INVALID_ARGUMENT', async () => {
    const c = client();
    const trace = Buffer.from('a1b2c3d4e5f60718a1b2c3d4e5f60719', 'hex');
    const batch = {
      process: { serviceName: 'jaeger-agent-app', tags: [kv('hostname', { vType: 'STRING', vStr: 'pod-7' })] },
      spans: [
        {
          traceId: trace,
          spanId: Buffer.from('00000000000000b1', 'hex'),
          operationName: 'GET /ok',
          references: [{ traceId: trace, spanId: Buffer.from('00000000000000a1', 'hex'), refType: 'CHILD_OF' }],
          flags: 1,
          startTime: ts(1_700_000_000, 123_456_789),
          duration: { seconds: 0, nanos: 5_000_001 },
          tags: [
            kv('span.kind', { vType: 'STRING', vStr: 'server' }),
            kv('n', { vType: 'INT64', vInt64: '-42' }),
            kv('f', { vType: 'FLOAT64', vFloat64: 1.5 }),
            kv('b', { vType: 'BOOL', vBool: true }),
          ],
          logs: [{ timestamp: ts(1_700_000_000, 124_000_000), fields: [kv('event', { vType: 'STRING', vStr: 'cache miss' }), kv('key', { vType: 'STRING', vStr: 'k1' })] }],
        },
        { traceId: trace, spanId: Buffer.from('0000', 'hex'), operationName: 'bad', startTime: ts(1_700_000_000, 0), duration: ts(0, 1) },
      ],
    };
    const err = await new Promise<grpc.ServiceError | null>((resolve) => c.PostSpans({ batch }, resolve));
    expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err?.details).toMatch(/1 span\(s\) refused, 1 accepted: .*spanId/);
    await sink.waitForSpans(1);
    const [s] = sink.spans();
    expect(s).toMatchObject({
      traceId: 'a1b2c3d4e5f60718a1b2c3d4e5f60719',
      spanId: '00000000000000b1',
      parentSpanId: '00000000000000a1',
      name: 'GET /ok',
      kind: 'SPAN_KIND_SERVER',
      service: 'jaeger-agent-app',
      startTimeUnixNano: '1700000000123456789',
      endTimeUnixNano: '1700000000128456790',
    });
    expect(s!.resource).toMatchObject({ hostname: 'pod-7' });
    expect(s!.attributes).toEqual({ n: -42, f: 1.5, b: true });
    expect(s!.events).toEqual([{ name: 'cache miss', timeUnixNano: '1700000000124000000', attributes: { key: 'k1' } }]);
    c.close();
  });
});

interface JaegerSpan {
  finish(): void;
  log(fields: Record<string, unknown>): void;
  setTag(k: string, v: unknown): void;
}
type JaegerInit = (
  config: Record<string, unknown>,
  options: Record<string, unknown>,
) => { startSpan(name: string, o: { childOf?: JaegerSpan; tags?: Record<string, unknown> }): JaegerSpan; close(cb: () => void): void };
