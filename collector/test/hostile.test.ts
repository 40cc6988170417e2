/**
 * Hostile input and hostile clients, each case from the audit of issue #12: nothing crashes the
 * process, garbage is a 4xx naming the field (the good spans beside it kept), no request holds
 * the event loop, slow clients are cut off, data cannot create series without bound. Slow cases
 * run with short timeouts so each stays within a few seconds.
 */
import { connect, type Socket } from 'node:net';
import { Agent, request } from 'node:http';
import { connect as http2Connect } from 'node:http2';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PROTO_DIR } from '../src/paths.js';
import { OtlpGrpcSink } from './helpers/sinks.js';
import { capturingLogger, metricValue, startCollector, type RunningCollector } from './helpers/collector.js';
import { parseConfig } from '../src/config/load.js';
import { builtinComponents } from '../src/components.js';
import { ConfigError } from '../src/model/errors.js';

const T0 = 1_700_000_000_000_000;
const zspan = (id: number, extra: Record<string, unknown> = {}) => ({ traceId: '4ed11df465275600', id: id.toString(16).padStart(16, '0'), name: 'op', timestamp: T0 + id, duration: 1, localEndpoint: { serviceName: 'svc' }, ...extra });
const post = (url: string, body: string | Buffer, contentType = 'application/json', headers: Record<string, string> = {}) => fetch(url, { method: 'POST', body, headers: { 'content-type': contentType, ...headers } });
const otlpSpan = (id: string, extra: Record<string, unknown> = {}) => ({ traceId: '5'.repeat(32), spanId: id.padStart(16, '0'), name: 'ok', kind: 2, startTimeUnixNano: `${T0}000`, endTimeUnixNano: `${T0 + 5}000`, ...extra });

let sink: OtlpGrpcSink;
let relay: RunningCollector;
const logs = capturingLogger();

beforeAll(async () => {
  sink = await new OtlpGrpcSink().start();
  relay = await startCollector(
    `
receivers:
  zipkin:
    endpoint: 127.0.0.1:0
    max_request_body_size: 67108864
    read_header_timeout: 300ms
    read_timeout: 800ms
    idle_timeout: 300ms
    max_connections: 20
    limits:
      max_spans_per_request: 200000
  opencensus:
    endpoint: 127.0.0.1:0
    keepalive:
      server_parameters:
        max_connection_age: 500ms
        max_connection_age_grace: 300ms
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
      http:
        endpoint: 127.0.0.1:0
        max_request_body_size: 1048576
  jaeger:
    protocols:
      thrift_http:
        endpoint: 127.0.0.1:0
processors:
  join:
    quiet_period: 200ms
    check_interval: 20ms
  batch:
    timeout: 10ms
exporters:
  otlp:
    endpoint: ${sink.endpoint}
    tls: { insecure: true }
    sending_queue: { queue_size: 10000 }
service:
  pipelines:
    traces:
      receivers: [zipkin, opencensus, otlp, jaeger]
      processors: [join, batch]
      exporters: [otlp]
`,
    {},
    { logger: logs.logger },
  );
}, 20_000);
afterAll(async () => {
  await relay.stop();
  await sink.stop();
});
beforeEach(() => {
  sink.clear();
});

