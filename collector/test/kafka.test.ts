/**
 * The kafka exporter and receiver: how a batch becomes the topic's messages (keys, sizes), and a
 * round trip through a real Apache Kafka 4.4 broker (the peer): OTLP in → kafka exporter → topic →
 * kafka receiver → OTLP out to a sink, with messages that are not OTLP on the topic between them.
 */
import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { missingPeers } from '../../peers/peers.js';
import { kafkaForTests, postOtlpSpans, startKafkaConsumer, startKafkaProducer } from './helpers/kafka.js';
import { kafkaExporterConfig, kafkaMessages } from '../src/exporters/kafka/index.js';
import { decodeOtlpProto } from '../src/protocol/otlp/decode.js';
import { kafkaLib } from '../src/net/kafka.js';
import { PartitionProgress, kafkaReceiverConfig } from '../src/receivers/kafka/index.js';
import { checkWorkersConfig } from '../src/workers/cluster.js';
import { parseConfig } from '../src/config/load.js';
import { builtinComponents } from '../src/components.js';
import type { Span } from '../src/model/span.js';
import { NO_ATTRIBUTES } from '../src/model/span.js';
import { OtlpGrpcSink } from './helpers/sinks.js';
import { eventually, metricValue, type RunningCollector } from './helpers/collector.js';

function span(traceId: string, spanId: string, source: Span['source'] = 'otlp', name = 'op'): Span {
  return { traceId, spanId, name, kind: 'server', startTimeUnixNano: 1_700_000_000_000_000_000n, endTimeUnixNano: 1_700_000_000_001_000_000n, attributes: NO_ATTRIBUTES, events: [], links: [], status: { code: 'unset' }, resource: { attributes: { 'service.name': 'svc' } }, source };
}

describe('kafka messages from a batch', () => {
  const config = kafkaExporterConfig.parse({});
  it('keys by the low 64 bits: a 64-bit Zipkin span and the 128-bit spans of the same request share one key and one message', () => {
    const low = 'c0ffee0000000001';
    const batch = { spans: [span(low, '0000000000000001', 'zipkin'), span(`5a5a000000000001${low}`, '0000000000000002'), span(`5a5a000000000002c0ffee0000000002`, '0000000000000003')] };
    const out = kafkaMessages(batch, config);
    expect(out.map((m) => [m.key?.toString(), m.spans])).toEqual([
      [low, 2],
      ['c0ffee0000000002', 1],
    ]);
    // span-relay's own fields ride along (source, 64-bit width), so a joiner sees what a router saw.
    const back = decodeOtlpProto(out[0]!.value, undefined, { internal: true }).spans;
    expect(back.map((s) => [s.traceId, s.source])).toEqual([
      [low, 'zipkin'],
      [`5a5a000000000001${low}`, 'otlp'],
    ]);
  });

  it('cuts a message over max_message_bytes by spans, and refuses for good a span that alone is over it', () => {
    const small = kafkaExporterConfig.parse({ producer: { max_message_bytes: 1024 } });
    const spans = Array.from({ length: 40 }, (_, i) => span('c0ffee0000000009', i.toString(16).padStart(16, '0')));
    const out = kafkaMessages({ spans }, small);
    expect(out.length).toBeGreaterThan(1);
    expect(out.every((m) => m.value.length <= 1024 && m.key?.toString() === 'c0ffee0000000009')).toBe(true);
    expect(out.reduce((n, m) => n + m.spans, 0)).toBe(40);
    const huge = span('c0ffee0000000009', '00000000000000ff', 'otlp', 'x'.repeat(2000));
    expect(() => kafkaMessages({ spans: [huge] }, small)).toThrow(/max_message_bytes/);
  });

  it('unkeyed without partition_traces_by_id; required_acks other than -1 is a config error naming why', () => {
    const out = kafkaMessages({ spans: [span('c0ffee0000000001', '0000000000000001')] }, kafkaExporterConfig.parse({ partition_traces_by_id: false }));
    expect(out[0]!.key).toBeUndefined();
    expect(kafkaExporterConfig.safeParse({ producer: { required_acks: 1 } }).error?.message).toMatch(/every in-sync replica/);
  });
});

