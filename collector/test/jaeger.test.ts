import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JaegerGrpcSink, JaegerThriftSink, b64hex, i64, i64hex, type JaegerProtoKv, type ThriftTag } from './helpers/sinks.js';
import { FAST_RETRY, startCollector, ZIPKIN_OC_OTLP_RECEIVERS, type RunningCollector } from './helpers/collector.js';

let grpcSink: JaegerGrpcSink;
let thriftSink: JaegerThriftSink;
let relay: RunningCollector;

beforeAll(async () => {
  grpcSink = await new JaegerGrpcSink().start();
  thriftSink = await new JaegerThriftSink().start();
  relay = await startCollector(`${ZIPKIN_OC_OTLP_RECEIVERS}
exporters:
  jaeger:
    endpoint: ${grpcSink.endpoint}
    tls:
      insecure: true${FAST_RETRY}
  jaeger_thrift:
    endpoint: ${thriftSink.url}/api/traces${FAST_RETRY}
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [jaeger, jaeger_thrift]
`);
});
afterAll(async () => {
  await relay.stop();
  await grpcSink.stop();
  await thriftSink.stop();
});

const TRACE = '5b8efff798038103d269b633813fc60c';
const request = {
  resourceSpans: [
    {
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'web' } }, { key: 'host.name', value: { stringValue: 'web-1' } }] },
      scopeSpans: [
        {
          scope: { name: 'otel-js', version: '2.0.0' },
          spans: [
            {
              traceId: TRACE,
              spanId: 'eee19b7ec3c1b174',
              parentSpanId: 'eee19b7ec3c1b173',
              name: 'POST /api/vote',
              kind: 3,
              startTimeUnixNano: '1700000000123456789',
              endTimeUnixNano: '1700000000223456789',
              attributes: [
                { key: 'http.status_code', value: { intValue: '503' } },
                { key: 'ratio', value: { doubleValue: 0.5 } },
                { key: 'retry', value: { boolValue: true } },
                { key: 'peer', value: { stringValue: 'voting' } },
              ],
              events: [{ timeUnixNano: '1700000000150000000', name: 'retrying', attributes: [{ key: 'attempt', value: { intValue: '2' } }] }],
              links: [{ traceId: 'a'.repeat(32), spanId: 'b'.repeat(16) }],
              status: { code: 2, message: 'upstream failed' },
            },
          ],
        },
      ],
    },
    {
      // A 64-bit trace (Zipkin-era tracers): high half zero.
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'nginx' } }] },
      scopeSpans: [{ spans: [{ traceId: '0000000000000000a1b2c3d4e5f60718', spanId: 'a1b2c3d4e5f60718', name: 'ingress', kind: 2, startTimeUnixNano: '1700000000000000000', endTimeUnixNano: '1700000000300000000' }] }],
    },
  ],
};

const protoTags = (kvs: JaegerProtoKv[] | undefined) =>
  Object.fromEntries((kvs ?? []).map((t) => [t.key, t.vStr ?? (t.vInt64 !== undefined ? Number(t.vInt64) : undefined) ?? t.vFloat64 ?? t.vBool ?? (t.vType === 'BOOL' ? false : undefined)]));
const thriftTags = (tags: ThriftTag[] | null) =>
  Object.fromEntries((tags ?? []).map((t) => [t.key, t.vStr ?? (t.vLong ? Number(i64(t.vLong)) : undefined) ?? t.vDouble ?? t.vBool ?? undefined]));

