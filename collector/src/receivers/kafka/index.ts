import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { receiverFactory, type Consumer, type CreateContext, type Receiver } from '../../component.js';
import { duration, limitsConfig, section } from '../../config/schema-helpers.js';
import type { DecodeResult } from '../../model/decode-result.js';
import { BackpressureError, DecodeError } from '../../model/errors.js';
import type { DecodeLimits } from '../../model/limits.js';
import { decodeOtlpJson, decodeOtlpProto } from '../../protocol/otlp/decode.js';
import { baseOptions, closeKafkaClient, describeKafkaError, kafkaClientSettings, kafkaLib, type KafkaConsumer, type KafkaMessage, type KafkaMessagesStream } from '../../net/kafka.js';
import { ingest } from '../ingest.js';

export const kafkaReceiverConfig = z.strictObject({
  ...kafkaClientSettings,
  /** `topics` as the Collector v0.165 spells it (a list), or `topic` as earlier versions did. */
  traces: section(
    z
      .strictObject({ topic: z.string().min(1).optional(), topics: z.array(z.string().min(1)).min(1).optional(), encoding: z.enum(['otlp_proto', 'otlp_json']).default('otlp_proto') })
      .refine((t) => !(t.topic && t.topics), { message: 'set topics or topic, not both' })
      .transform(({ topic, topics, encoding }) => ({ topics: [...new Set(topics ?? [topic ?? 'otlp_spans'])], encoding })),
  ),
  group_id: z.string().min(1).default('span-relay'),
  /** Where a partition with no committed offset for the group starts. */
  initial_offset: z.enum(['latest', 'earliest']).default('latest'),
  session_timeout: duration('10s'),
  heartbeat_interval: duration('3s'),
  /** How often the offsets of what the pipeline accepted are committed (and at shutdown). */
  commit_interval: duration('1s'),
  limits: limitsConfig,
});
type KafkaReceiverConfig = z.output<typeof kafkaReceiverConfig>;

/** Decodes one message's value; throws DecodeError when it is not OTLP at all. */
export function decodeKafkaValue(value: Buffer | undefined, encoding: 'otlp_proto' | 'otlp_json', limits: DecodeLimits): DecodeResult {
  if (!value || value.length === 0) throw new DecodeError('empty_message', 'value', '', 'a message with no value');
  return encoding === 'otlp_json' ? decodeOtlpJson(value, limits) : decodeOtlpProto(value, limits, { internal: true, lazy: true });
}

/** `p`, or nothing once `deadline` (epoch ms) has passed; the timer does not keep the process up. */
function within(p: Promise<unknown> | undefined, deadline: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now())).unref()));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

const RETRY_FIRST_MS = 50;
const LAG_INTERVAL_MS = 5000;
const RETRY_MAX_MS = 2000;

/**
 * The OpenTelemetry Collector's kafka receiver: a member of a consumer group reading OTLP messages,
 * one at a time, into the pipeline. A message whose spans the pipeline refuses (backpressure) is
 * offered again with backoff, holding the partition: the topic is the buffer. The offset after a
 * message is committed (every commit_interval, at shutdown) only once the pipeline accepted the
 * message, and everything before it on its partition: at least once. A message that is not OTLP is
 * counted, logged at most once per 10 s, and skipped.
 *
 * On a rebalance, what this member already passed on stays with the pipeline (the join releases it
 * after its quiet period); the partition's new owner starts at the last commit, so it re-reads at
 * most one commit_interval of messages (duplicates, which the join absorbs when they meet it) and
 * a trace in flight on a moved partition can reach the join as two parts, one from each member.
 */
