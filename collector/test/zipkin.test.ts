import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Annotation, BatchRecorder, ExplicitContext, Tracer, jsonEncoder } from 'zipkin';
import { HttpLogger } from 'zipkin-transport-http';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ZipkinExporter } from '@opentelemetry/exporter-zipkin';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import protobuf from 'protobufjs';
import { join } from 'node:path';
import { OtlpGrpcSink, type FlatOtlpSpan } from './helpers/sinks.js';
import { metricValue, otlpPipelineYaml, startCollector, type RunningCollector } from './helpers/collector.js';
import { PROTO_DIR } from '../src/paths.js';

const FIXTURES = new URL('../../../shared/fixtures/zipkin/', import.meta.url);
const fixture = (name: string): string => readFileSync(new URL(name, FIXTURES), 'utf8');

let sink: OtlpGrpcSink;
let relay: RunningCollector;

beforeAll(async () => {
  sink = await new OtlpGrpcSink().start();
  relay = await startCollector(otlpPipelineYaml(sink.endpoint));
});
afterAll(async () => {
  await relay.stop();
  await sink.stop();
});
beforeEach(() => {
  sink.clear();
});

async function post(path: string, body: string | Buffer, headers: Record<string, string> = { 'content-type': 'application/json' }): Promise<Response> {
  return fetch(`${relay.url('zipkin')}${path}`, { method: 'POST', body, headers });
}

function byId(spans: FlatOtlpSpan[], id: string): FlatOtlpSpan[] {
  return spans.filter((s) => s.spanId === id);
}

describe('zipkin receiver with real clients', () => {
  it('takes spans from zipkin-js over zipkin-transport-http, exact to the microsecond', async () => {
    const sent: unknown[] = [];
    // fetchImplementation is a documented HttpLogger option that its .d.ts does not declare.
    const options: ConstructorParameters<typeof HttpLogger>[0] & { fetchImplementation: unknown } = {
      endpoint: `${relay.url('zipkin')}/api/v2/spans`,
      jsonEncoder: jsonEncoder.JSON_V2,
      httpInterval: 20,
      fetchImplementation: (url: string, init: { body: string }) => {
        sent.push(...(JSON.parse(init.body) as unknown[]));
        return fetch(url, init as RequestInit);
      },
    };
    const logger = new HttpLogger(options);
    const tracer = new Tracer({ ctxImpl: new ExplicitContext(), recorder: new BatchRecorder({ logger }), localServiceName: 'vote-bot', traceId128Bit: false });
    const root = tracer.createRootId();
    tracer.setId(root);
    tracer.recordServiceName('vote-bot');
    tracer.recordRpc('GET /api/vote');
    tracer.recordAnnotation(new Annotation.ClientSend());
    tracer.recordBinary('http.path', '/api/vote');
    tracer.recordAnnotation(new Annotation.ServerAddr({ serviceName: 'web', port: 8080 }));
    tracer.recordMessage('retrying');
    tracer.recordBinary('error', 'upstream 503');
    tracer.recordAnnotation(new Annotation.ClientRecv());

    await sink.waitForSpans(1);
    const spans = sink.spans();
    expect(spans).toHaveLength(1);
    const got = spans[0]!;
    const zs = sent[0] as { traceId: string; id: string; timestamp: number; duration: number; annotations: { timestamp: number }[] };
    expect(zs.traceId).toHaveLength(16);
    // A 64-bit Zipkin trace ID is left-padded into OTLP's 16 bytes.
    expect(got.traceId).toBe(`0000000000000000${root.traceId}`);
    expect(got.spanId).toBe(root.spanId);
    expect(got.parentSpanId).toBeUndefined();
    expect(got.name).toBe('get /api/vote');
    expect(got.kind).toBe('SPAN_KIND_CLIENT');
    expect(got.service).toBe('vote-bot');
    expect(got.startTimeUnixNano).toBe(`${zs.timestamp}000`);
    expect(got.endTimeUnixNano).toBe(String(BigInt(zs.timestamp + zs.duration) * 1000n));
    expect(got.attributes).toMatchObject({ 'http.path': '/api/vote', 'peer.service': 'web', 'net.peer.port': 8080 });
    expect(got.events.map((e) => e.name)).toEqual(['retrying']);
    expect(got.events[0]!.timeUnixNano).toBe(`${zs.annotations[0]!.timestamp}000`);
    expect(got.status).toEqual({ code: 'STATUS_CODE_ERROR', message: 'upstream 503' });
  });

  it('takes spans from @opentelemetry/exporter-zipkin with 128-bit IDs, kinds, status and events', async () => {
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'emoji-svc' }),
      spanProcessors: [new SimpleSpanProcessor(new ZipkinExporter({ url: `${relay.url('zipkin')}/api/v2/spans` }))],
    });
    const tracer = provider.getTracer('test');
    const start = 1_700_000_000_123_456; // µs; Zipkin carries microseconds
    const parent = tracer.startSpan('GET /list', { kind: SpanKind.SERVER, startTime: [Math.floor(start / 1e6), (start % 1e6) * 1000] });
    const child = tracer.startSpan(
      'emojivoto.v1.EmojiService/ListAll',
      { kind: SpanKind.CLIENT, startTime: [Math.floor((start + 10) / 1e6), ((start + 10) % 1e6) * 1000], attributes: { 'rpc.system': 'grpc', retries: 2 } },
      trace.setSpan(context.active(), parent),
    );
    child.addEvent('sent', [Math.floor((start + 15) / 1e6), ((start + 15) % 1e6) * 1000]);
    child.setStatus({ code: SpanStatusCode.ERROR, message: 'doughnut' });
    child.end([Math.floor((start + 500) / 1e6), ((start + 500) % 1e6) * 1000]);
    parent.end([Math.floor((start + 900) / 1e6), ((start + 900) % 1e6) * 1000]);
    await provider.forceFlush();

    await sink.waitForSpans(2);
    const spans = sink.spans();
    const p = byId(spans, parent.spanContext().spanId)[0]!;
    const c = byId(spans, child.spanContext().spanId)[0]!;
    expect(p.traceId).toBe(parent.spanContext().traceId);
    expect(c.traceId).toBe(parent.spanContext().traceId);
    expect(c.parentSpanId).toBe(p.spanId);
    expect(p.kind).toBe('SPAN_KIND_SERVER');
    expect(c.kind).toBe('SPAN_KIND_CLIENT');
    expect(p.startTimeUnixNano).toBe(`${start}000`);
    expect(c.startTimeUnixNano).toBe(`${start + 10}000`);
    expect(c.endTimeUnixNano).toBe(`${start + 500}000`);
    expect(c.service).toBe('emoji-svc');
    expect(c.attributes).toMatchObject({ 'rpc.system': 'grpc', retries: '2' });
    expect(c.status).toEqual({ code: 'STATUS_CODE_ERROR', message: 'doughnut' });
    expect(c.events).toEqual([{ name: 'sent', timeUnixNano: `${start + 15}000`, attributes: {} }]);
    await provider.shutdown();
  });
});

