import { createRequire } from 'node:module';
import { z } from 'zod';
import type * as PlatformaticKafka from '@platformatic/kafka';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { clientTlsSettings, duration, section } from '../config/schema-helpers.js';
import { ConfigError } from '../model/errors.js';
import { secureContextOptions, TlsConfigError, TlsSource } from './tls.js';

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

const SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;
const credentials = { username: z.string().min(1), password: z.string().min(1) };

/**
 * `auth` as the Collector's configkafka spells it. SASL PLAIN and SCRAM; `version` (sarama's SASL
 * handshake version) is taken and needs nothing: the client always authenticates with the
 * SaslAuthenticate request. `plain_text` (deprecated there) is SASL PLAIN; `auth.tls` (deprecated
 * there) is the top-level `tls`. Kerberos and AWS MSK IAM are refused by name.
 */
const kafkaAuthSettings = section(
  z
    .strictObject({
      sasl: z
        .strictObject({
          mechanism: z.string().refine((m): m is (typeof SASL_MECHANISMS)[number] => (SASL_MECHANISMS as readonly string[]).includes(m), { message: `span-relay speaks SASL ${SASL_MECHANISMS.join(', ')} (not AWS_MSK_IAM_OAUTHBEARER)` }),
          ...credentials,
          version: z.union([z.literal(0), z.literal(1)]).default(0),
        })
        .optional(),
      plain_text: z.strictObject(credentials).optional(),
      tls: clientTlsSettings.optional(),
      kerberos: z.unknown().refine(() => false, { message: 'kerberos (GSSAPI) is not supported by span-relay: use SASL SCRAM or PLAIN over TLS' }).optional(),
    })
    .refine((a) => !(a.sasl && a.plain_text), { message: 'set auth.sasl or auth.plain_text, not both' }),
);

/** The connection keys the kafka exporter and receiver share, named as in the OpenTelemetry Collector. */
export const kafkaClientSettings = {
  brokers: z.array(z.string().regex(/^.+:\d{1,5}$/, 'expected host:port')).min(1).default(['localhost:9092']),
  client_id: z.string().min(1).default('span-relay'),
  /** How long one request to a broker may take before it is retried or fails. */
  timeout: duration('5s'),
  /** TLS to the brokers: on when the key is present (even empty) and `insecure` is not set. */
  tls: clientTlsSettings.optional(),
  auth: kafkaAuthSettings,
};

export type KafkaClientConfig = z.output<ReturnType<typeof z.strictObject<typeof kafkaClientSettings>>>;

export interface KafkaBaseOptions {
  clientId: string;
  bootstrapBrokers: string[];
  timeout: number;
  retries: number;
  retryDelay: number;
  connectTimeout: number;
  tls?: TlsConnectionOptions;
  tlsServerName?: string;
  sasl?: { mechanism: (typeof SASL_MECHANISMS)[number]; username: string; password: string };
}

/**
 * How a component connects to the brokers: TLS material loaded (and followed as its files change)
 * when the component is made, so a bad certificate is a startup error naming its key; `options()`
 * gives what each new client is made with, so a client made after a rotation uses the new pair.
 */
export class KafkaConnection {
  private readonly source: TlsSource | undefined;

  constructor(
    private readonly config: KafkaClientConfig,
    /** The config path of the component, e.g. `exporters.kafka`, for errors. */
    path: string,
    log: { info(o: object, msg: string): void; error(o: object, msg: string): void },
  ) {
    const tls = this.tls;
    if (tls && (tls.ca_file || tls.ca_pem || tls.cert_file || tls.cert_pem)) {
      try {
        this.source = new TlsSource(tls, {
          onUpdate: (m) => log.info({ component: path, serial: m.serial }, `${path}: new client certificate or CA in use for new broker connections`),
          onRefused: (reason) => log.error({ component: path, reason }, `${path}: changed certificate files refused, keeping the previous ones: ${reason}`),
        });
      } catch (err) {
        if (err instanceof TlsConfigError) throw new ConfigError(`${path}.tls`, err.message);
        throw err;
      }
      this.source.start();
    }
  }