export class KafkaReceiver implements Receiver {
  private consumer: KafkaConsumer | undefined;
  private stream: KafkaMessagesStream | undefined;
  private loop: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lagTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private readonly stopped = new AbortController();
  /** Per `topic:partition`, the offset after the last message the pipeline accepted, not yet committed. */
  private readonly done = new Map<string, { topic: string; partition: number; offset: bigint }>();
  /**
   * Per partition this member owns, the offset after the last message it passed on. After every
   * rebalance the client fetches again from the committed offsets, and delivers what it had already
   * fetched too: a message below this position was passed on already, and is skipped.
   */
  private readonly position = new Map<string, bigint>();
  /** `topic:partition` of every partition assigned to this member. */
  private mine = new Set<string>();
  private committing: Promise<void> = Promise.resolve();
  private readonly m;

  constructor(
    private readonly config: KafkaReceiverConfig,
    private readonly ctx: CreateContext,
  ) {
    const t = ctx.telemetry;
    this.m = {
      messages: t.counter('span_relay_kafka_consumed_messages_total', 'Messages read from the topic and accepted by the pipeline.', ['receiver', 'topic'] as const),
      bad: t.counter('span_relay_kafka_bad_messages_total', 'Messages skipped because they are not OTLP (or are empty), by reason.', ['receiver', 'topic', 'reason'] as const),
      errors: t.counter('span_relay_kafka_consume_errors_total', 'Consumer errors (fetch, group, commit) after which it carried on, by kind.', ['receiver', 'topic', 'kind'] as const),
      skipped: t.counter('span_relay_kafka_redelivered_messages_skipped_total', 'Messages the client delivered again after a rebalance and skipped: already passed on, or on a partition now another member\'s.', ['receiver', 'topic', 'reason'] as const),
      retries: t.counter('span_relay_kafka_backpressure_retries_total', 'Times a message was offered again because the pipeline refused it (backpressure).', ['receiver', 'topic'] as const),
      rebalances: t.counter('span_relay_kafka_rebalances_total', 'Consumer group joins (each rebalance this member took part in).', ['receiver', 'group'] as const),
      commits: t.counter('span_relay_kafka_commits_total', 'Offset commits, by result.', ['receiver', 'topic', 'result'] as const),
      lag: t.gauge('span_relay_kafka_consumer_lag', 'Messages on a partition this member owns past its group\'s committed offset (read every 5 s).', ['receiver', 'topic', 'partition'] as const),
      partitions: t.gauge('span_relay_kafka_assigned_partitions', 'Partitions of the topic assigned to this member.', ['receiver', 'topic'] as const),
    };
  }

  private labels(topic: string): { receiver: string; topic: string } {
    return { receiver: this.ctx.id, topic };
  }

  async start(next: Consumer): Promise<void> {
    const { Consumer: KafkaConsumerClass } = kafkaLib();
    const consumer = new KafkaConsumerClass({ ...baseOptions(this.config), groupId: this.config.group_id, sessionTimeout: this.config.session_timeout, heartbeatInterval: this.config.heartbeat_interval, maxWaitTime: 500 });
    this.consumer = consumer;
    consumer.on('consumer:group:join', (p: { assignments?: { topic: string; partitions: number[] }[] }) => {
      this.m.rebalances.inc({ receiver: this.ctx.id, group: this.config.group_id });
      const mine = (p.assignments ?? []).filter((a) => this.config.traces.topics.includes(a.topic));
      this.mine = new Set(mine.flatMap((a) => a.partitions.map((partition) => `${a.topic}:${partition}`)));
      for (const topic of this.config.traces.topics) this.m.partitions.set(this.labels(topic), mine.find((a) => a.topic === topic)?.partitions.length ?? 0);
      // Partitions this member lost: their new owner starts at the last commit.
      for (const key of this.done.keys()) if (!this.mine.has(key)) this.done.delete(key);
      for (const key of this.position.keys()) if (!this.mine.has(key)) this.position.delete(key);
      this.m.lag.reset();
      this.ctx.telemetry.logger.info({ receiver: this.ctx.id, group: this.config.group_id, partitions: [...this.mine] }, 'kafka: joined the consumer group');
    });
    // A rebalance is starting: commit what was passed on while this generation may still commit, so
    // the partitions' next owners re-read less.
    consumer.on('consumer:group:rebalance', () => void this.commit());
    this.lagTimer = setInterval(() => void this.reportLag(), LAG_INTERVAL_MS);
    this.lagTimer.unref();
    this.loop = this.run(next);
    this.timer = setInterval(() => void this.commit(), this.config.commit_interval);
    this.timer.unref();
  }

