import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { BackpressureError, ExportError } from '../model/errors.js';

export { ExportError };
import { settle, type SpanBatch } from '../model/span.js';
import { estimateBytes } from '../model/size.js';
import { decodeSpans, encodeSpans } from '../storage/span-codec.js';
import { ComponentLog } from '../storage/component-log.js';
import type { Exporter, CreateContext } from '../component.js';
import { duration, section } from '../config/schema-helpers.js';

/** The exporterhelper settings every exporter shares, named as in the OpenTelemetry Collector. */
export const senderSettings = {
  timeout: duration('5s'),
  sending_queue: section(
    z.strictObject({
      enabled: z.boolean().default(true),
      num_consumers: z.number().int().positive().default(4),
      /** How much the queue holds, in the unit `sizer` names. */
      queue_size: z.number().int().positive().default(1000),
      /** requests (batches), items (spans) or bytes (estimated in memory; on disk with storage). */
      sizer: z.enum(['requests', 'items', 'bytes']).default('requests'),
      /** A storage extension: the queue is kept on disk, bounded by its max_size as well. */
      storage: z.string().min(1).optional(),
    }),
  ),
  retry_on_failure: section(
    z.strictObject({
      enabled: z.boolean().default(true),
      initial_interval: duration('5s'),
      max_interval: duration('30s'),
      /** 0: retry without a time limit, as in the OpenTelemetry Collector. */
      max_elapsed_time: duration('300s'),
      multiplier: z.number().min(1).default(1.5),
    }),
  ),
};
export type SenderConfig = z.output<z.ZodObject<typeof senderSettings>>;

export type Send = (batch: SpanBatch, signal: AbortSignal) => Promise<void>;

/** A queued request: in memory, or only where it is on disk (a persistent queue). */
interface Item {
  batch?: SpanBatch;
  seq?: number;
  spans: number;
  bytes: number;
}

type Outcome = 'delivered' | 'failed' | 'aborted';

function batchBytes(batch: SpanBatch): number {
  let n = 0;
  for (const s of batch.spans) n += estimateBytes(s);
  return n;
}

/** A record of a persistent queue: the span count, then the spans. */
function queueRecord(batch: SpanBatch): Buffer {
  const body = encodeSpans(batch.spans);
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32BE(batch.spans.length, 0);
  body.copy(out, 4);
  return out;
}

/**
 * A bounded queue in front of a transport, drained by a few workers that retry with exponential
 * backoff, as the OpenTelemetry Collector's exporterhelper. The bound is counted in requests,
 * spans or bytes (`sizer`); a full queue refuses the batch, which reaches the client as 503 /
 * RESOURCE_EXHAUSTED. With `storage`, the queue lives on disk: a batch is acknowledged once it is
 * written, survives restarts and outages as long as the disk allows, and memory holds only where
 * each request is. A span is settled (its place in the join's log released) when it is delivered,
 * given up for good, or durably queued.
 */
export class QueuedExporter implements Exporter {
  private readonly queue: Item[] = [];
  private readonly waiters: (() => void)[] = [];
  private readonly workers: Promise<void>[] = [];
  private stopping = false;
  private readonly abort = new AbortController();
  private lastDropLog = 0;
  private used = 0;
  /** Spans and bytes queued, kept as items come and go (the gauges read them). */
  private queuedSpans = 0;
  private queuedBytes = 0;
  private stored: ComponentLog | undefined;
  private readonly m;
  /**
   * Set by an owner that can send elsewhere what this queue could not (the loadbalancing exporter,
   * when a backend leaves the ring): at shutdown, queued and cut-off batches go to it instead of
   * being counted lost.
   */
  handBack: ((batch: SpanBatch) => void) | undefined;

  constructor(
    private readonly ctx: CreateContext,
    private readonly config: SenderConfig,
    private readonly send: Send,
    private readonly close: () => Promise<void> = async () => {},
  ) {
    ctx.telemetry.queueCapacity.set({ exporter: ctx.id }, config.sending_queue.enabled ? config.sending_queue.queue_size : 0);
    const t = ctx.telemetry;
    this.m = {
      spans: t.gauge('span_relay_exporter_queue_spans', 'Spans waiting in an exporter queue.', ['exporter'] as const),
      bytes: t.gauge('span_relay_exporter_queue_bytes', 'Bytes waiting in an exporter queue (counted with sizer: bytes, or on disk for a persistent queue).', ['exporter'] as const),
    };
  }