describe('the process cannot be killed from outside', () => {
  it('an OpenCensus node start time of 2^53+1 s is left out; the stream and its spans go on', async () => {
    const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(join(PROTO_DIR, 'opencensus.proto'), { keepCase: true, longs: String, enums: String }));
    const Svc = (pkg as unknown as { opencensus: { proto: { agent: { trace: { v1: { TraceService: grpc.ServiceClientConstructor } } } } } }).opencensus.proto.agent.trace.v1.TraceService;
    const client = new Svc(relay.address('opencensus'), grpc.credentials.createInsecure()) as unknown as grpc.Client & { Export(): grpc.ClientDuplexStream<object, object> };
    const stream = client.Export();
    stream.on('error', () => undefined);
    const span = (n: number) => ({ trace_id: Buffer.alloc(16, 3), span_id: Buffer.alloc(8, n), name: { value: `s${n}` }, kind: 'SERVER', start_time: { seconds: '1700000000' }, end_time: { seconds: '1700000001' } });
    stream.write({ node: { identifier: { host_name: 'h', start_timestamp: { seconds: '9007199254740993' } }, service_info: { name: 'oc' } }, spans: [span(1)] });
    stream.write({ spans: [span(2)] });
    stream.end();
    await sink.waitForSpans(2);
    client.close();
    const spans = sink.spans();
    expect(spans.map((s) => s.name).sort()).toEqual(['s1', 's2']);
    expect(spans[0]!.resource['opencensus.starttime']).toBeUndefined();
    expect(spans[0]!.resource['host.name']).toBe('h');
  });

  it('150,000 spans of one trace in one request: all delivered, in parts marked max_spans_per_trace', async () => {
    const n = 150_000;
    const body = JSON.stringify(Array.from({ length: n }, (_, i) => zspan(i + 1, { parentId: i > 0 ? (1).toString(16).padStart(16, '0') : undefined })));
    const res = await post(`${relay.url('zipkin')}/api/v2/spans`, body);
    expect(res.status).toBe(202);
    // Counted at the exporter while it flows (the test sink's own decoding is the slow part), then checked at the sink.
    for (let i = 0; i < 600 && metricValue(await relay.metrics(), 'span_relay_exporter_sent_spans_total', { exporter: 'otlp' }) < n; i++) await new Promise((r) => setTimeout(r, 50));
    const spans = sink.spans();
    expect(new Set(spans.map((s) => s.spanId)).size).toBe(n);
    expect(spans.filter((s) => s.attributes['span_relay.join.incomplete'] === 'max_spans_per_trace').length).toBeGreaterThanOrEqual(140_000);
    expect(metricValue(await relay.metrics(), 'span_relay_join_evicted_traces_total', { reason: 'max_spans_per_trace' })).toBe(15);
  }, 90_000);
});

describe('a failing component is visible', () => {
  it('/readyz answers 503 naming a failed component until it recovers; unexpected errors are counted', async () => {
    const admin = `http://${relay.collector.adminAddress()}/readyz`;
    expect((await fetch(admin)).status).toBe(200);
    relay.telemetry.markFailed('exporter backup', 'cannot reach its backend');
    relay.telemetry.reportUnexpected(new Error('boom'), 'exporter backup');
    const down = await fetch(admin);
    expect(down.status).toBe(503);
    expect(await down.json()).toEqual({ status: 'not ready', failed: { 'exporter backup': 'cannot reach its backend' } });
    expect(metricValue(await relay.metrics(), 'span_relay_unexpected_errors_total', { component: 'exporter backup' })).toBe(1);
    relay.telemetry.markRecovered('exporter backup');
    expect((await fetch(admin)).status).toBe(200);
  });
});

describe('garbage is a 4xx naming the field, and the good spans beside it are kept', () => {
  const deep = (d: number) => '['.repeat(d) + ']'.repeat(d);

  it('Zipkin: a tag nested 10^4 deep refuses that span (400, field named), the other span is taken', async () => {
    const body = `[${JSON.stringify(zspan(1, { traceId: 'a0a0a0a0a0a0a0a0' }))},${JSON.stringify(zspan(2, { traceId: 'a0a0a0a0a0a0a0a0' })).replace('"name":"op"', `"name":"op","tags":{"x":${deep(10_000)}}`)}]`;
    const res = await post(`${relay.url('zipkin')}/api/v2/spans`, body);
    expect(res.status).toBe(400);
    const answer = (await res.json()) as { accepted: number; rejected: { field: string; message: string }[] };
    expect(answer.accepted).toBe(1);
    expect(answer.rejected[0]).toMatchObject({ field: 'spans[1].tags.x' });
    expect(answer.rejected[0]!.message).toContain('max_value_depth');
    await sink.waitForSpans(1);
  });

  it('Zipkin: the body itself 10^4 deep, and "kind": true, are 400s naming why', async () => {
    const res = await post(`${relay.url('zipkin')}/api/v2/spans`, deep(10_000));
    expect(res.status).toBe(400);
    const kind = await post(`${relay.url('zipkin')}/api/v2/spans`, JSON.stringify([zspan(3, { kind: true })]));
    expect(kind.status).toBe(400);
    expect(await kind.text()).toContain('spans[0].kind');
  });

  it('OTLP/JSON: "spans": "x", "kind": true and a value nested 10^4 deep are refused by name; the good spans arrive (partial success)', async () => {
    const deepValue = `{"kvlistValue":{"values":[{"key":"k","value":`.repeat(2000) + '{"stringValue":"x"}' + '}]}}'.repeat(2000);
    const body = `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},"scopeSpans":[
      {"spans":"x"},
      {"spans":[${JSON.stringify(otlpSpan('a1'))},${JSON.stringify(otlpSpan('a2', { kind: true }))}]},
      {"spans":[${JSON.stringify(otlpSpan('a3')).replace('"name":"ok"', `"name":"ok","attributes":[{"key":"deep","value":${deepValue}}]`)},${JSON.stringify(otlpSpan('a4'))}]}
    ]}]}`;
    const res = await post(`${relay.url('otlp.http')}/v1/traces`, body);
    expect(res.status).toBe(200);
    const answer = (await res.json()) as { partialSuccess: { rejectedSpans: number; errorMessage: string } };
    expect(answer.partialSuccess.rejectedSpans).toBe(3);
    expect(answer.partialSuccess.errorMessage).toContain('resourceSpans[0].scopeSpans[0].spans: expected an array');
    expect(answer.partialSuccess.errorMessage).toContain('resourceSpans[0].scopeSpans[1].spans[1].kind');
    expect(answer.partialSuccess.errorMessage).toContain('max_value_depth');
    await sink.waitForSpans(2);
    expect(sink.spans().map((s) => s.spanId).sort()).toEqual(['00000000000000a1', '00000000000000a4']);
  });

  it('Jaeger Thrift: lists nested 10^4 deep are a 400, not a stack overflow', async () => {
    const body = Buffer.concat([Buffer.from([0x0f, 0x00, 0x63]), ...Array.from({ length: 10_000 }, () => Buffer.from([0x0f, 0, 0, 0, 1]))]);
    const res = await post(`${relay.url('jaeger')}/api/traces`, body, 'application/x-thrift');
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('nested deeper than 64');
  });
});

