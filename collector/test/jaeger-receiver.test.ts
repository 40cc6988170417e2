import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { JaegerExporter } from '@opentelemetry/exporter-jaeger';
import { OtlpGrpcSink } from './helpers/sinks.js';
import { FAST_RETRY, startCollector, ZIPKIN_OC_OTLP_RECEIVERS, type RunningCollector } from './helpers/collector.js';

let sink: OtlpGrpcSink;
let relay: RunningCollector;

beforeAll(async () => {
  sink = await new OtlpGrpcSink().start();
  relay = await startCollector(`${ZIPKIN_OC_OTLP_RECEIVERS}
exporters:
  otlp:
    endpoint: ${sink.endpoint}
    tls: { insecure: true }${FAST_RETRY}
service:
  pipelines:
    traces:
      receivers: [jaeger]
      exporters: [otlp]
`);
});
afterAll(async () => {
  await relay.stop();
  await sink.stop();
});

describe('jaeger receiver (thrift_http)', () => {
  it('takes Thrift batches from @opentelemetry/exporter-jaeger, field by field', async () => {
    const exporter = new JaegerExporter({ endpoint: `${relay.url('jaeger')}/api/traces` });
    const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'vote-bot', 'k8s.pod.name': 'vote-bot-1' }), spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const tracer = provider.getTracer('t');
    const start = 1_700_000_000_123_456; // µs: Jaeger Thrift carries microseconds
    const at = (us: number): [number, number] => [Math.floor(us / 1e6), (us % 1e6) * 1000];
    const parent = tracer.startSpan('GET /api/vote', { kind: SpanKind.CLIENT, startTime: at(start) });
    const child = tracer.startSpan('retry', { startTime: at(start + 5), attributes: { attempt: 2, ok: false, ratio: 0.5, who: 'web' } }, trace.setSpan(context.active(), parent));
    child.addEvent('backoff', { ms: 20 }, at(start + 6));
    child.setStatus({ code: SpanStatusCode.ERROR, message: 'doughnut' });
    child.end(at(start + 50));
    parent.end(at(start + 100));
    await provider.forceFlush();
    await sink.waitForSpans(2);
    const spans = sink.spans();
    const p = spans.find((s) => s.spanId === parent.spanContext().spanId)!;
    const c = spans.find((s) => s.spanId === child.spanContext().spanId)!;
    expect(p).toMatchObject({ traceId: parent.spanContext().traceId, kind: 'SPAN_KIND_CLIENT', service: 'vote-bot', startTimeUnixNano: `${start}000`, endTimeUnixNano: `${start + 100}000` });
    // exporter-jaeger writes resource attributes as span tags, not process tags.
    expect(p.attributes).toMatchObject({ 'k8s.pod.name': 'vote-bot-1' });
    expect(c).toMatchObject({ parentSpanId: p.spanId, status: { code: 'STATUS_CODE_ERROR', message: 'doughnut' } });
    expect(c.attributes).toMatchObject({ attempt: 2, ok: false, ratio: 0.5, who: 'web' });
    expect(c.events).toEqual([{ name: 'backoff', timeUnixNano: `${start + 6}000`, attributes: { ms: 20 } }]);
    await provider.shutdown();
  });

  it('refuses truncated Thrift with 400 and a wrong content type with 415', async () => {
    const url = `${relay.url('jaeger')}/api/traces`;
    const bad = await fetch(url, { method: 'POST', body: Buffer.from([0x0c, 0x00, 0x01, 0x0b, 0x00, 0x01, 0x00, 0x00, 0x00, 0x50]), headers: { 'content-type': 'application/x-thrift' } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toContain('truncated Thrift data');
    const wrong = await fetch(url, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(wrong.status).toBe(415);
  });
});
