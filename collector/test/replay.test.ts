import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BasicTracerProvider, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { SpanKind, context, trace } from '@opentelemetry/api';
import { OTLPTraceExporter as GrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as HttpProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { JaegerExporter } from '@opentelemetry/exporter-jaeger';
import { OtlpGrpcSink, type FlatOtlpSpan } from './helpers/sinks.js';
import { startCollector, type RunningCollector } from './helpers/collector.js';
import { sendOpenCensus, sendZipkin, voteHops } from '../../test/helpers/mesh-traffic.js';
import { readReplayInputs } from '../src/replay/inputs.js';
import { replay, type ReplayOptions } from '../src/replay/replay.js';
import type { Targets } from '../src/replay/senders.js';
import { encodeRecord } from '../src/capture/format.js';
import type { CaptureProtocol } from '../src/capture/format.js';
import { decodeOtlpJson } from '../src/protocol/otlp/decode.js';
import { modelToOtlpJson } from '../src/protocol/otlp/encode.js';

const FIXTURES = new URL('../../../shared/fixtures/zipkin/', import.meta.url).pathname;
const BIN = new URL('../bin/span-relay.js', import.meta.url).pathname;

const receiversYaml = (capture?: string) => {
  const c = capture ? `\n    capture:\n      directory: ${capture}` : '';
  return `receivers:
  zipkin:
    endpoint: 127.0.0.1:0${c}
  opencensus:
    endpoint: 127.0.0.1:0${c}
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
      http:
        endpoint: 127.0.0.1:0${c}
  jaeger:
    protocols:
      thrift_http:
        endpoint: 127.0.0.1:0${c}
`;
};
const relayYaml = (sink: string, capture?: string) => `${receiversYaml(capture)}
exporters:
  otlp:
    endpoint: ${sink}
    tls: { insecure: true }
service:
  pipelines:
    traces:
      receivers: [zipkin, opencensus, otlp, jaeger]
      exporters: [otlp]
`;

const targetsOf = (r: RunningCollector): Targets => ({
  zipkin: r.url('zipkin'),
  otlpHttp: r.url('otlp.http'),
  otlpGrpc: r.address('otlp.grpc'),
  opencensus: r.address('opencensus'),
  jaegerThrift: r.url('jaeger'),
});
const options = (r: RunningCollector, extra: Partial<ReplayOptions> = {}): ReplayOptions => ({ targets: targetsOf(r), speed: 'max', shiftTime: false, newIds: false, loop: 1, concurrency: 4, maxRetryMs: 10_000, ...extra });

/** Order-independent, comparable view of what a sink got. */
const norm = (spans: FlatOtlpSpan[]) =>
  spans
    .map((s) => ({ ...s }))
    .sort((a, b) => (a.spanId + a.kind < b.spanId + b.kind ? -1 : 1));

async function sendWithOtel(exporter: SpanExporter, service: string): Promise<void> {
  const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': service }), spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const tracer = provider.getTracer('replay-test', '1.0.0');
  const root = tracer.startSpan('GET /list', { kind: SpanKind.SERVER, attributes: { 'http.route': '/list' } });
  const child = tracer.startSpan('db', { kind: SpanKind.CLIENT }, trace.setSpan(context.active(), root));
  child.addEvent('rows', { n: 3 });
  child.end();
  root.end();
  await provider.forceFlush();
  await provider.shutdown();
}

let captureDir: string;
let sinkA: OtlpGrpcSink;
let sinkB: OtlpGrpcSink;
let relayB: RunningCollector;

beforeAll(async () => {
  captureDir = mkdtempSync(join(tmpdir(), 'span-relay-capture-'));
  sinkA = await new OtlpGrpcSink().start();
  const relayA = await startCollector(relayYaml(sinkA.endpoint, captureDir));
  // Real traffic of every protocol: Zipkin (v1 and v2), OpenCensus stream, OTLP gRPC + HTTP, Jaeger Thrift.
  const hops = voteHops('a1b2c3d4e5f60718');
  expect(await sendZipkin(relayA.url('zipkin'), hops.slice(0, 1))).toBe(202);
  expect((await fetch(`${relayA.url('zipkin')}/api/v2/spans`, { method: 'POST', body: readFileSync(join(FIXTURES, 'otelcol-contrib-sample3.json')), headers: { 'content-type': 'application/json' } })).status).toBe(202);
  await sendOpenCensus(relayA.address('opencensus'), hops.slice(1, 5), 1);
  await sendWithOtel(new GrpcExporter({ url: `http://${relayA.address('otlp.grpc')}` }), 'voting-grpc');
  await sendWithOtel(new HttpProtoExporter({ url: `${relayA.url('otlp.http')}/v1/traces` }), 'voting-http');
  await sendWithOtel(new JaegerExporter({ endpoint: `${relayA.url('jaeger')}/api/traces` }), 'voting-jaeger');
  await sinkA.waitForSpans(1 + 1 + 4 + 6);
  await relayA.stop();
  sinkB = await new OtlpGrpcSink().start();
  relayB = await startCollector(relayYaml(sinkB.endpoint));
});
afterAll(async () => {
  await relayB.stop();
  await sinkA.stop();
  await sinkB.stop();
});
beforeEach(() => {
  sinkB.clear();
});

const captureFiles = () => readdirSync(captureDir).filter((f) => f.endsWith('.srcap')).map((f) => join(captureDir, f));

describe('capture → replay', () => {
  it('every receiver wrote self-describing records', async () => {
    const input = await readReplayInputs(captureFiles());
    expect(new Set(input.items.map((i) => i.protocol))).toEqual(new Set<CaptureProtocol>(['zipkin', 'opencensus', 'otlp-grpc', 'otlp-http', 'jaeger-thrift']));
    expect(input.problems).toEqual([]);
    const zipkinV1 = input.items.find((i) => i.header?.path === '/api/v1/spans')!;
    expect(zipkinV1.header).toMatchObject({ protocol: 'zipkin', contentType: 'application/json', receiver: 'zipkin' });
    // Two OpenCensus processes (the proxy and the web app), one stream each, in order.
    const oc = input.items.filter((i) => i.protocol === 'opencensus');
    expect(new Set(oc.map((i) => i.stream)).size).toBe(2);
    expect(oc.map((i) => i.header!.seq)).toEqual([0, 0]);
  });

  it('replayed over the original protocols, the same spans arrive, field by field', async () => {
    const input = await readReplayInputs(captureFiles());
    const summary = await replay(input, options(relayB));
    expect(summary).toMatchObject({ refusedSpans: 0, problems: [] });
    await sinkB.waitForSpans(sinkA.count());
    await new Promise((r) => setTimeout(r, 100));
    expect(norm(sinkB.spans())).toEqual(norm(sinkA.spans()));
  });

  it('--shift-time and --new-ids: new IDs everywhere, every parent link intact, one constant time shift', async () => {
    const before = BigInt(Date.now()) * 1_000_000n;
    const input = await readReplayInputs(captureFiles());
    await replay(input, options(relayB, { shiftTime: true, newIds: true }));
    await sinkB.waitForSpans(sinkA.count());
    const orig = sinkA.spans();
    const moved = sinkB.spans();
    const origIds = new Set(orig.map((s) => s.spanId));
    expect(moved.some((s) => origIds.has(s.spanId))).toBe(false);
    expect(moved.some((s) => orig.some((o) => o.traceId === s.traceId))).toBe(false);
    // Pair spans by what the rewrite keeps (service, name, kind, time within the trace), then check links.
    const starts = (spans: FlatOtlpSpan[]) => {
      const m = new Map<string, bigint>();
      for (const s of spans) {
        const t = BigInt(s.startTimeUnixNano);
        if (!m.has(s.traceId) || t < m.get(s.traceId)!) m.set(s.traceId, t);
      }
      return m;
    };
    const t0o = starts(orig);
    const t0m = starts(moved);
    const key = (s: FlatOtlpSpan, t0: Map<string, bigint>) => `${s.service}|${s.name}|${s.kind}|${BigInt(s.startTimeUnixNano) - t0.get(s.traceId)!}`;
    const newOf = new Map(moved.map((s) => [key(s, t0m), s]));
    expect(newOf.size).toBe(orig.length);
    const idMap = new Map<string, string>();
    for (const o of orig) idMap.set(o.spanId, newOf.get(key(o, t0o))!.spanId);
    let links = 0;
    for (const o of orig) {
      const m = newOf.get(key(o, t0o))!;
      expect(m, key(o, t0o)).toBeDefined();
      if (o.parentSpanId && idMap.has(o.parentSpanId)) {
        expect(m.parentSpanId).toBe(idMap.get(o.parentSpanId));
        links++;
      }
      expect(BigInt(m.endTimeUnixNano) - BigInt(m.startTimeUnixNano)).toBe(BigInt(o.endTimeUnixNano) - BigInt(o.startTimeUnixNano));
    }
    expect(links).toBeGreaterThanOrEqual(4);
    // Every trace now starts at replay time, the 2016 fixture included.
    for (const t of t0m.values()) expect(t >= before - 1_000_000_000n && t <= BigInt(Date.now()) * 1_000_000n).toBe(true);
  });
});

describe('replay inputs × target protocols', () => {
  const dir = mkdtempSync(join(tmpdir(), 'span-relay-inputs-'));
  const jaegerJson = join(dir, 'jaeger.json');
  const otlpJsonl = join(dir, 'traces.jsonl');
  beforeAll(() => {
    writeFileSync(
      jaegerJson,
      JSON.stringify({
        data: [
          {
            traceID: '4bf92f3577b34da6a3ce929d0e0e4736',
            spans: [
              { traceID: '4bf92f3577b34da6a3ce929d0e0e4736', spanID: '00f067aa0ba902b7', operationName: 'GET /', references: [], startTime: 1700000000000000, duration: 1000, tags: [{ key: 'span.kind', type: 'string', value: 'server' }], logs: [], processID: 'p1' },
              { traceID: '4bf92f3577b34da6a3ce929d0e0e4736', spanID: '00f067aa0ba902b8', operationName: 'db', references: [{ refType: 'CHILD_OF', traceID: '4bf92f3577b34da6a3ce929d0e0e4736', spanID: '00f067aa0ba902b7' }], startTime: 1700000000000100, duration: 500, tags: [], logs: [], processID: 'p1' },
            ],
            processes: { p1: { serviceName: 'web', tags: [] } },
          },
        ],
      }),
    );
    const spans = decodeOtlpJson(JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'emoji' } }] }, scopeSpans: [{ spans: [{ traceId: '5b8efff798038103d269b633813fc60c', spanId: 'eee19b7ec3c1b174', name: 'FindByShortcode', kind: 2, startTimeUnixNano: '1700000000000000000', endTimeUnixNano: '1700000000000500000' }] }] }] })).spans;
    writeFileSync(otlpJsonl, `${JSON.stringify(modelToOtlpJson({ spans }))}\n${JSON.stringify({ resourceSpans: [] })}\n`);
  });

  const inputs: [string, () => string[], string[]][] = [
    ['jaeger ui json', () => [jaegerJson], ['00f067aa0ba902b7', '00f067aa0ba902b8']],
    ['otlp json lines', () => [otlpJsonl], ['eee19b7ec3c1b174']],
    ['zipkin json', () => [join(FIXTURES, 'otelcol-contrib-sample4.json')], ['4d1e00c0db9010db']],
    ['capture', () => captureFiles().filter((f) => f.includes('jaeger')), []],
  ];
  const targets: CaptureProtocol[] = ['zipkin', 'otlp-http', 'otlp-grpc', 'opencensus', 'jaeger-thrift'];
  for (const [name, files, ids] of inputs) {
    it.each(targets)(`${name} → %s`, async (as) => {
      const input = await readReplayInputs(files());
      const expected = ids.length ? ids : input.items.flatMap((i) => i.spans ?? []).map((s) => s.spanId);
      expect(expected.length).toBeGreaterThan(0);
      const summary = await replay(input, options(relayB, { as }));
      expect(summary.refusedSpans).toBe(0);
      await sinkB.waitForSpans(expected.length);
      expect([...new Set(sinkB.spans().map((s) => s.spanId))].sort()).toEqual([...new Set(expected)].sort());
    });
  }
});

