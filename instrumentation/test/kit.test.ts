/**
 * The kit, preloaded into real services started as child processes: B3 (64- and 128-bit, from a
 * zipkin-js instrumented client) and tracecontext come in; the server span continues them; the
 * outgoing call carries headers the next hop continues; spans reach a span-relay collector over
 * OTLP, Jaeger Thrift and the OpenCensus agent protocol.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ExplicitContext, Tracer } from 'zipkin';
import wrapFetch from 'zipkin-instrumentation-fetch';
import { OtlpGrpcSink, type FlatOtlpSpan } from '../../collector/test/helpers/sinks.js';
import { startCollector, ZIPKIN_OC_OTLP_RECEIVERS, type RunningCollector } from '../../collector/test/helpers/collector.js';
import { APPS, Downstream, assertBuilt, startApp, type RunningApp } from './helpers.js';

let sink: OtlpGrpcSink;
let relay: RunningCollector;
let downstream: Downstream;
const apps: RunningApp[] = [];

beforeAll(async () => {
  assertBuilt();
  sink = await new OtlpGrpcSink().start();
  downstream = await new Downstream().start();
  relay = await startCollector(`${ZIPKIN_OC_OTLP_RECEIVERS}
exporters:
  otlp:
    endpoint: ${sink.endpoint}
    tls: { insecure: true }
service:
  pipelines:
    traces:
      receivers: [otlp, jaeger, opencensus]
      exporters: [otlp]
`);
});
afterAll(async () => {
  for (const a of apps) await a.stop();
  await relay.stop();
  await sink.stop();
  await downstream.stop();
});
beforeEach(() => {
  sink.clear();
  downstream.seen.length = 0;
});

type Exporter = 'otlp' | 'jaeger' | 'opencensus';
function exporterEnv(e: Exporter): NodeJS.ProcessEnv {
  if (e === 'otlp') return { OTEL_EXPORTER_OTLP_ENDPOINT: relay.url('otlp.http') };
  if (e === 'jaeger') return { OTEL_TRACES_EXPORTER: 'jaeger', OTEL_EXPORTER_JAEGER_ENDPOINT: `${relay.url('jaeger')}/api/traces` };
  return { OC_AGENT_HOST: relay.address('opencensus') };
}

/** A zipkin-js client: sends B3 multi headers; returns the IDs it sent. */
async function callWithZipkin(url: string, traceId128Bit: boolean): Promise<{ traceId: string; spanId: string; body: { downstream: Record<string, string> } }> {
  let sent: Record<string, string> = {};
  const tracer = new Tracer({ ctxImpl: new ExplicitContext(), recorder: { record: () => {} }, localServiceName: 'vote-bot', traceId128Bit });
  const zfetch = wrapFetch(
    (input: string, init: { headers: Record<string, string> }) => {
      sent = init.headers;
      return fetch(input, init as RequestInit);
    },
    { tracer, remoteServiceName: 'web' },
  );
  const res = (await zfetch(url)) as Response;
  return { traceId: sent['X-B3-TraceId']!, spanId: sent['X-B3-SpanId']!, body: (await res.json()) as { downstream: Record<string, string> } };
}

function chain(spans: FlatOtlpSpan[], service: string) {
  const mine = spans.filter((s) => s.service === service);
  const server = mine.find((s) => s.kind === 'SPAN_KIND_SERVER')!;
  const client = mine.find((s) => s.kind === 'SPAN_KIND_CLIENT')!;
  return { mine, server, client };
}

/** The client span must descend from the server span (express middleware spans may sit between). */
function descends(spans: FlatOtlpSpan[], child: FlatOtlpSpan, ancestor: FlatOtlpSpan): boolean {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  for (let s: FlatOtlpSpan | undefined = child; s; s = s.parentSpanId ? byId.get(s.parentSpanId) : undefined) if (s.spanId === ancestor.spanId) return true;
  return false;
}