describe('zipkin receiver with public payloads', () => {
  it('decodes otelcol-contrib sample3: remote service, annotations, otel.status_* tags', async () => {
    const res = await post('/api/v2/spans', fixture('otelcol-contrib-sample3.json'));
    expect(res.status).toBe(202);
    await sink.waitForSpans(1);
    const [s] = sink.spans();
    expect(s).toMatchObject({
      traceId: '4d1e00c0db9010db86154a4ba6e91385',
      spanId: '4d1e00c0db9010db',
      parentSpanId: '86154a4ba6e91385',
      name: 'get',
      kind: 'SPAN_KIND_CLIENT',
      startTimeUnixNano: '1472470996199000000',
      endTimeUnixNano: '1472470996406000000',
      status: { code: 'STATUS_CODE_ERROR', message: 'Something failed' },
      service: undefined,
    });
    expect(s!.attributes).toEqual({
      'http.path': '/api',
      'clnt/finagle.version': '6.45.0',
      // RFC 5952: mixed notation only for IPv4-mapped addresses, so the sample's 7::0.128.128.127 reads
      'net.host.ip': '7::80:807f',
      'peer.service': 'backend',
      'net.peer.ip': '192.168.99.101',
      'net.peer.port': 9000,
    });
    expect(s!.events.map((e) => [e.name, e.timeUnixNano])).toEqual([
      ['foo', '1472470996238000000'],
      ['bar', '1472470996403000000'],
    ]);
  });

  it('decodes otelcol-contrib sample4: the error tag becomes an error status', async () => {
    expect((await post('/api/v2/spans', fixture('otelcol-contrib-sample4.json'))).status).toBe(202);
    await sink.waitForSpans(1);
    expect(sink.spans()[0]!.status).toEqual({ code: 'STATUS_CODE_ERROR', message: 'Non-basic error message' });
  });

  it('splits the merged client+server span of the Jaeger fixture and keeps the span whose ss annotation is malformed', async () => {
    const res = await post('/api/v2/spans', fixture('jaeger-zipkin_v1_merged_spans.json'));
    expect(res.status).toBe(202);
    await sink.waitForSpans(3);
    const spans = sink.spans();
    expect(spans).toHaveLength(3);
    const root = byId(spans, '4ed11df465275600')[0]!;
    expect(root).toMatchObject({ traceId: '00000000000000004ed11df465275600', kind: 'SPAN_KIND_SERVER', service: 'first_service', parentSpanId: undefined });
    // timestamp + duration stand; the malformed `ss` annotation is not used for the end.
    expect(root.startTimeUnixNano).toBe('1633073248674949000');
    expect(root.endTimeUnixNano).toBe(String((1633073248674949n + 14861n) * 1000n));
    const halves = byId(spans, 'c943743e25dc2cdf');
    expect(halves.map((h) => h.kind).sort()).toEqual(['SPAN_KIND_CLIENT', 'SPAN_KIND_SERVER']);
    const client = halves.find((h) => h.kind === 'SPAN_KIND_CLIENT')!;
    const server = halves.find((h) => h.kind === 'SPAN_KIND_SERVER')!;
    expect(client.startTimeUnixNano).toBe('1633073248678309000');
    expect(client.endTimeUnixNano).toBe('1633073248685029000');
    expect(server.startTimeUnixNano).toBe('1633073248681669000');
    expect(server.endTimeUnixNano).toBe('1633073248688388000');
    expect(client.parentSpanId).toBe('4ed11df465275600');
    const metrics = await relay.metrics();
    expect(metricValue(metrics, 'span_relay_receiver_dropped_fields_total', { reason: 'annotation_timestamp' })).toBeGreaterThanOrEqual(1);
  });

  it('accepts the same fixture on /api/v1/spans, as Jaeger does', async () => {
    const res = await post('/api/v1/spans', fixture('jaeger-zipkin_v1_merged_spans.json'));
    expect(res.status).toBe(202);
    await sink.waitForSpans(3);
  });
});

