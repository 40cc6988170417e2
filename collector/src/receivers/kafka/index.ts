import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { receiverFactory, type Consumer, type CreateContext, type Receiver } from '../../component.js';
import { duration, limitsConfig, section } from '../../config/schema-helpers.js';
import type { DecodeResult } from '../../model/decode-result.js';
import type { SpanAck } from '../../model/span.js';
import { withChanges } from '../../model/lazy-span.js';
import { BackpressureError, DecodeError } from '../../model/errors.js';
import type { DecodeLimits } from '../../model/limits.js';
import { decodeOtlpJson, decodeOtlpProto } from '../../protocol/otlp/decode.js';
import { KafkaConnection, closeKafkaClient, describeKafkaError, kafkaClientSettings, kafkaLib, type KafkaConsumer, type KafkaMessage, type KafkaMessagesStream } from '../../net/kafka.js';
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
  /** How often the offsets of what is safe downstream are committed (and at shutdown). */
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

/**
 * One message passed on: safe once every exporter downstream settled each of its spans (delivered,
 * durably queued, or given up for good) or a stage before them made the spans durable (the join's
 * write-ahead log) or dropped them as duplicates. A retried message gets a new one; either one
 * complete makes the message safe.
 */
class MessageAck implements SpanAck {
  private remaining: number;

  constructor(
    spans: number,
    fanout: number,
    private readonly onSafe: () => void,
  ) {
    this.remaining = spans * fanout;
  }

  done(): void {
    if (this.remaining > 0 && --this.remaining === 0) this.onSafe();
  }

  drop(exporters: number): void {
    if (this.remaining <= 0) return;
    this.remaining -= exporters;
    if (this.remaining <= 0) this.onSafe();
  }
}

/**
 * One owned partition's messages passed on, in offset order, until they are safe: the committable
 * offset is the one after the last message that is safe with every message before it.
 */
export class PartitionProgress {
  private readonly waiting: { offset: bigint; safe: boolean }[] = [];
  private head = 0;
  /** The offset after the last message safe together with all before it; undefined before any. */
  safeUpTo: bigint | undefined;
  /** The offset last committed for this member (so an unchanged partition is not committed again). */
  committed: bigint | undefined;

  /** Records a message passed on; `safe()` marks it. */
  add(offset: bigint): { safe(): void } {
    const entry = { offset, safe: false };
    this.waiting.push(entry);
    return {
      safe: () => {
        entry.safe = true;
        this.advance();
      },
    };
  }

  /** Messages passed on and not yet safe (with those behind them). */
  get unsafe(): number {
    return this.waiting.length - this.head;
  }

  private advance(): void {
    while (this.head < this.waiting.length && this.waiting[this.head]!.safe) this.safeUpTo = this.waiting[this.head++]!.offset + 1n;
    if (this.head > 1024 && this.head * 2 > this.waiting.length) {
      this.waiting.splice(0, this.head);
      this.head = 0;
    }
  }
}

const RETRY_FIRST_MS = 50;
const LAG_INTERVAL_MS = 5000;
const RETRY_MAX_MS = 2000;

/**
 * The OpenTelemetry Collector's kafka receiver: a member of a consumer group reading OTLP messages,
 * one at a time, into the pipeline. A message whose spans the pipeline refuses (backpressure) is
 * offered again with backoff, holding the partition: the topic is the buffer. The offset after a
 * message is committed (every commit_interval, at a rebalance, after the drain at shutdown) only
 * once its spans, and those of every message before it on its partition, are safe downstream:
 * delivered by every exporter, or in the join's write-ahead log or an exporter's persistent queue
 * (each span carries a MessageAck that the exporters settle). At least once: a member killed with
 * spans held in memory loses nothing, as the partition's next owner reads them again. A message that
 * is not OTLP is counted, logged at most once per 10 s, and skipped.
 *
 * On a rebalance, what this member already passed on stays with the pipeline (the join releases it
 * after its quiet period); the partition's new owner starts at the last commit, so it re-reads what
 * was not yet safe here (duplicates, which the join absorbs when they meet it) and a trace in
 * flight on a moved partition can reach the join as two parts, one from each member.
 */
