import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { BasicTracerProvider, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { SpanKind, SpanStatusCode, context, trace, type HrTime } from '@opentelemetry/api';
import { OTLPTraceExporter as GrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as HttpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as HttpProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import protobuf from 'protobufjs';
import { join } from 'node:path';
import { OtlpHttpSink } from './helpers/sinks.js';
import { FAST_RETRY, metricValue, startCollector, ZIPKIN_OC_OTLP_RECEIVERS, type RunningCollector } from './helpers/collector.js';
import { PROTO_DIR } from '../src/paths.js';

let sink: OtlpHttpSink;
let relay: RunningCollector;

beforeAll(async () => {
  sink = await new OtlpHttpSink().start();
  relay = await startCollector(`${ZIPKIN_OC_OTLP_RECEIVERS}
exporters:
  otlphttp:
    endpoint: ${sink.url}${FAST_RETRY}
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlphttp]
`);
});
afterAll(async () => {
  await relay.stop();
  await sink.stop();
});
beforeEach(() => {
  sink.clear();
});

// Nanosecond-precise times that a float would round: 1700000000.123456789 s.
const T0: HrTime = [1_700_000_000, 123_456_789];
const at = (deltaNs: number): HrTime => [T0[0], T0[1] + deltaNs];
const nanos = (t: HrTime): string => (BigInt(t[0]) * 1_000_000_000n + BigInt(t[1])).toString();

async function sendWith(exporter: SpanExporter) {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'voting-svc', 'k8s.namespace.name': 'emojivoto' }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('emojivoto-tracer', '1.2.3');
  const server = tracer.startSpan('emojivoto.v1.VotingService/VoteDoughnut', { kind: SpanKind.SERVER, startTime: T0 });
  const ctx = trace.setSpan(context.active(), server);
  const client = tracer.startSpan(
    'db.query',
    {
      kind: SpanKind.CLIENT,
      startTime: at(1001),
      attributes: { 'db.system': 'postgres', 'db.rows': 3, ratio: 0.25, cached: false, tags: ['a', 'b'] },
      links: [{ context: server.spanContext(), attributes: { why: 'test' } }],
    },
    ctx,
  );
  client.addEvent('retry', { attempt: 2 }, at(2002));
  client.setStatus({ code: SpanStatusCode.ERROR, message: 'ERROR: Unknown emoji' });
  client.end(at(3003));
  server.end(at(9009));
  await provider.forceFlush();
  await provider.shutdown();
  return { server: server.spanContext(), client: client.spanContext() };
}

describe('otlp receiver with the OpenTelemetry JS exporters', () => {
  it.each([
    ['grpc', () => new GrpcExporter({ url: `http://${relay.address('otlp.grpc')}` })],
    ['http/json', () => new HttpJsonExporter({ url: `${relay.url('otlp.http')}/v1/traces` })],
    ['http/protobuf', () => new HttpProtoExporter({ url: `${relay.url('otlp.http')}/v1/traces` })],
  ])('%s: every field arrives at the OTLP/HTTP backend, times to the nanosecond', async (_name, make) => {
    const ids = await sendWith(make());
    await sink.waitForSpans(2);
    const spans = sink.spans();
    const server = spans.find((s) => s.spanId === ids.server.spanId)!;
    const client = spans.find((s) => s.spanId === ids.client.spanId)!;
    expect(server).toMatchObject({
      traceId: ids.server.traceId,
      name: 'emojivoto.v1.VotingService/VoteDoughnut',
      kind: 'SPAN_KIND_SERVER',
      startTimeUnixNano: nanos(T0),
      endTimeUnixNano: nanos(at(9009)),
      service: 'voting-svc',
      resource: { 'service.name': 'voting-svc', 'k8s.namespace.name': 'emojivoto' },
      scope: { name: 'emojivoto-tracer', version: '1.2.3' },
    });
    expect(server.parentSpanId).toBeUndefined();
    expect(client).toMatchObject({
      traceId: ids.server.traceId,
      parentSpanId: ids.server.spanId,
      kind: 'SPAN_KIND_CLIENT',
      startTimeUnixNano: nanos(at(1001)),
      endTimeUnixNano: nanos(at(3003)),
      status: { code: 'STATUS_CODE_ERROR', message: 'ERROR: Unknown emoji' },
      links: [{ traceId: ids.server.traceId, spanId: ids.server.spanId }],
    });
    expect(client.attributes).toMatchObject({ 'db.system': 'postgres', 'db.rows': 3, ratio: 0.25, cached: false });
    expect(client.events).toEqual([{ name: 'retry', timeUnixNano: nanos(at(2002)), attributes: { attempt: 2 } }]);
    expect(sink.headers[0]!['content-type']).toBe('application/x-protobuf');
  });
});

describe('otlp receiver bad input', () => {
  const Request = protobuf.loadSync(join(PROTO_DIR, 'otlp.proto')).lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
  const span = (id: string, traceId = '5b8efff798038103d269b633813fc60c') => ({
    traceId: Buffer.from(traceId, 'hex'),
    spanId: Buffer.from(id, 'hex'),
    name: `span-${id}`,
    startTimeUnixNano: '1700000000000000000',
    endTimeUnixNano: '1700000000000001000',
  });
  const body = (spans: object[]) => Request.encode({ resourceSpans: [{ scopeSpans: [{ spans }] }] }).finish();

  it('http: bad spans are refused by partial_success, good ones beside them delivered', async () => {
    const bytes = body([span('eee19b7ec3c1b174'), span('00'), span('0000000000000000'), span('aaa19b7ec3c1b174', '00'.repeat(16))]);
    const res = await fetch(`${relay.url('otlp.http')}/v1/traces`, { method: 'POST', body: bytes, headers: { 'content-type': 'application/x-protobuf' } });
    expect(res.status).toBe(200);
    const Response = protobuf.loadSync(join(PROTO_DIR, 'otlp.proto')).lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse');
    const answer = Response.toObject(Response.decode(new Uint8Array(await res.arrayBuffer())), { longs: Number }) as { partialSuccess: { rejectedSpans: number; errorMessage: string } };
    expect(answer.partialSuccess.rejectedSpans).toBe(3);
    expect(answer.partialSuccess.errorMessage).toContain('resourceSpans[0].scopeSpans[0].spans[1].spanId');
    await sink.waitForSpans(1);
    expect(sink.spans().map((s) => s.spanId)).toEqual(['eee19b7ec3c1b174']);
  });

  it('http/json: IDs must be hex of the right length; bad timestamps are named', async () => {
    const json = {
      resourceSpans: [
        {
          scopeSpans: [
            {
              spans: [
                { traceId: '5b8efff798038103d269b633813fc60c', spanId: 'eee19b7ec3c1b174', name: 'ok', startTimeUnixNano: '1700000000000000000', endTimeUnixNano: '1700000000000000001' },
                { traceId: 'W47/95gDgQPSabYzgT/GDA==', spanId: 'eee19b7ec3c1b175', name: 'base64', startTimeUnixNano: '1700000000000000000', endTimeUnixNano: '1700000000000000001' },
                { traceId: '5b8efff798038103d269b633813fc60c', spanId: 'eee19b7ec3c1b176', name: 'ancient', startTimeUnixNano: '12', endTimeUnixNano: '13' },
              ],
            },
          ],
        },
      ],
    };
    const res = await fetch(`${relay.url('otlp.http')}/v1/traces`, { method: 'POST', body: JSON.stringify(json), headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(200);
    const answer = (await res.json()) as { partialSuccess: { rejectedSpans: number; errorMessage: string } };
    expect(answer.partialSuccess.rejectedSpans).toBe(2);
    expect(answer.partialSuccess.errorMessage).toContain('spans[1].traceId');
    expect(answer.partialSuccess.errorMessage).toContain('spans[2].startTimeUnixNano');
    await sink.waitForSpans(1);
  });

  it.each([
    ['malformed protobuf', Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), 'application/x-protobuf', 400],
    ['malformed JSON', '{"resourceSpans": [', 'application/json', 400],
    ['wrong content type', 'hello', 'text/plain', 415],
  ])('http: %s → %s', async (_n, payload, type, status) => {
    const res = await fetch(`${relay.url('otlp.http')}/v1/traces`, { method: 'POST', body: payload as string, headers: { 'content-type': type as string } });
    expect(res.status).toBe(status);
    expect(((await res.json()) as { message: string }).message.length).toBeGreaterThan(10);
  });

  it('grpc: garbage is INVALID_ARGUMENT with a reason, and the server keeps serving', async () => {
    const client = new grpc.Client(relay.address('otlp.grpc'), grpc.credentials.createInsecure());
    const call = (bytes: Buffer) =>
      new Promise<grpc.ServiceError | null>((resolve) =>
        client.makeUnaryRequest('/opentelemetry.proto.collector.trace.v1.TraceService/Export', (b: Buffer) => b, (b: Buffer) => b, bytes, (err) => resolve(err)),
      );
    const err = await call(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]));
    expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err?.details).toContain('ExportTraceServiceRequest');
    expect(await call(Buffer.from(body([span('eee19b7ec3c1b174')])))).toBeNull();
    client.close();
    await sink.waitForSpans(1);
    const m = await relay.metrics();
    expect(metricValue(m, 'span_relay_receiver_refused_spans_total', { receiver: 'otlp', transport: 'grpc', reason: 'malformed_protobuf' })).toBe(1);
  });
});
