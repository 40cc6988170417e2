import { afterEach, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { OtlpGrpcSink, OtlpHttpSink } from './helpers/sinks.js';
import { eventually, metricValue, startCollector, ZIPKIN_OC_OTLP_RECEIVERS, type RunningCollector } from './helpers/collector.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function zipkinSpans(n: number, offset = 0) {
  return Array.from({ length: n }, (_, i) => ({
    traceId: (i + offset + 1).toString(16).padStart(32, 'a'),
    id: (i + offset + 1).toString(16).padStart(16, 'b'),
    name: `s${i + offset}`,
    timestamp: 1_700_000_000_000_000 + i,
    duration: 5,
    localEndpoint: { serviceName: 'web' },
  }));
}

async function relayTo(exporterYaml: string, exporterId: string): Promise<RunningCollector> {
  const relay = await startCollector(`${ZIPKIN_OC_OTLP_RECEIVERS}
exporters:
${exporterYaml}
service:
  pipelines:
    traces:
      receivers: [zipkin]
      exporters: [${exporterId}]
`);
  cleanup.push(() => relay.stop());
  return relay;
}

const post = (relay: RunningCollector, body: unknown) =>
  fetch(`${relay.url('zipkin')}/api/v2/spans`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

describe('exporter queue and retry', () => {
  it('otlp (gRPC): retries UNAVAILABLE with backoff until the backend takes the spans', async () => {
    const sink = await new OtlpGrpcSink().start();
    cleanup.push(() => sink.stop());
    sink.failure = { times: 3, grpcCode: grpc.status.UNAVAILABLE };
    const relay = await relayTo(`  otlp:\n    endpoint: ${sink.endpoint}\n    tls: { insecure: true }\n    retry_on_failure: { initial_interval: 10ms, max_interval: 50ms }`, 'otlp');
    expect((await post(relay, zipkinSpans(5))).status).toBe(202);
    await sink.waitForSpans(5);
    expect(sink.attempts).toBe(4);
    await eventually(async () => metricValue(await relay.metrics(), 'span_relay_exporter_sent_spans_total', { exporter: 'otlp' }) === 5, 'sent counter');
  });

  it('otlp (gRPC): a permanent error is not retried; the spans are counted as failed', async () => {
    const sink = await new OtlpGrpcSink().start();
    cleanup.push(() => sink.stop());
    sink.failure = { times: 1, grpcCode: grpc.status.INVALID_ARGUMENT };
    const relay = await relayTo(`  otlp:\n    endpoint: ${sink.endpoint}\n    tls: { insecure: true }\n    retry_on_failure: { initial_interval: 10ms }`, 'otlp');
    await post(relay, zipkinSpans(3));
    await eventually(async () => metricValue(await relay.metrics(), 'span_relay_exporter_send_failed_spans_total') > 0, 'failed counter');
    expect(metricValue(await relay.metrics(), 'span_relay_exporter_send_failed_spans_total', { exporter: 'otlp', reason: 'grpc_INVALID_ARGUMENT' })).toBe(3);
    expect(sink.attempts).toBe(1);
  });

  it('otlphttp: honours Retry-After on 429', async () => {
    const sink = await new OtlpHttpSink().start();
    cleanup.push(() => sink.stop());
    sink.failure = { times: 1, httpStatus: 429, retryAfter: '1' };
    const relay = await relayTo(`  otlphttp:\n    endpoint: ${sink.url}\n    retry_on_failure: { initial_interval: 10ms, max_interval: 5s }`, 'otlphttp');
    const t0 = Date.now();
    await post(relay, zipkinSpans(2));
    await sink.waitForSpans(2);
    // Backoff alone would have retried after ~10ms; Retry-After asked for a second.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(sink.attempts).toBe(2);
  });

  it('a full queue refuses with 503 (backpressure), counts and never grows past its size', async () => {
    const sink = await new OtlpGrpcSink().start();
    cleanup.push(() => sink.stop());
    sink.failure = { times: 1_000_000, grpcCode: grpc.status.UNAVAILABLE };
    const relay = await relayTo(
      `  otlp:\n    endpoint: ${sink.endpoint}\n    tls: { insecure: true }\n    sending_queue: { queue_size: 2, num_consumers: 1 }\n    retry_on_failure: { initial_interval: 1s, max_elapsed_time: 2s }`,
      'otlp',
    );
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await post(relay, zipkinSpans(10, i * 10))).status);
    expect(statuses.slice(0, 3)).toEqual([202, 202, 202]); // one in flight, two queued
    expect(statuses.slice(3)).toEqual([503, 503, 503]);
    const m = await relay.metrics();
    expect(metricValue(m, 'span_relay_exporter_enqueue_failed_spans_total', { exporter: 'otlp' })).toBe(30);
    expect(metricValue(m, 'span_relay_receiver_refused_spans_total', { receiver: 'zipkin', reason: 'queue_full' })).toBe(30);
    expect(metricValue(m, 'span_relay_exporter_queue_size', { exporter: 'otlp' })).toBe(2);
  });

  it('shutdown flushes what is queued before it returns', async () => {
    const sink = await new OtlpGrpcSink().start();
    cleanup.push(() => sink.stop());
    const relay = await startCollector(`${ZIPKIN_OC_OTLP_RECEIVERS}
processors:
  batch:
    timeout: 10s
exporters:
  otlp:
    endpoint: ${sink.endpoint}
    tls: { insecure: true }
service:
  pipelines:
    traces:
      receivers: [zipkin]
      processors: [batch]
      exporters: [otlp]
`);
    expect((await post(relay, zipkinSpans(7))).status).toBe(202);
    expect(sink.count()).toBe(0); // held by the batch processor's 10s timeout
    await relay.stop();
    expect(sink.count()).toBe(7);
  });
});

describe('tls.insecure_skip_verify does what it says', () => {
  it('a backend with a self-signed certificate is reached only with insecure_skip_verify: true', async () => {
    const { execFileSync } = await import('node:child_process');
    const { mkdtempSync, readFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'span-relay-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=self-signed-backend', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    const tls = { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
    const sink = await new OtlpGrpcSink().start(tls);
    cleanup.push(() => sink.stop());
    const retry = `
    retry_on_failure:
      initial_interval: 20ms
      max_interval: 50ms
      max_elapsed_time: 300ms`;
    const strict = await relayTo(`  otlp:\n    endpoint: ${sink.endpoint}${retry}`, 'otlp');
    const skip = await relayTo(`  otlp:\n    endpoint: ${sink.endpoint}\n    tls:\n      insecure_skip_verify: true${retry}`, 'otlp');
    for (const r of [strict, skip]) {
      const res = await fetch(`${r.url('zipkin')}/api/v2/spans`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(zipkinSpans(2, r === strict ? 0 : 10)) });
      expect(res.status).toBe(202);
    }
    await sink.waitForSpans(2);
    await eventually(async () => metricValue(await strict.metrics(), 'span_relay_exporter_send_failed_spans_total') === 2, 'the strict exporter gives up');
    expect(sink.spans().map((s) => s.name).sort()).toEqual(['s10', 's11']);
  });
});