describe('jaeger exporters', () => {
  beforeAll(async () => {
    const res = await fetch(`${relay.url('otlp.http')}/v1/traces`, { method: 'POST', body: JSON.stringify(request), headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(200);
    await grpcSink.waitForSpans(2);
    await thriftSink.waitForSpans(2);
  });

  it('jaeger (gRPC PostSpans): one batch per process, tags, logs, references, ns times', () => {
    const batches = grpcSink.requests.map((r) => r.batch);
    const web = batches.find((b) => b.process.serviceName === 'web')!;
    expect(protoTags(web.process.tags)).toEqual({ 'host.name': 'web-1' });
    const s = web.spans[0]!;
    expect(b64hex(s.traceId)).toBe(TRACE);
    expect(b64hex(s.spanId)).toBe('eee19b7ec3c1b174');
    expect(s.operationName).toBe('POST /api/vote');
    expect(s.startTime).toEqual({ seconds: '1700000000', nanos: 123456789 });
    expect(s.duration).toEqual({ nanos: 100000000 });
    expect(s.references!.map((r) => [b64hex(r.traceId), b64hex(r.spanId), r.refType ?? 'CHILD_OF'])).toEqual([
      [TRACE, 'eee19b7ec3c1b173', 'CHILD_OF'],
      ['a'.repeat(32), 'b'.repeat(16), 'FOLLOWS_FROM'],
    ]);
    expect(protoTags(s.tags)).toEqual({
      'http.status_code': 503,
      ratio: 0.5,
      retry: true,
      peer: 'voting',
      'span.kind': 'client',
      error: true,
      'otel.status_code': 'ERROR',
      'otel.status_description': 'upstream failed',
      'otel.scope.name': 'otel-js',
      'otel.scope.version': '2.0.0',
    });
    expect(s.logs!.map((l) => [l.timestamp, protoTags(l.fields)])).toEqual([[{ seconds: '1700000000', nanos: 150000000 }, { event: 'retrying', attempt: 2 }]]);
    const nginx = batches.find((b) => b.process.serviceName === 'nginx')!;
    expect(b64hex(nginx.spans[0]!.traceId)).toBe('0000000000000000a1b2c3d4e5f60718');
  });

  it('jaeger_thrift (HTTP /api/traces): decoded by thriftrw with jaeger-client\'s own IDL', () => {
    expect(thriftSink.paths.every((p) => p === '/api/traces')).toBe(true);
    expect(thriftSink.headers[0]!['content-type']).toBe('application/vnd.apache.thrift.binary');
    const web = thriftSink.requests.find((b) => b.process.serviceName === 'web')!;
    expect(thriftTags(web.process.tags)).toEqual({ 'host.name': 'web-1' });
    const s = web.spans[0]!;
    expect(i64hex(s.traceIdHigh) + i64hex(s.traceIdLow)).toBe(TRACE);
    expect(i64hex(s.spanId)).toBe('eee19b7ec3c1b174');
    expect(i64hex(s.parentSpanId)).toBe('eee19b7ec3c1b173');
    expect(s.operationName).toBe('POST /api/vote');
    expect(s.flags).toBe(1);
    // Thrift carries microseconds.
    expect(i64(s.startTime)).toBe(1700000000123456n);
    expect(i64(s.duration)).toBe(100000n);
    expect(s.references!.map((r) => [r.refType, i64hex(r.traceIdHigh) + i64hex(r.traceIdLow), i64hex(r.spanId)])).toEqual([
      ['CHILD_OF', TRACE, 'eee19b7ec3c1b173'],
      ['FOLLOWS_FROM', 'a'.repeat(32), 'b'.repeat(16)],
    ]);
    expect(thriftTags(s.tags)).toMatchObject({ 'http.status_code': 503, ratio: 0.5, retry: true, 'span.kind': 'client', error: true, 'otel.status_description': 'upstream failed' });
    expect(s.logs!.map((l) => [i64(l.timestamp), thriftTags(l.fields)])).toEqual([[1700000000150000n, { event: 'retrying', attempt: 2 }]]);
    const nginx = thriftSink.requests.find((b) => b.process.serviceName === 'nginx')!.spans[0]!;
    expect(i64hex(nginx.traceIdHigh)).toBe('0000000000000000');
    expect(i64hex(nginx.traceIdLow)).toBe('a1b2c3d4e5f60718');
  });
});