  private size(item: { spans: number; bytes: number }): number {
    const sizer = this.config.sending_queue.sizer;
    return sizer === 'requests' ? 1 : sizer === 'items' ? item.spans : item.bytes;
  }

  async start(): Promise<void> {
    const q = this.config.sending_queue;
    if (q.enabled && q.storage) {
      this.stored = await ComponentLog.open(this.ctx, 'exporter', q.storage, 'persistent queue');
      const { records } = this.stored;
      let recovered = 0;
      for (const r of records) {
        const spans = r.body.readUInt32BE(0);
        recovered += spans;
        this.push({ seq: r.seq, spans, bytes: r.body.length });
      }
      if (recovered > 0) {
        this.stored.recovered(recovered);
        this.ctx.telemetry.logger.info({ exporter: this.ctx.id, spans: recovered, requests: records.length }, 'persistent queue: sending again what the last run had not delivered');
      }
    }
    const n = q.enabled ? q.num_consumers : 0;
    for (let i = 0; i < n; i++) this.workers.push(this.work());
  }

  private push(item: Item): void {
    this.queue.push(item);
    this.used += this.size(item);
    this.queuedSpans += item.spans;
    this.queuedBytes += item.bytes;
    this.gauges();
    this.waiters.shift()?.();
  }

  private gauges(): void {
    const id = { exporter: this.ctx.id };
    this.ctx.telemetry.queueSize.set(id, this.queue.length);
    this.m.spans.set(id, this.queuedSpans);
    this.m.bytes.set(id, this.queuedBytes);
    this.stored?.gauges();
  }

  async consume(batch: SpanBatch): Promise<void> {
    if (batch.spans.length === 0) return;
    if (this.stopping) throw new BackpressureError(`exporter ${this.ctx.id} is shutting down`, 'shutting_down');
    const q = this.config.sending_queue;
    if (!q.enabled) {
      if ((await this.deliver(batch)) !== 'aborted') settle(batch.spans);
      else this.lostAtShutdown(batch);
      return;
    }
    const body = this.stored ? queueRecord(batch) : undefined;
    // Estimating bytes walks every attribute: only when the queue is sized in bytes.
    const item: Item = { spans: batch.spans.length, bytes: body ? body.length : q.sizer === 'bytes' ? batchBytes(batch) : 0 };
    if (this.queue.length > 0 && this.used + this.size(item) > q.queue_size) {
      this.ctx.telemetry.droppedSpans.inc({ exporter: this.ctx.id }, batch.spans.length);
      const now = Date.now();
      if (now - this.lastDropLog > 1000) {
        this.lastDropLog = now;
        this.ctx.telemetry.logger.warn({ exporter: this.ctx.id, refused: batch.spans.length, queued: this.used, queue_size: q.queue_size, sizer: q.sizer }, 'sending queue is full: refusing spans');
      }
      throw new BackpressureError(`exporter ${this.ctx.id}: sending queue is full (${this.used} of ${q.queue_size} ${q.sizer})`, 'queue_full');
    }
    if (this.stored && body) {
      item.seq = await this.stored.log.append(body);
      // On disk now: what the join's log held for these spans can go.
      settle(batch.spans);
    } else item.batch = batch;
    this.push(item);
  }

