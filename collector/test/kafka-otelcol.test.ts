/**
 * The topic is the OpenTelemetry Collector's too: what span-relay's kafka exporter writes, the
 * Collector's kafka receiver (contrib v0.165.1) reads, and what the Collector's kafka exporter writes,
 * span-relay's kafka receiver reads, on a real Apache Kafka 4.4 broker. Checked at an OTLP sink.
 */
import { describe, expect, it } from 'vitest';
import { missingPeers } from '../../peers/peers.js';
import { startOtelcol } from '../../peers/otelcol/start.js';
import { kafkaForTests } from './helpers/kafka.js';
import { kafkaLib } from '../src/net/kafka.js';
import { OtlpGrpcSink } from './helpers/sinks.js';
import { startCollector } from './helpers/collector.js';
import { portRun } from './helpers/ports.js';

const T0 = '1700000000000000000';

function otlpBody(spans: { traceId: string; spanId: string }[]): string {
  return JSON.stringify({
    resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] }, scopeSpans: [{ spans: spans.map((s) => ({ ...s, name: 'op', kind: 2, startTimeUnixNano: T0, endTimeUnixNano: '1700000000001000000' })) }] }],
  });
}

describe.skipIf(missingPeers('kafka', 'otelcol'))('kafka topic shared with the OpenTelemetry Collector v0.165', () => {
  const k = kafkaForTests(3);

  it("span-relay's kafka exporter → the Collector's kafka receiver: every span, IDs intact (a 64-bit Zipkin ID as the Collector pads it)", async () => {
    const sink = await new OtlpGrpcSink().start();
    k.cleanup(() => sink.stop());
    const relay = await startCollector(`
receivers:
  otlp: { protocols: { http: { endpoint: 127.0.0.1:0 } } }
  zipkin: { endpoint: 127.0.0.1:0 }
exporters:
  kafka: { brokers: [${k.broker.bootstrap}], traces: { topic: from_relay } }
service:
  pipelines: { traces: { receivers: [otlp, zipkin], exporters: [kafka] } }
`);
    k.cleanup(() => relay.stop());
    const spans = Array.from({ length: 10 }, (_, i) => ({ traceId: `5a5a00000000000${i}c0ffee000000000${i}`, spanId: `00000000000000a${i}` }));
    expect((await fetch(`${relay.url('otlp.http')}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: otlpBody(spans) })).status).toBe(200);
    const zipkin = [{ traceId: 'c0ffee00000000ff', id: '00000000000000ff', name: 'get', kind: 'SERVER', timestamp: 1_700_000_000_000_000, duration: 1000, localEndpoint: { serviceName: 'nginx' } }];
    expect((await fetch(`${relay.url('zipkin')}/api/v2/spans`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(zipkin) })).status).toBe(202);
    const otelcol = await startOtelcol(`
receivers:
  kafka:
    brokers: [${k.broker.bootstrap}]
    traces: { topics: [from_relay], encoding: otlp_proto }
    group_id: otelcol
    initial_offset: earliest
exporters:
  otlp: { endpoint: ${sink.endpoint}, tls: { insecure: true } }
service:
  pipelines: { traces: { receivers: [kafka], exporters: [otlp] } }
`);
    k.cleanup(() => otelcol.stop());
    await sink.waitForSpans(11, 30_000);
    const got = sink.spans().map((s) => `${s.traceId}/${s.spanId}`).sort();
    expect(got).toEqual([...spans.map((s) => `${s.traceId}/${s.spanId}`), '0000000000000000c0ffee00000000ff/00000000000000ff'].sort());
  }, 120_000);

  it("the Collector's kafka exporter → span-relay's kafka receiver: every span; the Collector keys by the 32 hex digits of the trace ID, span-relay by the low 16", async () => {
    const sink = await new OtlpGrpcSink().start();
    k.cleanup(() => sink.stop());
    const port = await portRun(1);
    const otelcol = await startOtelcol(`
receivers:
  otlp: { protocols: { http: { endpoint: 127.0.0.1:${port} } } }
exporters:
  kafka:
    brokers: [${k.broker.bootstrap}]
    traces: { topic: from_otelcol, encoding: otlp_proto }
    partition_traces_by_id: true
service:
  pipelines: { traces: { receivers: [otlp], exporters: [kafka] } }
`);
    k.cleanup(() => otelcol.stop());
    const spans = Array.from({ length: 10 }, (_, i) => ({ traceId: `7b7b00000000000${i}c0ffee000000001${i}`, spanId: `00000000000000b${i}` }));
    expect((await fetch(`http://127.0.0.1:${port}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: otlpBody(spans) })).status).toBe(200);
    const relay = await startCollector(`
receivers:
  kafka: { brokers: [${k.broker.bootstrap}], traces: { topics: [from_otelcol] }, group_id: relay, initial_offset: earliest }
exporters:
  otlp: { endpoint: ${sink.endpoint}, tls: { insecure: true } }
service:
  pipelines: { traces: { receivers: [kafka], exporters: [otlp] } }
`);
    k.cleanup(() => relay.stop());
    await sink.waitForSpans(10, 30_000);
    expect(sink.spans().map((s) => `${s.traceId}/${s.spanId}`).sort()).toEqual(spans.map((s) => `${s.traceId}/${s.spanId}`).sort());
    // What the Collector keys its messages by: read the topic's keys back.
    const consumer = new (kafkaLib().Consumer)({ clientId: 'keys', groupId: 'keys', bootstrapBrokers: [k.broker.bootstrap] });
    const stream = await consumer.consume({ topics: ['from_otelcol'], mode: 'earliest', autocommit: false });
    const keys: string[] = [];
    for await (const m of stream) {
      keys.push(m.key.toString());
      if (keys.length === 10) break;
    }
    await stream.close();
    await consumer.close(true);
    expect(keys.sort()).toEqual(spans.map((s) => s.traceId).sort());
  }, 120_000);
});