export class KafkaReceiver implements Receiver {
  private consumer: KafkaConsumer | undefined;
  private stream: KafkaMessagesStream | undefined;
  private loop: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lagTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private readonly stopped = new AbortController();
  /** Per owned `topic:partition`, the messages passed on until they are safe downstream. */
  private progress = new Map<string, PartitionProgress>();
  /**
   * Per partition this member owns, the offset after the last message it passed on. After every
   * rebalance the client fetches again from the committed offsets, and delivers what it had already
   * fetched too: a message below this position was passed on already, and is skipped.
   */
  private readonly position = new Map<string, bigint>();
  /** `topic:partition` of every partition assigned to this member. */
  private mine = new Set<string>();
  private committing: Promise<void> = Promise.resolve();
  private closingStream: Promise<void> | undefined;
  private readonly m;
  private readonly connection: KafkaConnection;

  constructor(
    private readonly config: KafkaReceiverConfig,
    private readonly ctx: CreateContext,
  ) {
    this.connection = new KafkaConnection(config, `receivers.${ctx.id}`, ctx.telemetry.logger);
    const t = ctx.telemetry;
    this.m = {
      messages: t.counter('span_relay_kafka_consumed_messages_total', 'Messages read from the topic and accepted by the pipeline.', ['receiver', 'topic'] as const),
      bad: t.counter('span_relay_kafka_bad_messages_total', 'Messages skipped because they are not OTLP (or are empty), by reason.', ['receiver', 'topic', 'reason'] as const),
      errors: t.counter('span_relay_kafka_consume_errors_total', 'Consumer errors (fetch, group, commit) after which it carried on, by kind.', ['receiver', 'topic', 'kind'] as const),
      skipped: t.counter('span_relay_kafka_redelivered_messages_skipped_total', 'Messages the client delivered again after a rebalance and skipped: already passed on, or on a partition now another member\'s.', ['receiver', 'topic', 'reason'] as const),
      retries: t.counter('span_relay_kafka_backpressure_retries_total', 'Times a message was offered again because the pipeline refused it (backpressure).', ['receiver', 'topic'] as const),
      rebalances: t.counter('span_relay_kafka_rebalances_total', 'Consumer group joins (each rebalance this member took part in).', ['receiver', 'group'] as const),
      commits: t.counter('span_relay_kafka_commits_total', 'Offset commits, by result.', ['receiver', 'topic', 'result'] as const),
      unsafe: t.gauge('span_relay_kafka_unsafe_messages', 'Messages passed on whose spans are not yet safe downstream (delivered, or in a write-ahead log or persistent queue), with those behind them: their offsets wait to be committed.', ['receiver'] as const),
      lag: t.gauge('span_relay_kafka_consumer_lag', 'Messages on a partition this member owns past its group\'s committed offset (read every 5 s).', ['receiver', 'topic', 'partition'] as const),
      partitions: t.gauge('span_relay_kafka_assigned_partitions', 'Partitions of the topic assigned to this member.', ['receiver', 'topic'] as const),
    };
  }

  private labels(topic: string): { receiver: string; topic: string } {
    return { receiver: this.ctx.id, topic };
  }

