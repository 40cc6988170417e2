import { createRequire } from 'node:module';
import { z } from 'zod';
import type * as PlatformaticKafka from '@platformatic/kafka';
import { duration } from '../config/schema-helpers.js';

export type KafkaLib = typeof PlatformaticKafka;
export type KafkaProducer = PlatformaticKafka.Producer;
export type KafkaConsumer = PlatformaticKafka.Consumer;
export type KafkaMessage = PlatformaticKafka.Message;
export type KafkaMessagesStream = PlatformaticKafka.MessagesStream<Buffer, Buffer, Buffer, Buffer>;

/**
 * @platformatic/kafka, loaded at first use: its modules (ajv, avsc, a WebAssembly codec compiled at
 * import) take hundreds of milliseconds to load, and a collector with no Kafka component must not
 * pay them. Loaded through createRequire rather than a bare require, so esbuild leaves it out of the
 * bundle: the WebAssembly file is read relative to the package's own module URL, which inside the
 * bundle would name dist/ (Node >= 20.19 requires the package's ES modules synchronously).
 */
let lib: KafkaLib | undefined;
export function kafkaLib(): KafkaLib {
  lib ??= createRequire(import.meta.url)('@platformatic/kafka') as KafkaLib;
  return lib;
}

/** The connection keys the kafka exporter and receiver share, named as in the OpenTelemetry Collector. */
export const kafkaClientSettings = {
  brokers: z.array(z.string().regex(/^.+:\d{1,5}$/, 'expected host:port')).min(1).default(['localhost:9092']),
  client_id: z.string().min(1).default('span-relay'),
  /** How long one request to a broker may take before it is retried or fails. */
  timeout: duration('5s'),
};

export interface KafkaClientConfig {
  brokers: string[];
  client_id: string;
  timeout: number;
}

/** Options every client of ours passes: the client's own retries are short; our callers retry on top. */
export function baseOptions(config: KafkaClientConfig): { clientId: string; bootstrapBrokers: string[]; timeout: number; retries: number; retryDelay: number; connectTimeout: number } {
  return { clientId: config.client_id, bootstrapBrokers: config.brokers, timeout: config.timeout, retries: 2, retryDelay: 250, connectTimeout: Math.min(config.timeout, 5000) };
}

/** Broker error names after which the same request will not succeed (the message itself is wrong). */
const PERMANENT = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'INVALID_RECORD', 'CORRUPT_MESSAGE', 'TOPIC_AUTHORIZATION_FAILED', 'CLUSTER_AUTHORIZATION_FAILED', 'INVALID_TOPIC_EXCEPTION', 'UNSUPPORTED_COMPRESSION_TYPE']);

/** Each broker error name in an error of the client (AggregateErrors nest them). */
export function kafkaErrorNames(err: unknown, out: string[] = [], depth = 0): string[] {
  if (!err || typeof err !== 'object' || depth > 4) return out;
  const e = err as { apiId?: unknown; code?: unknown; errors?: unknown };
  if (typeof e.apiId === 'string') out.push(e.apiId);
  else if (typeof e.code === 'string' && depth === 0 && !Array.isArray(e.errors)) out.push(e.code);
  if (Array.isArray(e.errors)) for (const inner of e.errors) kafkaErrorNames(inner, out, depth + 1);
  return out;
}

/** Retryable unless the broker named a reason that no retry can cure. */
export function isRetryableKafkaError(err: unknown): boolean {
  return !kafkaErrorNames(err).some((n) => PERMANENT.has(n));
}

/** A short, stable description of a client error: the first broker error name, else the message. */
export function describeKafkaError(err: unknown): string {
  const names = [...new Set(kafkaErrorNames(err))];
  const message = err instanceof Error ? err.message : String(err);
  return names.length > 0 ? `${message} (${names.slice(0, 3).join(', ')})` : message;
}

/**
 * A message key from a trace key: its hex text, as the Collector's kafka exporter writes its (full,
 * 32-digit) trace ID, so that the topic's keys read as trace IDs in Kafka's own tools.
 */
export function keyBytes(hex: string): Buffer {
  return Buffer.from(hex, 'latin1');
}

/** Closes a client at once (in-flight requests cut), never throwing: for shutdown and after a failure. */
export function closeKafkaClient(client: KafkaProducer | KafkaConsumer): Promise<void> {
  return new Promise((resolve) => client.close(true, () => resolve()));
}