  /**
   * A consumer: takes the queue's items one at a time. Each is sent by `take`, whose frame ends
   * with it: a suspended async function keeps every value it held, so a worker that waited here
   * for the next item with the last batch in a variable kept those spans, and the requests they
   * were read from, alive while idle (found in a heap snapshot: four workers, 12,000 spans).
   */
  private async work(): Promise<void> {
    for (;;) {
      const item = this.queue.shift();
      if (item) await this.take(item);
      else if (this.stopping) return;
      else await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  private async take(item: Item): Promise<void> {
    this.used -= this.size(item);
    this.queuedSpans -= item.spans;
    this.queuedBytes -= item.bytes;
    this.gauges();
    let batch = item.batch;
    if (!batch && item.seq !== undefined) {
      const body = await this.stored!.log.read(item.seq);
      if (!body) return;
      batch = { spans: decodeSpans(body.subarray(4)) };
    }
    const outcome = await this.deliver(batch!);
    if (outcome === 'aborted') {
      // Cut by the shutdown deadline: kept on disk for the next run, or lost (counted).
      if (item.seq === undefined) this.lostAtShutdown(batch!);
      return;
    }
    if (item.seq !== undefined) this.stored!.log.release(item.seq);
    else settle(batch!.spans);
  }

  /** Sends with retries; never throws. */
  private async deliver(batch: SpanBatch): Promise<Outcome> {
    const { retry_on_failure: retry, timeout } = this.config;
    const started = Date.now();
    let interval = retry.initial_interval;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.send(batch, AbortSignal.any([this.abort.signal, AbortSignal.timeout(timeout)]));
        this.ctx.telemetry.exportedSpans.inc({ exporter: this.ctx.id }, batch.spans.length);
        return 'delivered';
      } catch (err) {
        const e = err instanceof ExportError ? err : new ExportError('send_failed', (err as Error).message, true);
        if (this.abort.signal.aborted) return 'aborted';
        const wait = Math.min(e.retryAfterMs ?? interval * (0.8 + Math.random() * 0.4), retry.max_interval);
        const outOfTime = retry.max_elapsed_time > 0 && Date.now() - started + wait > retry.max_elapsed_time;
        if (!e.retryable || !retry.enabled || outOfTime) {
          this.ctx.telemetry.failedSpans.inc({ exporter: this.ctx.id, reason: e.retryable ? 'retries_exhausted' : e.code }, batch.spans.length);
          this.ctx.telemetry.logger.error({ exporter: this.ctx.id, spans: batch.spans.length, attempts: attempt, code: e.code }, `export failed, dropping spans: ${e.message}`);
          return 'failed';
        }
        this.ctx.telemetry.warnLimited(`export-retry:${this.ctx.id}`, { exporter: this.ctx.id, attempt, retry_in_ms: Math.round(wait), code: e.code }, `export failed, will retry: ${e.message}`, 1000);
        await sleep(wait, undefined, { signal: this.abort.signal }).catch(() => {});
        if (this.abort.signal.aborted) return 'aborted';
        interval *= retry.multiplier;
      }
    }
  }

  /** Spans with no storage behind them, acknowledged and now undeliverable. */
  private lostAtShutdown(batch: SpanBatch): void {
    if (this.handBack) {
      this.handBack(batch);
      return;
    }
    const lost = batch.spans.filter((s) => !s.ack).length;
    if (lost === 0) return;
    this.ctx.telemetry.lostAtShutdown += lost;
    this.ctx.telemetry.failedSpans.inc({ exporter: this.ctx.id, reason: 'shutdown' }, lost);
  }

  /** Stop taking batches, drain the queue until `deadline`, then close the transport. */
  async shutdown(deadline = Date.now() + 10_000): Promise<void> {
    this.stopping = true;
    for (const w of this.waiters.splice(0)) w();
    const timer = setTimeout(() => this.abort.abort(), Math.max(0, deadline - Date.now()));
    await Promise.all(this.workers);
    clearTimeout(timer);
    const left = this.queue.splice(0);
    const kept = left.filter((i) => i.seq !== undefined).reduce((n, i) => n + i.spans, 0);
    for (const i of left) if (i.batch) this.lostAtShutdown(i.batch);
    if (kept > 0) this.ctx.telemetry.logger.warn({ exporter: this.ctx.id, spans: kept }, 'shutdown: spans kept in the persistent queue for the next start');
    const lost = this.handBack ? 0 : left.filter((i) => i.batch).reduce((n, i) => n + i.batch!.spans.filter((s) => !s.ack).length, 0);
    if (lost > 0) this.ctx.telemetry.logger.error({ exporter: this.ctx.id, spans: lost }, 'shutdown timed out with spans still queued');
    this.used = 0;
    this.queuedSpans = 0;
    this.queuedBytes = 0;
    this.gauges();
    await this.close();
  }
}

/** Parses an HTTP Retry-After header (seconds or a date) into milliseconds. */
export function retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** Retryable HTTP statuses, as OTLP/HTTP specifies them. */
export function httpStatusError(status: number, body: string, retryAfter: string | null): ExportError {
  const retryable = status === 429 || status === 502 || status === 503 || status === 504;
  return new ExportError(`http_${status}`, `HTTP ${status}: ${body.slice(0, 200)}`, retryable, retryable ? retryAfterMs(retryAfter) : undefined);
}