  private open(): Promise<KafkaMessagesStream> {
    return this.consumer!.consume({
      topics: this.config.traces.topics,
      mode: 'committed',
      fallbackMode: this.config.initial_offset,
      autocommit: false,
      sessionTimeout: this.config.session_timeout,
      heartbeatInterval: this.config.heartbeat_interval,
      // What is fetched ahead of the pipeline: after a rebalance it is delivered, then fetched again.
      highWaterMark: 64,
    }) as Promise<KafkaMessagesStream>;
  }

  /**
   * Joins the group and reads until shutdown. Joining is retried without end (a new broker answers
   * COORDINATOR_LOAD_IN_PROGRESS for seconds; a broker down is waited for), logged at most every 10 s;
   * a stream that fails later (a lost coordinator, a forced rejoin) is opened again the same way.
   */
  private async run(next: Consumer): Promise<void> {
    for (let failures = 0; !this.stopping; ) {
      try {
        this.stream ??= await this.open();
        for await (const message of this.stream as AsyncIterable<KafkaMessage>) {
          await this.handle(message, next);
          failures = 0;
          if (this.stopping) break;
        }
      } catch (err) {
        if (this.stopping) break;
        failures++;
        this.m.errors.inc({ ...this.labels(this.config.traces.topics[0]!), kind: 'stream' });
        this.ctx.telemetry.warnLimited(`kafka-stream:${this.ctx.id}`, { receiver: this.ctx.id, group: this.config.group_id, brokers: this.config.brokers, failures }, `kafka: cannot consume, trying again: ${describeKafkaError(err)}`);
        const stale = this.stream;
        this.stream = undefined;
        await stale?.close().catch(() => {});
        await sleep(Math.min(RETRY_MAX_MS * 5, 200 * 2 ** Math.min(failures, 6)), undefined, { signal: this.stopped.signal }).catch(() => {});
      }
      if (this.stream?.closed || this.stream?.destroyed) {
        // Ended without an error while still running: open it again, not at once.
        this.stream = undefined;
        await sleep(RETRY_FIRST_MS * 4, undefined, { signal: this.stopped.signal }).catch(() => {});
      }
    }
  }

  private async handle(message: KafkaMessage, next: Consumer): Promise<void> {
    const labels = this.labels(message.topic);
    const key = `${message.topic}:${message.partition}`;
    // Fetched before a rebalance: a partition now another member's is read by it from the last
    // commit; one read again from the last commit is skipped up to where this member got.
    if (!this.mine.has(key)) return this.m.skipped.inc({ ...labels, reason: 'not_owned' });
    const position = this.position.get(key);
    if (position !== undefined && message.offset < position) return this.m.skipped.inc({ ...labels, reason: 'already_passed_on' });
    let result: DecodeResult;
    try {
      result = decodeKafkaValue(message.value, this.config.traces.encoding, this.config.limits);
    } catch (err) {
      const reason = err instanceof DecodeError ? err.code : 'decode_failed';
      this.m.bad.inc({ ...labels, reason });
      this.ctx.telemetry.warnLimited(`kafka-bad:${this.ctx.id}`, { receiver: this.ctx.id, partition: message.partition, offset: String(message.offset), reason }, `kafka: skipping a message that is not ${this.config.traces.encoding}: ${(err as Error).message.slice(0, 200)}`);
      this.markDone(message);
      return;
    }
    for (let wait = RETRY_FIRST_MS; ; wait = Math.min(RETRY_MAX_MS, wait * 2)) {
      const outcome = await ingest(result, next, this.ctx.telemetry, this.ctx.id, 'kafka').catch((err: unknown) => {
        // A stage that failed in a way no code path expected: reported, and the message offered
        // again, as an HTTP client told 500 would send it again.
        if (!(err instanceof BackpressureError)) this.ctx.telemetry.reportUnexpected(err, this.ctx.id);
        return undefined;
      });
      if (outcome?.kind === 'accepted') break;
      // Refused: the message stays uncommitted and is offered again; at shutdown the next owner reads it.
      if (this.stopping) return;
      this.m.retries.inc(labels);
      await sleep(wait, undefined, { signal: this.stopped.signal }).catch(() => {});
      if (this.stopping) return;
    }
    this.m.messages.inc(labels);
    this.markDone(message);
  }

