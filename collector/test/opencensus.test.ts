import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { OtlpGrpcSink } from './helpers/sinks.js';
import { metricValue, otlpPipelineYaml, startCollector, type RunningCollector } from './helpers/collector.js';
import { PROTO_DIR } from '../src/paths.js';

// A grpc-js client built from the agent protocol's service definition, as an OpenCensus library
// would talk to the agent (emojivoto's Go services with OC_AGENT_HOST do the same over HTTP/2).
const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(join(PROTO_DIR, 'opencensus.proto'), { keepCase: true, longs: String, enums: String, defaults: false, oneofs: true }));
type Stream = grpc.ClientDuplexStream<object, object>;
const TraceService = (pkg.opencensus as grpc.GrpcObject & { proto: { agent: { trace: { v1: { TraceService: grpc.ServiceClientConstructor } } } } }).proto.agent.trace.v1.TraceService;

let sink: OtlpGrpcSink;
let relay: RunningCollector;
let client: grpc.Client & { Export(): Stream; Config(): Stream };

beforeAll(async () => {
  sink = await new OtlpGrpcSink().start();
  relay = await startCollector(otlpPipelineYaml(sink.endpoint));
  client = new TraceService(relay.address('opencensus'), grpc.credentials.createInsecure()) as unknown as typeof client;
});
afterAll(async () => {
  client.close();
  await relay.stop();
  await sink.stop();
});
beforeEach(() => {
  sink.clear();
});

const hex = (h: string) => Buffer.from(h, 'hex');
const ts = (seconds: number, nanos: number) => ({ seconds: String(seconds), nanos });

const node = {
  identifier: { host_name: 'web-6d5b7b8c9-abcde', pid: 4242, start_timestamp: ts(1_700_000_000, 0) },
  library_info: { language: 'GO_LANG', exporter_version: '0.7.0', core_library_version: '0.22.5' },
  service_info: { name: 'web' },
  attributes: { 'linkerd.io/workload-ns': 'emojivoto' },
};

function ocSpan(spanId: string, parent: string | undefined, name: string, extra: object = {}) {
  return {
    trace_id: hex('4bf92f3577b34da6a3ce929d0e0e4736'),
    span_id: hex(spanId),
    ...(parent ? { parent_span_id: hex(parent) } : {}),
    name: { value: name, truncated_byte_count: 0 },
    kind: 'SERVER',
    start_time: ts(1_700_000_000, 123_456_789),
    end_time: ts(1_700_000_000, 987_654_321),
    ...extra,
  };
}