describe('kafka receiver config', () => {
  it('takes the topics list of the Collector v0.165 or the topic of earlier versions, not both', () => {
    expect(kafkaReceiverConfig.parse({ traces: { topics: ['a', 'b'] } }).traces.topics).toEqual(['a', 'b']);
    expect(kafkaReceiverConfig.parse({ traces: { topic: 'a' } }).traces.topics).toEqual(['a']);
    expect(kafkaReceiverConfig.parse({}).traces).toEqual({ topics: ['otlp_spans'], encoding: 'otlp_proto' });
    expect(kafkaReceiverConfig.safeParse({ traces: { topic: 'a', topics: ['b'] } }).error?.message).toMatch(/not both/);
  });

  it('--workers refuses a kafka receiver (a consumer group member per process; the partitions spread the work)', () => {
    const config = parseConfig('receivers: { kafka: { brokers: [127.0.0.1:1] } }\nexporters: { otlp: { endpoint: 127.0.0.1:1 } }\nservice: { pipelines: { traces: { receivers: [kafka], exporters: [otlp] } } }\n', builtinComponents, {});
    expect(() => checkWorkersConfig(config)).toThrow(/receivers\.kafka: a kafka receiver scales by partitions/);
  });
});

describe('kafka receiver commits', () => {
  it('the committable offset is the one after the last message safe with every message before it, whatever order they become safe in', () => {
    const p = new PartitionProgress();
    const [m5, m6, m7, m8] = [5n, 6n, 7n, 8n].map((o) => p.add(o));
    expect(p.safeUpTo).toBeUndefined();
    m6!.safe();
    m8!.safe();
    expect(p.safeUpTo).toBeUndefined(); // 5 is still in the pipeline
    expect(p.unsafe).toBe(4);
    m5!.safe();
    expect(p.safeUpTo).toBe(7n);
    expect(p.unsafe).toBe(2);
    m7!.safe();
    expect(p.safeUpTo).toBe(9n);
    expect(p.unsafe).toBe(0);
    // Thousands passed on and settled in turn: the record of them does not grow.
    for (let o = 9n; o < 5009n; o++) p.add(o).safe();
    expect(p.safeUpTo).toBe(5009n);
    expect(p.unsafe).toBe(0);
  });
});