  /**
   * Lag per owned partition: its end offset less the group's committed offset, both asked of the
   * broker (the client's own lag monitor counts only the commits it makes itself, not ours).
   */
  private async reportLag(): Promise<void> {
    const consumer = this.consumer;
    const owned = (consumer?.assignments ?? []).filter((a) => this.config.traces.topics.includes(a.topic));
    if (!consumer || owned.length === 0) return;
    try {
      const [ends, committed] = await Promise.all([consumer.listOffsets({ topics: owned.map((a) => a.topic) }), consumer.listCommittedOffsets({ topics: owned })]);
      this.m.lag.reset();
      for (const { topic, partitions } of owned) {
        for (const partition of partitions) {
          const end = ends.get(topic)?.[partition];
          const done = committed.get(topic)?.[partition];
          if (end !== undefined) this.m.lag.set({ ...this.labels(topic), partition: String(partition) }, Number(end - (done !== undefined && done >= 0n ? done : 0n)));
        }
      }
    } catch {
      this.m.errors.inc({ ...this.labels(owned[0]!.topic), kind: 'lag' });
    }
  }

  private markDone(message: KafkaMessage): void {
    const key = `${message.topic}:${message.partition}`;
    this.done.set(key, { topic: message.topic, partition: message.partition, offset: message.offset + 1n });
    this.position.set(key, message.offset + 1n);
  }

  /** Commits what the pipeline accepted on the partitions this member still owns; one commit at a time. */
  private commit(): Promise<void> {
    this.committing = this.committing.then(async () => {
      const offsets = [...this.done].filter(([key]) => this.mine.has(key)).map(([, o]) => ({ ...o, leaderEpoch: -1 }));
      if (offsets.length === 0 || !this.consumer) return;
      try {
        await this.consumer.commit({ offsets });
        for (const o of offsets) if (this.done.get(`${o.topic}:${o.partition}`)?.offset === o.offset) this.done.delete(`${o.topic}:${o.partition}`);
        for (const topic of new Set(offsets.map((o) => o.topic))) this.m.commits.inc({ ...this.labels(topic), result: 'ok' });
      } catch (err) {
        // Kept: committed at the next tick if the partition is still ours, else re-read by its new owner.
        for (const topic of new Set(offsets.map((o) => o.topic))) this.m.commits.inc({ ...this.labels(topic), result: 'failed' });
        this.ctx.telemetry.warnLimited(`kafka-commit:${this.ctx.id}`, { receiver: this.ctx.id }, `kafka: offset commit failed: ${describeKafkaError(err)}`);
      }
    });
    return this.committing;
  }

  /** Stops reading; the message being handled gets until `deadline`; what was accepted is committed. */
  async shutdown(deadline = Date.now() + 10_000): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    clearInterval(this.lagTimer);
    const closing = this.stream?.close().catch(() => {});
    await within(this.loop, deadline);
    this.stopped.abort();
    await within(this.commit(), deadline);
    await closing;
    if (this.consumer) await closeKafkaClient(this.consumer);
  }
}

export const kafkaReceiverFactory = receiverFactory({
  type: 'kafka',
  config: kafkaReceiverConfig,
  create: (config, ctx) => new KafkaReceiver(config, ctx),
});