  /** `tls`, or the deprecated `auth.tls`; undefined (plain text) when absent or `insecure`. */
  private get tls(): z.output<typeof clientTlsSettings> | undefined {
    const tls = this.config.tls ?? this.config.auth.tls;
    return tls && !tls.insecure ? tls : undefined;
  }

  /** Options every client of ours passes: the client's own retries are short; our callers retry on top. */
  options(): KafkaBaseOptions {
    const c = this.config;
    const out: KafkaBaseOptions = { clientId: c.client_id, bootstrapBrokers: c.brokers, timeout: c.timeout, retries: 2, retryDelay: 250, connectTimeout: Math.min(c.timeout, 5000) };
    const tls = this.tls;
    if (tls) {
      out.tls = { ...(this.source ? secureContextOptions(this.source.files, this.source.material) : {}), rejectUnauthorized: !tls.insecure_skip_verify };
      if (tls.server_name_override) out.tlsServerName = tls.server_name_override;
    }
    const sasl = c.auth.sasl ?? (c.auth.plain_text && { mechanism: 'PLAIN' as const, ...c.auth.plain_text });
    if (sasl) out.sasl = { mechanism: sasl.mechanism, username: sasl.username, password: sasl.password };
    return out;
  }

  close(): void {
    this.source?.stop();
  }
}

/** Broker error names after which the same request will not succeed (the message itself is wrong). */
const PERMANENT = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'INVALID_RECORD', 'CORRUPT_MESSAGE', 'TOPIC_AUTHORIZATION_FAILED', 'CLUSTER_AUTHORIZATION_FAILED', 'INVALID_TOPIC_EXCEPTION', 'UNSUPPORTED_COMPRESSION_TYPE']);

type ClientError = { apiId?: unknown; code?: unknown; errors?: unknown; cause?: unknown; message?: unknown };

/**
 * Each error name in an error of the client, outermost first: the broker's (`apiId`, e.g.
 * SASL_AUTHENTICATION_FAILED) and Node's (`code`, e.g. UNABLE_TO_VERIFY_LEAF_SIGNATURE) through its
 * AggregateErrors and causes; the client's own wrapper codes (PLT_KFK_*) are left out.
 */
export function kafkaErrorNames(err: unknown, out: string[] = [], depth = 0): string[] {
  if (!err || typeof err !== 'object' || depth > 8) return out;
  const e = err as ClientError;
  if (typeof e.apiId === 'string') out.push(e.apiId);
  else if (typeof e.code === 'string' && !e.code.startsWith('PLT_KFK_') && !Array.isArray(e.errors)) out.push(e.code);
  if (Array.isArray(e.errors)) for (const inner of e.errors) kafkaErrorNames(inner, out, depth + 1);
  kafkaErrorNames(e.cause, out, depth + 1);
  return out;
}

/** Retryable unless the broker named a reason that no retry can cure. */
export function isRetryableKafkaError(err: unknown): boolean {
  return !kafkaErrorNames(err).some((n) => PERMANENT.has(n));
}

/**
 * A short description of a client error: its message, then the messages of its first inner error
 * or cause down to the root ("initProducerId failed 3 times: Connection to … failed: SASL
 * authentication failed."), then the error names.
 */
export function describeKafkaError(err: unknown): string {
  const messages: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e && typeof e === 'object' && depth < 8; depth++) {
    const c = e as ClientError;
    const m = typeof c.message === 'string' ? c.message.replace(/\.$/, '') : '';
    if (m && !messages.includes(m)) messages.push(m);
    e = Array.isArray(c.errors) && c.errors.length > 0 ? c.errors[0] : c.cause;
  }
  const text = messages.length > 0 ? messages.join(': ') : String(err);
  const names = [...new Set(kafkaErrorNames(err))];
  return names.length > 0 ? `${text} (${names.slice(0, 3).join(', ')})` : text;
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