  async start(next: Consumer): Promise<void> {
    const { Consumer: KafkaConsumerClass } = kafkaLib();
    const consumer = new KafkaConsumerClass({ ...this.connection.options(), groupId: this.config.group_id, sessionTimeout: this.config.session_timeout, heartbeatInterval: this.config.heartbeat_interval, maxWaitTime: 500 });
    this.consumer = consumer;
    consumer.on('consumer:group:join', (p: { assignments?: { topic: string; partitions: number[] }[] }) => {
      this.m.rebalances.inc({ receiver: this.ctx.id, group: this.config.group_id });
      const mine = (p.assignments ?? []).filter((a) => this.config.traces.topics.includes(a.topic));
      this.mine = new Set(mine.flatMap((a) => a.partitions.map((partition) => `${a.topic}:${partition}`)));
      for (const topic of this.config.traces.topics) this.m.partitions.set(this.labels(topic), mine.find((a) => a.topic === topic)?.partitions.length ?? 0);
      // Partitions this member lost: their new owner starts at the last commit.
      for (const key of this.progress.keys()) if (!this.mine.has(key)) this.progress.delete(key);
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
      this.passedOn(message).safe();
      return;
    }
    const entry = this.passedOn(message);
    if (result.spans.length === 0) entry.safe();
    const fanout = this.ctx.exporters ?? 1;
    for (let wait = RETRY_FIRST_MS, attempt = 0; ; wait = Math.min(RETRY_MAX_MS, wait * 2), attempt++) {
      if (result.spans.length > 0) {
        // Fresh spans are marked in place; a retry's copies get a new ack, since a pipeline that
        // took the first attempt still holds the first spans (and settles the first ack).
        const ack = new MessageAck(result.spans.length, fanout, () => entry.safe());
        if (attempt === 0) for (const sp of result.spans) sp.ack = ack;
        else result.spans = result.spans.map((sp) => withChanges(sp, { ack }));
      }
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

  /** A message is passed on (or skipped): its partition's progress waits for it to be safe. */
  private passedOn(message: KafkaMessage): { safe(): void } {
    const key = `${message.topic}:${message.partition}`;
    this.position.set(key, message.offset + 1n);
    let progress = this.progress.get(key);
    if (!progress) this.progress.set(key, (progress = new PartitionProgress()));
    return progress.add(message.offset);
  }

  /** Commits what is safe downstream on the partitions this member still owns; one commit at a time. */
  private commit(): Promise<void> {
    this.committing = this.committing.then(async () => {
      let unsafe = 0;
      const offsets: { topic: string; partition: number; offset: bigint; leaderEpoch: number; progress: PartitionProgress }[] = [];
      for (const [key, progress] of this.progress) {
        if (!this.mine.has(key)) continue;
        unsafe += progress.unsafe;
        const offset = progress.safeUpTo;
        if (offset === undefined || offset === progress.committed) continue;
        const at = key.lastIndexOf(':');
        offsets.push({ topic: key.slice(0, at), partition: Number(key.slice(at + 1)), offset, leaderEpoch: -1, progress });
      }
      this.m.unsafe.set({ receiver: this.ctx.id }, unsafe);
      if (offsets.length === 0 || !this.consumer) return;
      try {
        await this.consumer.commit({ offsets: offsets.map(({ topic, partition, offset, leaderEpoch }) => ({ topic, partition, offset, leaderEpoch })) });
        for (const o of offsets) o.progress.committed = o.offset;
        for (const topic of new Set(offsets.map((o) => o.topic))) this.m.commits.inc({ ...this.labels(topic), result: 'ok' });
      } catch (err) {
        // Kept: committed at the next tick if the partition is still ours, else re-read by its new owner.
        for (const topic of new Set(offsets.map((o) => o.topic))) this.m.commits.inc({ ...this.labels(topic), result: 'failed' });
        this.ctx.telemetry.warnLimited(`kafka-commit:${this.ctx.id}`, { receiver: this.ctx.id }, `kafka: offset commit failed: ${describeKafkaError(err)}`);
      }
    });
    return this.committing;
  }

  /**
   * Stops reading; the message being handled gets until `deadline`; what is safe by then is
   * committed. The member stays in the group until `drained`: what the pipeline still holds
   * becomes safe as the processors flush and the exporters drain.
   */
  async shutdown(deadline = Date.now() + 10_000): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    clearInterval(this.lagTimer);
    this.closingStream = this.stream?.close().catch(() => {});
    await within(this.loop, deadline);
    this.stopped.abort();
    await within(this.commit(), deadline);
  }

  /** After the drain: commits what became safe, then leaves the group (its partitions move at once). */
  async drained(deadline: number): Promise<void> {
    await within(this.commit(), deadline);
    await this.closingStream;
    if (this.consumer) await closeKafkaClient(this.consumer);
    this.consumer = undefined;
    this.connection.close();
  }
}

export const kafkaReceiverFactory = receiverFactory({
  type: 'kafka',
  config: kafkaReceiverConfig,
  create: (config, ctx) => new KafkaReceiver(config, ctx),
});