describe('kit preloaded into an express service', () => {
  it.each([
    ['--require', 'express-app.cjs', 'otlp', false],
    ['--require', 'express-app.cjs', 'jaeger', true],
    ['--require', 'express-app.cjs', 'opencensus', false],
    ['--import', 'express-app.mjs', 'otlp', true],
    ['NODE_OPTIONS', 'express-app.cjs', 'otlp', false],
  ] as const)('%s %s → %s, B3 from zipkin-js (128-bit: %s)', async (preload, app, exporter, wide) => {
    const service = `web-${exporter}-${preload.replace(/-/g, '')}`;
    const running = await startApp(app, preload, { OTEL_SERVICE_NAME: service, DOWNSTREAM_URL: downstream.url, ...exporterEnv(exporter) });
    apps.push(running);
    const sent = await callWithZipkin(`http://127.0.0.1:${running.port}/vote`, wide);
    expect(sent.traceId).toHaveLength(wide ? 32 : 16);
    const traceId = sent.traceId.padStart(32, '0');

    // The next hop received headers that continue the same trace, in both formats.
    const seen = sent.body.downstream;
    expect(seen['x-b3-traceid']!.padStart(32, '0')).toBe(traceId);
    expect(seen['x-b3-sampled']).toBe('1');
    expect(seen.traceparent).toMatch(new RegExp(`^00-${traceId}-${seen['x-b3-spanid']}-01$`));

    await sink.waitForSpans(2);
    await new Promise((r) => setTimeout(r, 150));
    const spans = sink.spans();
    const { server, client } = chain(spans, service);
    expect(server).toBeDefined();
    expect(server.traceId).toBe(traceId);
    expect(server.parentSpanId).toBe(sent.spanId);
    expect(client.spanId).toBe(seen['x-b3-spanid']);
    expect(descends(spans, client, server)).toBe(true);
    expect(server.resource['service.name']).toBe(service);
    await running.stop();
  });

  it('continues W3C tracecontext, and respects the ingress sampling decision (B3 sampled=0)', async () => {
    const running = await startApp('express-app.cjs', '--require', { OTEL_SERVICE_NAME: 'web-w3c', DOWNSTREAM_URL: downstream.url, ...exporterEnv('otlp') });
    apps.push(running);
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const res = await fetch(`http://127.0.0.1:${running.port}/vote`, { headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } });
    const seen = ((await res.json()) as { downstream: Record<string, string> }).downstream;
    expect(seen.traceparent!.slice(0, 35)).toBe(`00-${traceId}`);
    await sink.waitForSpans(2);
    const { server } = chain(sink.spans(), 'web-w3c');
    expect(server.parentSpanId).toBe('00f067aa0ba902b7');

    sink.clear();
    const unsampled = await fetch(`http://127.0.0.1:${running.port}/vote`, { headers: { 'x-b3-traceid': 'a1b2c3d4e5f60718', 'x-b3-spanid': 'a1b2c3d4e5f60718', 'x-b3-sampled': '0' } });
    const seen2 = ((await unsampled.json()) as { downstream: Record<string, string> }).downstream;
    expect(seen2['x-b3-sampled']).toBe('0');
    expect(seen2['x-b3-traceid']).toBe('0000000000000000a1b2c3d4e5f60718');
    await new Promise((r) => setTimeout(r, 400));
    expect(sink.spans().filter((s) => s.service === 'web-w3c')).toEqual([]);
    await running.stop();
  });
});