describe('no request holds the event loop', () => {
  it('2 MB of 10^6 numbers is a 413 naming max_spans_per_request, and a small request elsewhere is answered meanwhile', async () => {
    const huge = `[${Array(1_000_000).fill('1').join(',')}]`;
    expect(huge.length).toBeGreaterThan(1_900_000);
    const big = post(`${relay.url('zipkin')}/api/v2/spans`, huge);
    await new Promise((r) => setTimeout(r, 5));
    const started = performance.now();
    const small = await post(`${relay.url('otlp.http')}/v1/traces`, JSON.stringify({ resourceSpans: [] }));
    const smallMs = performance.now() - started;
    const res = await big;
    expect(small.status).toBe(200);
    expect(res.status).toBe(413);
    expect(await res.text()).toContain('1000000 is more than max_spans_per_request');
    // Before the limits the small request waited 9-10 s; a generous bound, not a benchmark.
    expect(smallMs).toBeLessThan(2_000);
  });

  it('after a 413 for a decompression bomb on a keep-alive connection, the next request is answered', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const send = (body: Buffer, headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const u = new URL(`${relay.url('otlp.http')}/v1/traces`);
        const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': String(body.length), ...headers }, timeout: 5000 }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.on('timeout', () => reject(new Error('no answer within 5 s')));
        req.end(body);
      });
    const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024));
    expect(await send(bomb, { 'content-encoding': 'gzip' })).toBe(413);
    expect(await send(Buffer.from(JSON.stringify({ resourceSpans: [] })), {})).toBe(200);
    agent.destroy();
  });
});

