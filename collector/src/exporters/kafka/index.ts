import * as zlib from 'node:zlib';
import { z } from 'zod';
import { exporterFactory, type CreateContext } from '../../component.js';
import { section } from '../../config/schema-helpers.js';
import type { Span, SpanBatch } from '../../model/span.js';
import { traceKey } from '../../trace/key.js';
import { encodeOtlpProto, modelToOtlpJson } from '../../protocol/otlp/encode.js';
import { KafkaConnection, closeKafkaClient, describeKafkaError, isRetryableKafkaError, kafkaClientSettings, kafkaLib, keyBytes, type KafkaProducer } from '../../net/kafka.js';
import { ExportError, QueuedExporter, senderSettings } from '../sender.js';

export const kafkaEncoding = z.enum(['otlp_proto', 'otlp_json']).default('otlp_proto');

export const kafkaExporterConfig = z.strictObject({
  ...kafkaClientSettings,
  traces: section(z.strictObject({ topic: z.string().min(1).default('otlp_spans'), encoding: kafkaEncoding })),
  /**
   * Key each message by the low 64 bits of its spans' trace ID, so every span of a request, 64-bit
   * Zipkin or 128-bit, lands on one partition and so one joiner. On by default (the OpenTelemetry
   * Collector's is off and keys by all 16 bytes, which splits a request's two ID widths).
   */
  partition_traces_by_id: z.boolean().default(true),
  producer: section(
    z.strictObject({
      max_message_bytes: z.number().int().min(1024).default(1_000_000),
      /** Only -1: a batch is acknowledged once every in-sync replica has it (idempotent producer). */
      required_acks: z.literal(-1, { message: 'span-relay acknowledges spans only once every in-sync replica has them: required_acks must be -1' }).default(-1),
      compression: z
        .enum(['none', 'gzip', 'snappy', 'lz4', 'zstd'])
        .default('none')
        // The client compresses zstd with node:zlib's, which Node has from 22.15 on; without it every
        // send would fail and be retried for ever.
        .refine((c) => c !== 'zstd' || typeof (zlib as { zstdCompressSync?: unknown }).zstdCompressSync === 'function', { message: `zstd needs Node 22.15 or later (node:zlib's zstd); this is Node ${process.versions.node}: use lz4, snappy or gzip` }),
    }),
  ),
  ...senderSettings,
});
type KafkaExporterConfig = z.output<typeof kafkaExporterConfig>;

export interface KafkaRecordOut {
  key?: Buffer;
  value: Buffer;
  spans: number;
}

/**
 * A batch as the topic's messages: with partition_traces_by_id, one message per trace key (the low
 * 64 bits) keyed by its 16 hex digits (the Collector keys by all 32); otherwise one unkeyed message.
 * A message over max_message_bytes is cut in halves by spans until it fits; a single span over it is
 * refused for good.
 */
export function kafkaMessages(batch: SpanBatch, config: Pick<KafkaExporterConfig, 'partition_traces_by_id' | 'producer' | 'traces'>): KafkaRecordOut[] {
  const encode = config.traces.encoding === 'otlp_json' ? (b: SpanBatch) => Buffer.from(JSON.stringify(modelToOtlpJson(b))) : (b: SpanBatch) => encodeOtlpProto(b, true);
  const out: KafkaRecordOut[] = [];
  const add = (spans: Span[], key: Buffer | undefined): void => {
    const value = encode({ spans });
    if (value.length <= config.producer.max_message_bytes) {
      out.push({ key, value, spans: spans.length });
      return;
    }
    if (spans.length === 1) throw new ExportError('message_too_large', `one span encodes to ${value.length} bytes, over producer.max_message_bytes (${config.producer.max_message_bytes})`, false);
    const half = spans.length >> 1;
    add(spans.slice(0, half), key);
    add(spans.slice(half), key);
  };
  if (!config.partition_traces_by_id) {
    add(batch.spans, undefined);
    return out;
  }
  const byKey = new Map<string, Span[]>();
  for (const s of batch.spans) {
    const k = traceKey(s.traceId);
    const list = byKey.get(k);
    if (list) list.push(s);
    else byKey.set(k, [s]);
  }
  for (const [k, spans] of byKey) add(spans, keyBytes(k));
  return out;
}