describe('kit preloaded into a grpc-js service', () => {
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(`${APPS}voting.proto`));
  const Voting = (pkg.emojivoto as grpc.GrpcObject & { v1: { VotingService: grpc.ServiceClientConstructor } }).v1.VotingService;

  it.each([
    ['--require', 'opencensus'],
    ['--import', 'otlp'],
  ] as const)('%s: B3 metadata in, server span continues it, spans over %s', async (preload, exporter) => {
    const service = `voting-svc-${exporter}`;
    const running = await startApp('grpc-app.cjs', preload, { OTEL_SERVICE_NAME: service, DOWNSTREAM_URL: downstream.url, ...exporterEnv(exporter) });
    apps.push(running);
    const client = new Voting(`127.0.0.1:${running.port}`, grpc.credentials.createInsecure()) as grpc.Client & Record<string, (req: object, md: grpc.Metadata, cb: (err: grpc.ServiceError | null) => void) => void>;
    const md = new grpc.Metadata();
    md.set('x-b3-traceid', 'c0ffee0000000001');
    md.set('x-b3-spanid', 'c0ffee0000000002');
    md.set('x-b3-sampled', '1');
    await new Promise<void>((resolve, reject) => client.VoteDog!({}, md, (err) => (err ? reject(err) : resolve())));
    const failed = await new Promise<grpc.ServiceError | null>((resolve) => client.VoteDoughnut!({}, md, resolve));
    expect(failed?.code).toBe(grpc.status.UNKNOWN);
    client.close();
    expect(downstream.seen[0]!['x-b3-traceid']).toBe('0000000000000000c0ffee0000000001');
    await sink.waitForSpans(3);
    await new Promise((r) => setTimeout(r, 150));
    const spans = sink.spans().filter((s) => s.service === service);
    const dog = spans.find((s) => s.kind === 'SPAN_KIND_SERVER' && s.name.includes('VoteDog'))!;
    const doughnut = spans.find((s) => s.kind === 'SPAN_KIND_SERVER' && s.name.includes('VoteDoughnut'))!;
    expect(dog).toMatchObject({ traceId: '0000000000000000c0ffee0000000001', parentSpanId: 'c0ffee0000000002' });
    expect(doughnut.status?.code).toBe('STATUS_CODE_ERROR');
    const outgoing = spans.find((s) => s.kind === 'SPAN_KIND_CLIENT')!;
    expect(outgoing.parentSpanId).toBe(dog.spanId);
    expect(downstream.seen[0]!['x-b3-spanid']).toBe(outgoing.spanId);
    await running.stop();
  });
});

describe('the kit never hurts its host', () => {
  it('with the collector down: the app serves, warns once, exits cleanly on SIGTERM', async () => {
    const running = await startApp('express-app.cjs', '--require', { OTEL_SERVICE_NAME: 'web-lonely', DOWNSTREAM_URL: downstream.url, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', OTEL_BSP_MAX_QUEUE_SIZE: '64', OTEL_EXPORTER_OTLP_TIMEOUT: '500' });
    const warnings = () => running.stderr().split('\n').filter((l) => l.includes('cannot deliver spans'));
    // The OTLP exporter retries with backoff before it gives up on a batch: keep serving meanwhile.
    for (let i = 0; i < 200 && warnings().length === 0; i++) {
      expect((await fetch(`http://127.0.0.1:${running.port}/vote`)).status).toBe(200);
      await new Promise((r) => setTimeout(r, 50));
    }
    for (let i = 0; i < 20; i++) expect((await fetch(`http://127.0.0.1:${running.port}/vote`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    expect(warnings()).toHaveLength(1);
    expect(running.stderr()).not.toMatch(/Unhandled|unhandledRejection|TypeError/);
    const code = await running.stop();
    expect(code === 0 || code === 143).toBe(true);
  });

  it('a config error is reported once and the app still starts with defaults', async () => {
    const running = await startApp('express-app.cjs', '--require', { OTEL_SERVICE_NAME: 'web-misconfigured', DOWNSTREAM_URL: downstream.url, ...exporterEnv('otlp'), OTEL_TRACES_SAMPLER: 'sometimes', OTEL_TRACES_EXPORTER: 'otlp,carrier-pigeon' });
    apps.push(running);
    expect((await fetch(`http://127.0.0.1:${running.port}/vote`)).status).toBe(200);
    await sink.waitForSpans(1);
    expect(running.stderr().match(/OTEL_TRACES_SAMPLER: unknown sampler sometimes/g)).toHaveLength(1);
    expect(running.stderr()).toContain('OTEL_TRACES_EXPORTER: unknown exporter(s) carrier-pigeon');
    await running.stop();
  });
});