describe('slow and idle clients are cut off', () => {
  const zipkinSocket = (): Promise<Socket> => {
    const [host, port] = relay.address('zipkin').split(':') as [string, string];
    return new Promise((resolve) => {
      const s = connect(Number(port), host, () => resolve(s));
      s.resume(); // read what the server says, so its FIN is seen
      s.on('error', () => undefined);
    });
  };
  const closedWithin = (s: Socket, ms: number) =>
    new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), ms);
      s.once('close', () => (clearTimeout(t), resolve(true)));
    });

  it('a client trickling its headers is closed after read_header_timeout', async () => {
    const s = await zipkinSocket();
    s.write('POST /api/v2/spans HTTP/1.1\r\nHost: x\r\n');
    const trickle = setInterval(() => s.writable && s.write('X'), 100);
    const closed = await closedWithin(s, 4000);
    clearInterval(trickle);
    expect(closed).toBe(true);
  });

  it('a client trickling its body is closed after read_timeout', async () => {
    const s = await zipkinSocket();
    s.write('POST /api/v2/spans HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n[');
    const trickle = setInterval(() => s.writable && s.write(' '), 100);
    const closed = await closedWithin(s, 5000);
    clearInterval(trickle);
    expect(closed).toBe(true);
  });

  it('an idle keep-alive connection is closed after idle_timeout, and connections past max_connections are refused', async () => {
    const idle = await zipkinSocket();
    idle.write('GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(await closedWithin(idle, 3000), 'idle connection closed').toBe(true);
    const held: Socket[] = [];
    for (let i = 0; i < 20; i++) held.push(await zipkinSocket());
    const extra = await zipkinSocket();
    expect(await closedWithin(extra, 3000), 'connection past max_connections closed').toBe(true);
    for (const h of held) h.destroy();
  });

  it('gRPC: a never-ending OpenCensus stream ends after max_connection_age + grace; 100 streams per connection are advertised', async () => {
    const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(join(PROTO_DIR, 'opencensus.proto'), { keepCase: true }));
    const Svc = (pkg as unknown as { opencensus: { proto: { agent: { trace: { v1: { TraceService: grpc.ServiceClientConstructor } } } } } }).opencensus.proto.agent.trace.v1.TraceService;
    const client = new Svc(relay.address('opencensus'), grpc.credentials.createInsecure()) as unknown as grpc.Client & { Export(): grpc.ClientDuplexStream<object, object> };
    const stream = client.Export();
    const ended = new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), 5000);
      const done = () => (clearTimeout(t), resolve(true));
      stream.on('error', done);
      stream.on('status', done);
      stream.on('end', done);
    });
    stream.write({ node: { service_info: { name: 'forever' } }, spans: [] });
    expect(await ended).toBe(true);
    client.close();

    const session = http2Connect(`http://${relay.address('otlp.grpc')}`);
    const settings = await new Promise<{ maxConcurrentStreams?: number }>((resolve) => session.once('remoteSettings', resolve));
    session.close();
    expect(settings.maxConcurrentStreams).toBe(100);
  });
});

describe('defaults that bite', () => {
  it('orphan series are bounded: 300 distinct services make at most 100 series and "other"; the warnings are rate-limited', async () => {
    const before = logs.lines.filter((l) => String(l.msg).includes('which no service reported')).length;
    const spans = Array.from({ length: 300 }, (_, i) => ({ ...zspan(i + 1), traceId: (0x1000 + i).toString(16).padStart(16, '0'), parentId: 'ffffffffffffffff', localEndpoint: { serviceName: `svc-${i}` } }));
    expect((await post(`${relay.url('zipkin')}/api/v2/spans`, JSON.stringify(spans))).status).toBe(202);
    await sink.waitForSpans(300);
    const text = await relay.metrics();
    const series = text.split('\n').filter((l) => l.startsWith('span_relay_join_orphan_spans_total{'));
    expect(series.length).toBeLessThanOrEqual(101);
    expect(metricValue(text, 'span_relay_join_orphan_spans_total', { service: 'other' })).toBeGreaterThanOrEqual(200);
    const warned = logs.lines.filter((l) => String(l.msg).includes('which no service reported')).length - before;
    expect(warned).toBeLessThanOrEqual(101);
  });

  it('a host left empty by an unset ${env:HOST} is a config error, not a silent 0.0.0.0', () => {
    const yaml = 'receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: "${env:HOST}:4317"\nexporters:\n  file:\n    path: x.jsonl\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [file]\n';
    expect(() => parseConfig(yaml, builtinComponents, {})).toThrow(ConfigError);
    expect(() => parseConfig(yaml, builtinComponents, {})).toThrow(/receivers\.otlp\.protocols\.grpc\.endpoint: "\$\{env:HOST\}:4317" left the host empty \(HOST unset or empty\)/);
    expect(parseConfig(yaml, builtinComponents, { HOST: '127.0.0.1' }).receivers.get('otlp')).toBeDefined();
  });

  it('every bound address is logged at start', () => {
    const listening = logs.lines.filter((l) => String(l.msg).endsWith('receiver listening'));
    const text = JSON.stringify(listening);
    for (const id of ['zipkin', 'opencensus', 'otlp.grpc', 'otlp.http', 'jaeger']) expect(text, id).toContain(relay.address(id));
  });
});