/**
 * One idempotent producer, one send at a time: @platformatic/kafka 1.x gives concurrent sends of
 * an idempotent producer overlapping sequence numbers (the broker answered OUT_OF_ORDER_SEQUENCE_NUMBER
 * with 4 in flight), so the sending queue's consumers take turns here; each send carries every
 * message of its batch. After a failed send the producer is closed and the next attempt makes a
 * new one (a new producer ID), since its sequence state may no longer match the broker's.
 */
class KafkaTraceProducer {
  private producer: KafkaProducer | undefined;
  private turn: Promise<unknown> = Promise.resolve();
  private readonly m;
  private readonly connection: KafkaConnection;

  constructor(
    private readonly config: KafkaExporterConfig,
    private readonly ctx: CreateContext,
  ) {
    this.connection = new KafkaConnection(config, `exporters.${ctx.id}`, ctx.telemetry.logger);
    const t = ctx.telemetry;
    this.m = {
      messages: t.counter('span_relay_kafka_produced_messages_total', 'Messages the broker acknowledged (all in-sync replicas).', ['exporter', 'topic'] as const),
      bytes: t.counter('span_relay_kafka_produced_bytes_total', 'Message value bytes the broker acknowledged.', ['exporter', 'topic'] as const),
      errors: t.counter('span_relay_kafka_produce_errors_total', 'Produce requests that failed (each is retried by retry_on_failure unless permanent), by error.', ['exporter', 'topic', 'error'] as const),
    };
  }

  private open(): KafkaProducer {
    const { Producer, ProduceAcks, compatibilityPartitioner } = kafkaLib();
    this.producer ??= new Producer({
      ...this.connection.options(),
      idempotent: true,
      acks: ProduceAcks.ALL,
      compression: this.config.producer.compression,
      // Java's and librdkafka's murmur2 partitioner: a key lands where other clients put it.
      partitioner: compatibilityPartitioner,
      autocreateTopics: true,
    });
    return this.producer;
  }

  send(batch: SpanBatch, signal: AbortSignal): Promise<void> {
    const records = kafkaMessages(batch, this.config);
    const mine = this.turn.then(() => this.sendNow(records, signal));
    this.turn = mine.catch(() => {});
    return mine;
  }

  private async sendNow(records: KafkaRecordOut[], signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    const topic = this.config.traces.topic;
    const producer = this.open();
    const label = { exporter: this.ctx.id, topic };
    try {
      const sending = producer.send({ messages: records.map((r) => ({ topic, key: r.key, value: r.value })) });
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => reject(new ExportError('timeout', `kafka produce to ${topic}: ${String(signal.reason)}`, true));
        signal.addEventListener('abort', onAbort, { once: true });
        sending.then(
          () => (signal.removeEventListener('abort', onAbort), resolve()),
          (err: unknown) => (signal.removeEventListener('abort', onAbort), reject(err)),
        );
      });
    } catch (err) {
      // The producer's sequence numbers may be off now: the next attempt starts a fresh one.
      this.producer = undefined;
      void closeKafkaClient(producer);
      const retryable = err instanceof ExportError ? err.retryable : isRetryableKafkaError(err);
      this.m.errors.inc({ ...label, error: err instanceof ExportError ? err.code : retryable ? 'retryable' : 'permanent' });
      if (err instanceof ExportError) throw err;
      throw new ExportError(retryable ? 'kafka_unavailable' : 'kafka_refused', `kafka produce to ${topic}: ${describeKafkaError(err)}`, retryable);
    }
    this.m.messages.inc(label, records.length);
    this.m.bytes.inc(label, records.reduce((n, r) => n + r.value.length, 0));
  }

  async close(): Promise<void> {
    await this.turn;
    if (this.producer) await closeKafkaClient(this.producer);
    this.producer = undefined;
    this.connection.close();
  }
}

/**
 * The OpenTelemetry Collector's kafka exporter, in its config shape: OTLP messages on a topic,
 * keyed by the low 64 bits of the trace ID, acknowledged to the stage before only once every
 * in-sync replica has them. Behind the same sending queue and retries as every exporter: a broker
 * that is down or slow fills the queue, and the receivers answer 503 / RESOURCE_EXHAUSTED.
 */
export const kafkaExporterFactory = exporterFactory({
  type: 'kafka',
  config: kafkaExporterConfig,
  create: (config, ctx) => {
    const producer = new KafkaTraceProducer(config, ctx);
    return new QueuedExporter(ctx, config, (batch, signal) => producer.send(batch, signal), () => producer.close());
  },
});