describe('replay robustness', () => {
  it('a truncated or corrupt capture is reported with its position and the rest still replays', async () => {
    const bodies = [0, 1, 2, 3].map((i) =>
      encodeRecord({
        header: { protocol: 'otlp-http', receivedAt: 1_700_000_000_000 + i, receiver: 'otlp', contentType: 'application/json', path: '/v1/traces' },
        body: Buffer.from(JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] }, scopeSpans: [{ spans: [{ traceId: 'ab'.repeat(16), spanId: `000000000000000${i + 1}`, name: `s${i}`, kind: 1, startTimeUnixNano: '1700000000000000000', endTimeUnixNano: '1700000000000000001' }] }] }] })),
      }),
    );
    const corrupt = Buffer.from(bodies[1]!);
    corrupt[corrupt.length - 10] = corrupt[corrupt.length - 10]! ^ 0xff; // flipped bits inside record 1
    const file = join(mkdtempSync(join(tmpdir(), 'span-relay-bad-')), 'bad.srcap');
    const whole = Buffer.concat([bodies[0]!, corrupt, bodies[2]!, bodies[3]!.subarray(0, 30)]);
    writeFileSync(file, whole);
    const input = await readReplayInputs([file]);
    expect(input.problems).toEqual([
      { file, position: bodies[0]!.length, reason: 'checksum mismatch (corrupt record)' },
      { file, position: bodies[0]!.length + corrupt.length + bodies[2]!.length, reason: 'truncated record (header)' },
    ]);
    const summary = await replay(input, options(relayB));
    await sinkB.waitForSpans(2);
    expect(sinkB.spans().map((s) => s.name).sort()).toEqual(['s0', 's2']);
    expect(summary.problems).toHaveLength(2);
  });

  it('pacing: records 300 ms apart replay 300 ms apart at 1×, 30 ms at 10× (tolerance −20/+150 ms)', async () => {
    const arrivals: number[] = [];
    const server: Server = createServer((req, res) => {
      arrivals.push(performance.now());
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const file = join(mkdtempSync(join(tmpdir(), 'span-relay-pace-')), 'paced.srcap');
    writeFileSync(file, Buffer.concat([0, 300, 600, 900].map((ms) => encodeRecord({ header: { protocol: 'otlp-http', receivedAt: 1_700_000_000_000 + ms, receiver: 'otlp', contentType: 'application/json' }, body: Buffer.from('{"resourceSpans":[]}') }))));
    const input = await readReplayInputs([file]);
    const targets = { zipkin: url, otlpHttp: url, otlpGrpc: '', opencensus: '', jaegerThrift: url };
    try {
      for (const speed of [1, 10]) {
        arrivals.length = 0;
        await replay(input, { targets, speed, shiftTime: false, newIds: false, loop: 1, concurrency: 1, maxRetryMs: 1000 });
        const gaps = arrivals.slice(1).map((t, i) => t - arrivals[i]!);
        for (const g of gaps) {
          expect(g).toBeGreaterThanOrEqual(300 / speed - 20);
          expect(g).toBeLessThanOrEqual(300 / speed + 150);
        }
      }
    } finally {
      server.close();
    }
  });

  it('backpressure from the target slows the replay down instead of losing spans', async () => {
    let refusals = 3;
    let accepted = 0;
    const server: Server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (refusals-- > 0) res.writeHead(503, { 'retry-after': '0' }).end('busy');
        else {
          accepted++;
          res.writeHead(202).end();
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const input = await readReplayInputs([join(FIXTURES, 'jaeger-zipkin_v1_merged_spans.json'), join(FIXTURES, 'otelcol-contrib-sample3.json')]);
      const summary = await replay(input, { targets: { zipkin: url, otlpHttp: url, otlpGrpc: '', opencensus: '', jaegerThrift: url }, as: 'zipkin', speed: 'max', shiftTime: false, newIds: false, loop: 2, concurrency: 1, maxRetryMs: 10_000 });
      expect(summary).toMatchObject({ requests: 4, sentSpans: 8, acceptedSpans: 8, refusedSpans: 0, retries: 3 });
      expect(accepted).toBe(4);
    } finally {
      server.close();
    }
  });

  // Not spawnSync: the collector the CLI talks to runs in this process and must keep serving.
  const run = (args: string[]) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [BIN, ...args]);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (status) => resolve({ status, stdout, stderr }));
    });

  it('the CLI prints a summary and exits 1 when anything was refused', async () => {
    const ok = await run(['replay', join(FIXTURES, 'otelcol-contrib-sample4.json'), '--to', relayB.url('zipkin'), '--as', 'zipkin']);
    expect(ok.stdout).toContain('sent 1 spans in 1 requests');
    expect(ok.stdout).toContain('accepted 1, refused 0');
    expect(ok.status).toBe(0);
    // A captured request the target refuses (the capture keeps bad input too, as received).
    const bad = join(mkdtempSync(join(tmpdir(), 'span-relay-cli-')), 'bad.srcap');
    writeFileSync(bad, encodeRecord({ header: { protocol: 'zipkin', receivedAt: Date.now(), receiver: 'zipkin', contentType: 'application/json', path: '/api/v2/spans' }, body: Buffer.from('[{"traceId": "nope"}]') }));
    const refused = await run(['replay', bad, '--to', relayB.url('zipkin')]);
    expect(refused.status).toBe(1);
    expect(refused.stdout).toContain('refused: http_400: 1 request(s), 0 span(s)');
    const usage = await run(['replay', bad]);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain('--to');
  });

  it('a capture that cannot keep up with the disk never fails ingest', async () => {
    const sink = await new OtlpGrpcSink().start();
    // A capture "directory" that is a file: every write fails.
    const notADir = join(mkdtempSync(join(tmpdir(), 'span-relay-nodir-')), 'file');
    writeFileSync(notADir, 'x');
    const relay = await startCollector(relayYaml(sink.endpoint, notADir));
    try {
      for (let i = 0; i < 5; i++) {
        const res = await fetch(`${relay.url('zipkin')}/api/v2/spans`, { method: 'POST', body: readFileSync(join(FIXTURES, 'otelcol-contrib-sample4.json')), headers: { 'content-type': 'application/json' } });
        expect(res.status).toBe(202);
      }
      await sink.waitForSpans(5);
      await new Promise((r) => setTimeout(r, 100));
      expect(await relay.metrics()).toMatch(/span_relay_capture_missed_requests_total\{receiver="zipkin",reason="write_error"\} [1-5]/);
    } finally {
      await relay.stop();
      await sink.stop();
    }
  });
});