describe.skipIf(missingPeers('kafka'))('kafka exporter → Apache Kafka 4.4 → kafka receiver', () => {
  const k = kafkaForTests(3);

  const router = (topic: string, encoding = 'otlp_proto'): Promise<RunningCollector> => startKafkaProducer(`    brokers: [${k.broker.bootstrap}]`, topic, { encoding });
  const consumer = (topic: string, sink: string, encoding = 'otlp_proto'): Promise<RunningCollector> => startKafkaConsumer(`    brokers: [${k.broker.bootstrap}]`, topic, sink, encoding);
  const post = async (r: RunningCollector, traceIds: string[]): Promise<void> => expect(await postOtlpSpans(r, traceIds)).toBe(200);

  it('spans go through the topic to the sink; messages that are not OTLP are counted and skipped, and what follows them still arrives', async () => {
    const topic = 'roundtrip';
    const sink = await new OtlpGrpcSink().start();
    k.cleanup(() => sink.stop());
    const r = await router(topic);
    k.cleanup(() => r.stop());
    const traces = Array.from({ length: 20 }, (_, i) => `5a5a${i.toString(16).padStart(12, '0')}c0ffee${i.toString(16).padStart(10, '0')}`);
    await post(r, traces.slice(0, 10));
    // Between the good messages: garbage, a truncated OTLP message, and an empty value.
    const { Producer } = kafkaLib();
    const p = new Producer({ clientId: 'bad', bootstrapBrokers: [k.broker.bootstrap] });
    const good = kafkaMessages({ spans: [span('c0ffee00000000aa', '00000000000000aa')] }, kafkaExporterConfig.parse({}))[0]!.value;
    await p.send({ messages: [0, 1, 2].flatMap((partition) => [{ topic, partition, value: Buffer.from('not OTLP at all') }, { topic, partition, value: good.subarray(0, good.length - 7) }, { topic, partition, value: Buffer.alloc(0) }]) });
    await p.close();
    await post(r, traces.slice(10));
    const c = await consumer(topic, sink.endpoint);
    k.cleanup(() => c.stop());
    await sink.waitForSpans(20, 30_000);
    const got = new Set(sink.spans().map((s) => s.traceId));
    expect(traces.filter((t) => !got.has(t))).toEqual([]);
    const m = await c.metrics();
    expect(metricValue(m, 'span_relay_kafka_bad_messages_total')).toBe(9);
    await eventually(async () => metricValue(await c.metrics(), 'span_relay_kafka_commits_total', { result: 'ok' }) > 0, 'a commit', 5000);
    expect(metricValue(await r.metrics(), 'span_relay_kafka_produced_messages_total')).toBe(20);
    expect(metricValue(m, 'span_relay_kafka_rebalances_total')).toBeGreaterThanOrEqual(1);
    // Lag per partition (read every 5 s): each of the 3 partitions listed, and nothing left behind.
    await eventually(async () => (await c.metrics()).split('\n').filter((l) => l.startsWith('span_relay_kafka_consumer_lag{')).length === 3, 'lag for 3 partitions', 12_000);
    await eventually(async () => metricValue(await c.metrics(), 'span_relay_kafka_consumer_lag') === 0, 'no lag', 12_000);
    expect(metricValue(m, 'span_relay_kafka_assigned_partitions', { topic })).toBe(3);
  }, 90_000);

  it('otlp_json: the same round trip with OTLP/JSON messages', async () => {
    const sink = await new OtlpGrpcSink().start();
    k.cleanup(() => sink.stop());
    const r = await router('json_spans', 'otlp_json');
    k.cleanup(() => r.stop());
    const traces = Array.from({ length: 5 }, (_, i) => `6b6b${i.toString(16).padStart(12, '0')}c0ffee${i.toString(16).padStart(10, '0')}`);
    await post(r, traces);
    const c = await consumer('json_spans', sink.endpoint, 'otlp_json');
    k.cleanup(() => c.stop());
    await sink.waitForSpans(5, 30_000);
    expect(sink.spans().map((s) => s.traceId).sort()).toEqual([...traces].sort());
    expect(metricValue(await c.metrics(), 'span_relay_kafka_bad_messages_total')).toBe(0);
  }, 60_000);

  it('every producer compression the Collector offers that this Node has (gzip, snappy, lz4; zstd from Node 22.15): the broker takes the batches and the receiver reads them; zstd without it is a config error', async () => {
    const zstd = typeof (zlib as { zstdCompressSync?: unknown }).zstdCompressSync === 'function';
    if (!zstd) expect(kafkaExporterConfig.safeParse({ producer: { compression: 'zstd' } }).error?.message).toMatch(/zstd needs Node 22.15 or later/);
    for (const [n, compression] of ['gzip', 'snappy', 'lz4', ...(zstd ? ['zstd'] : [])].entries()) {
      const topic = `compressed_${compression}`;
      const sink = await new OtlpGrpcSink().start();
      k.cleanup(() => sink.stop());
      const r = await startKafkaProducer(`    brokers: [${k.broker.bootstrap}]\n    producer: { compression: ${compression} }`, topic);
      k.cleanup(() => r.stop());
      const traces = Array.from({ length: 20 }, (_, i) => `7c${n}c${i.toString(16).padStart(12, '0')}c0ffee${i.toString(16).padStart(10, '0')}`);
      await post(r, traces);
      const c = await consumer(topic, sink.endpoint);
      k.cleanup(() => c.stop());
      await sink.waitForSpans(traces.length, 30_000);
      expect(sink.spans().map((s) => s.traceId).sort(), compression).toEqual([...traces].sort());
      expect(metricValue(await r.metrics(), 'span_relay_kafka_produced_messages_total'), compression).toBe(traces.length);
    }
  }, 120_000);
});