describe('opencensus receiver (agent protocol over a grpc-js stream)', () => {
  it('decodes every field; later messages without node/resource inherit them', async () => {
    const stream = client.Export();
    stream.write({
      node,
      resource: { type: 'k8s', labels: { 'k8s.pod.name': 'web-6d5b7b8c9-abcde' } },
      spans: [
        ocSpan('00f067aa0ba902b7', undefined, '/api/vote', {
          attributes: {
            attribute_map: {
              'http.method': { string_value: { value: 'GET' } },
              'http.status_code': { int_value: '200' },
              'http.latency_ms': { double_value: 1.5 },
              cached: { bool_value: true },
            },
          },
          time_events: {
            time_event: [
              { time: ts(1_700_000_000, 200_000_001), annotation: { description: { value: 'voting' }, attributes: { attribute_map: { emoji: { string_value: { value: ':doughnut:' } } } } } },
              { time: ts(1_700_000_000, 300_000_002), message_event: { type: 'SENT', id: '1', uncompressed_size: '77' } },
            ],
          },
          links: { link: [{ trace_id: hex('11112222333344445555666677778888'), span_id: hex('1111222233334444'), type: 'PARENT_LINKED_SPAN' }] },
          status: { code: 2, message: 'Unknown emoji' },
          tracestate: { entries: [{ key: 'linkerd', value: 'x' }] },
        }),
      ],
    });
    // No node, no resource: this message belongs to the same application.
    stream.write({ spans: [ocSpan('00f067aa0ba902b8', '00f067aa0ba902b7', 'VoteDoughnut', { kind: 'CLIENT' })] });
    stream.end();
    await sink.waitForSpans(2);
    const spans = sink.spans();
    const root = spans.find((s) => s.spanId === '00f067aa0ba902b7')!;
    const child = spans.find((s) => s.spanId === '00f067aa0ba902b8')!;
    const resource = {
      'service.name': 'web',
      'host.name': 'web-6d5b7b8c9-abcde',
      'process.pid': 4242,
      'telemetry.sdk.language': 'go',
      'opencensus.exporterversion': '0.7.0',
      'telemetry.sdk.version': '0.22.5',
      'linkerd.io/workload-ns': 'emojivoto',
      'opencensus.resourcetype': 'k8s',
      'k8s.pod.name': 'web-6d5b7b8c9-abcde',
    };
    expect(root).toMatchObject({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      name: '/api/vote',
      kind: 'SPAN_KIND_SERVER',
      startTimeUnixNano: '1700000000123456789',
      endTimeUnixNano: '1700000000987654321',
      status: { code: 'STATUS_CODE_ERROR', message: 'Unknown emoji' },
      traceState: 'linkerd=x',
      links: [{ traceId: '11112222333344445555666677778888', spanId: '1111222233334444' }],
      resource,
    });
    expect(root.attributes).toMatchObject({ 'http.method': 'GET', 'http.status_code': 200, 'http.latency_ms': 1.5, cached: true });
    expect(root.events).toEqual([
      { name: 'voting', timeUnixNano: '1700000000200000001', attributes: { emoji: ':doughnut:' } },
      { name: 'message', timeUnixNano: '1700000000300000002', attributes: { 'message.type': 'SENT', 'message.id': 1, 'message.uncompressed_size': 77, 'message.compressed_size': 0 } },
    ]);
    expect(child).toMatchObject({ parentSpanId: '00f067aa0ba902b7', kind: 'SPAN_KIND_CLIENT', resource });
  });

  it('keeps the Config stream open and answers with the library its own config', async () => {
    const stream = client.Config();
    const got = new Promise<object>((resolve) => stream.once('data', resolve));
    stream.write({ node, config: { probability_sampler: { samplingProbability: 0.5 } } });
    const answer = (await got) as { config: { probability_sampler: { samplingProbability: number } } };
    expect(answer.config.probability_sampler.samplingProbability).toBe(0.5);
    // Still open: a second message gets a second answer.
    const again = new Promise<object>((resolve) => stream.once('data', resolve));
    stream.write({ config: { constant_sampler: { decision: 'ALWAYS_ON' } } });
    expect(await again).toMatchObject({ config: { constant_sampler: { decision: 'ALWAYS_ON' } } });
    const ended = new Promise<void>((resolve) => stream.on('end', resolve));
    stream.end();
    await ended;
  });

  it('refuses bad spans (counted) and keeps the good ones of the same message', async () => {
    const stream = client.Export();
    stream.write({
      node,
      spans: [ocSpan('00f067aa0ba902c1', undefined, 'good'), { ...ocSpan('00f067aa0ba902c2', undefined, 'short id'), span_id: hex('0102') }, { ...ocSpan('00f067aa0ba902c3', undefined, 'no time'), start_time: undefined }],
    });
    stream.end();
    await sink.waitForSpans(1);
    expect(sink.spans().map((s) => s.name)).toEqual(['good']);
    const m = await relay.metrics();
    expect(metricValue(m, 'span_relay_receiver_refused_spans_total', { receiver: 'opencensus', reason: 'invalid_span_id' })).toBe(1);
    expect(metricValue(m, 'span_relay_receiver_refused_spans_total', { receiver: 'opencensus', reason: 'invalid_timestamp' })).toBe(1);
  });

  it('ends a stream that sends garbage with INVALID_ARGUMENT and a reason', async () => {
    const raw = new grpc.Client(relay.address('opencensus'), grpc.credentials.createInsecure());
    const stream = raw.makeBidiStreamRequest('/opencensus.proto.agent.trace.v1.TraceService/Export', (b: Buffer) => b, (b: Buffer) => b);
    const err = new Promise<grpc.ServiceError>((resolve) => stream.on('error', resolve));
    stream.write(Buffer.from([0x12, 0xff, 0xff, 0xff, 0xff, 0x0f]));
    const e = await err;
    expect(e.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(e.details).toContain('opencensus ExportTraceServiceRequest');
    raw.close();
  });
});