describe('zipkin receiver encodings', () => {
  it('reads v1 JSON with binaryAnnotations as nginx-opentracing sends it', async () => {
    const v1 = [
      {
        traceId: 'a1b2c3d4e5f60718',
        id: 'a1b2c3d4e5f60718',
        name: 'ingress',
        timestamp: 1700000000000001,
        duration: 2500,
        annotations: [
          { timestamp: 1700000000000001, value: 'sr', endpoint: { serviceName: 'nginx', ipv4: '10.0.0.1', port: 80 } },
          { timestamp: 1700000000002501, value: 'ss', endpoint: { serviceName: 'nginx', ipv4: '10.0.0.1', port: 80 } },
        ],
        binaryAnnotations: [
          { key: 'http.url', value: 'http://web/api/vote', endpoint: { serviceName: 'nginx', ipv4: '10.0.0.1' } },
          { key: 'http.status_code', value: '200', endpoint: { serviceName: 'nginx' } },
          { key: 'ca', value: true, endpoint: { serviceName: 'client', ipv4: '10.9.9.9', port: 5555 } },
        ],
      },
    ];
    expect((await post('/api/v1/spans', JSON.stringify(v1))).status).toBe(202);
    await sink.waitForSpans(1);
    const [s] = sink.spans();
    expect(s).toMatchObject({ traceId: '0000000000000000a1b2c3d4e5f60718', kind: 'SPAN_KIND_SERVER', service: 'nginx', startTimeUnixNano: '1700000000000001000', endTimeUnixNano: '1700000000002501000' });
    expect(s!.attributes).toMatchObject({ 'http.url': 'http://web/api/vote', 'http.status_code': '200', 'net.peer.ip': '10.9.9.9', 'net.peer.port': 5555 });
  });

  it('reads proto3 ListOfSpans and gzip bodies', async () => {
    const ListOfSpans = protobuf.loadSync(join(PROTO_DIR, 'zipkin.proto')).lookupType('zipkin.proto3.ListOfSpans');
    const body = ListOfSpans.encode({
      spans: [
        {
          traceId: Buffer.from('0102030405060708090a0b0c0d0e0f10', 'hex'),
          id: Buffer.from('1112131415161718', 'hex'),
          parentId: Buffer.from('2122232425262728', 'hex'),
          kind: 2,
          name: 'proto-span',
          timestamp: 1700000000000123,
          duration: 77,
          localEndpoint: { serviceName: 'voting-svc', ipv4: Buffer.from([10, 1, 2, 3]) },
          tags: { 'grpc.status': 'OK' },
          shared: true,
        },
      ],
    }).finish();
    const res = await post('/api/v2/spans', gzipSync(body), { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' });
    expect(res.status).toBe(202);
    await sink.waitForSpans(1);
    expect(sink.spans()[0]).toMatchObject({
      traceId: '0102030405060708090a0b0c0d0e0f10',
      spanId: '1112131415161718',
      parentSpanId: '2122232425262728',
      kind: 'SPAN_KIND_SERVER',
      name: 'proto-span',
      service: 'voting-svc',
      startTimeUnixNano: '1700000000000123000',
      endTimeUnixNano: '1700000000000200000',
      attributes: { 'grpc.status': 'OK', 'net.host.ip': '10.1.2.3' },
    });
  });
});

describe('zipkin receiver bad input', () => {
  const good = { traceId: '0af7651916cd43dd8448eb211c80319c', id: 'b7ad6b7169203331', name: 'good', timestamp: 1700000000000000, duration: 10, localEndpoint: { serviceName: 'web' } };

  it('answers 400 naming the field, keeps the good spans beside the bad ones', async () => {
    const body = JSON.stringify([good, { ...good, id: 'xyz' }, { ...good, id: '0000000000000000' }, { ...good, traceId: '123' + 'f'.repeat(30) }, { ...good, timestamp: 12 }]);
    const res = await post('/api/v2/spans', body);
    expect(res.status).toBe(400);
    const answer = (await res.json()) as { accepted: number; rejected: { field: string; code: string }[] };
    expect(answer.accepted).toBe(1);
    expect(answer.rejected.map((r) => [r.field, r.code])).toEqual([
      ['spans[1].id', 'invalid_span_id'],
      ['spans[2].id', 'invalid_span_id'],
      ['spans[3].traceId', 'invalid_trace_id'],
      ['spans[4].timestamp', 'invalid_timestamp'],
    ]);
    await sink.waitForSpans(1);
    expect(sink.spans().map((s) => s.name)).toEqual(['good']);
    const m = await relay.metrics();
    expect(metricValue(m, 'span_relay_receiver_refused_spans_total', { receiver: 'zipkin', reason: 'invalid_span_id' })).toBeGreaterThanOrEqual(2);
  });

  it.each([
    ['malformed JSON', '[{"traceId":', 'application/json', 400, 'not valid JSON'],
    ['not an array', '{"traceId":"1"}', 'application/json', 400, 'expected a JSON array'],
    ['wrong content type', '[]', 'text/plain', 415, 'expected application/json'],
    ['garbage protobuf', Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f, 1]), 'application/x-protobuf', 400, 'ListOfSpans'],
  ])('%s → %s with a reason', async (_name, body, type, status, reason) => {
    const res = await post('/api/v2/spans', body as string, { 'content-type': type as string });
    expect(res.status).toBe(status);
    expect(JSON.stringify(await res.json())).toContain(reason);
  });

  it('refuses an oversized body with 413 and a bad Content-Encoding with 400', async () => {
    const small = await startCollector(otlpPipelineYaml(sink.endpoint).replace('zipkin:\n    endpoint: 127.0.0.1:0', 'zipkin:\n    endpoint: 127.0.0.1:0\n    max_request_body_size: 100'));
    try {
      const big = JSON.stringify(Array.from({ length: 5 }, () => good));
      const res = await fetch(`${small.url('zipkin')}/api/v2/spans`, { method: 'POST', body: big, headers: { 'content-type': 'application/json' } });
      expect(res.status).toBe(413);
      const bomb = gzipSync(Buffer.alloc(10_000, 0x20));
      const res2 = await fetch(`${small.url('zipkin')}/api/v2/spans`, { method: 'POST', body: bomb, headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } });
      expect(res2.status).toBe(413);
    } finally {
      await small.stop();
    }
    const res3 = await post('/api/v2/spans', '[]', { 'content-type': 'application/json', 'content-encoding': 'zstd-nope' });
    expect(res3.status).toBe(400);
  });

  it('is not crashed by deeply wrong values', async () => {
    const nasty = [null, 1, 'x', [], { traceId: {}, id: [] }, { ...good, annotations: 'no' }, { ...good, tags: [1] }, { ...good, kind: 'SIDEWAYS' }, { ...good, localEndpoint: 5 }];
    const res = await post('/api/v2/spans', JSON.stringify(nasty));
    expect(res.status).toBe(400);
    const answer = (await res.json()) as { accepted: number; rejected: unknown[] };
    expect(answer.accepted).toBe(0);
    expect(answer.rejected).toHaveLength(nasty.length);
    expect((await post('/api/v2/spans', JSON.stringify([good]))).status).toBe(202);
  });
});
