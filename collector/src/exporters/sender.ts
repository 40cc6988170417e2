import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { BackpressureError, SpanRelayError } from '../model/errors.js';
import type { SpanBatch } from '../model/span.js';
import type { Exporter, CreateContext } from '../component.js';
import { duration, section } from '../config/schema-helpers.js';

/** A send that failed; `retryable` decides between backoff and giving up. */
export class ExportError extends SpanRelayError {
  constructor(
    code: string,
    message: string,
    readonly retryable: boolean,
    readonly retryAfterMs?: number,
  ) {
    super(code, message);
  }
}

/** The exporterhelper settings every exporter shares, named as in the OpenTelemetry Collector. */
export const senderSettings = {
  timeout: duration('5s'),
  sending_queue: section(
    z.strictObject({
      enabled: z.boolean().default(true),
      num_consumers: z.number().int().positive().default(4),
      queue_size: z.number().int().positive().default(1000),
    }),
  ),
  retry_on_failure: section(
    z.strictObject({
      enabled: z.boolean().default(true),
      initial_interval: duration('5s'),
      max_interval: duration('30s'),
      max_elapsed_time: duration('300s'),
      multiplier: z.number().min(1).default(1.5),
    }),
  ),
};
export type SenderConfig = z.output<z.ZodObject<typeof senderSettings>>;

export type Send = (batch: SpanBatch, signal: AbortSignal) => Promise<void>;

interface Item {
  batch: SpanBatch;
}

/**
 * A bounded queue in front of a transport, drained by a few workers that retry with exponential
 * backoff. A full queue refuses the batch (counted, logged, and surfaced as backpressure so the
 * receiver can answer 503 / RESOURCE_EXHAUSTED); nothing else drops spans but a permanent error or
 * an exhausted retry budget, both counted.
 */
export class QueuedExporter implements Exporter {
  private readonly queue: Item[] = [];
  private readonly waiters: (() => void)[] = [];
  private readonly workers: Promise<void>[] = [];
  private stopping = false;
  private readonly abort = new AbortController();
  private lastDropLog = 0;

  constructor(
    private readonly ctx: CreateContext,
    private readonly config: SenderConfig,
    private readonly send: Send,
    private readonly close: () => Promise<void> = async () => {},
  ) {
    ctx.telemetry.queueCapacity.set({ exporter: ctx.id }, config.sending_queue.enabled ? config.sending_queue.queue_size : 0);
  }

  async start(): Promise<void> {
    const n = this.config.sending_queue.enabled ? this.config.sending_queue.num_consumers : 0;
    for (let i = 0; i < n; i++) this.workers.push(this.work());
  }

  async consume(batch: SpanBatch): Promise<void> {
    if (batch.spans.length === 0) return;
    if (this.stopping) throw new BackpressureError(`exporter ${this.ctx.id} is shutting down`);
    if (!this.config.sending_queue.enabled) {
      await this.deliver(batch);
      return;
    }
    if (this.queue.length >= this.config.sending_queue.queue_size) {
      this.ctx.telemetry.droppedSpans.inc({ exporter: this.ctx.id }, batch.spans.length);
      const now = Date.now();
      if (now - this.lastDropLog > 1000) {
        this.lastDropLog = now;
        this.ctx.telemetry.logger.warn({ exporter: this.ctx.id, dropped: batch.spans.length, queue_size: this.queue.length }, 'sending queue is full: refusing spans');
      }
      throw new BackpressureError(`exporter ${this.ctx.id}: sending queue is full (${this.queue.length} batches)`);
    }
    this.queue.push({ batch });
    this.ctx.telemetry.queueSize.set({ exporter: this.ctx.id }, this.queue.length);
    this.waiters.shift()?.();
  }

  private async work(): Promise<void> {
    for (;;) {
      const item = this.queue.shift();
      if (!item) {
        if (this.stopping) return;
        await new Promise<void>((resolve) => this.waiters.push(resolve));
        continue;
      }
      this.ctx.telemetry.queueSize.set({ exporter: this.ctx.id }, this.queue.length);
      try {
        await this.deliver(item.batch);
      } catch {
        // deliver() counts and logs its own failures
      }
    }
  }

  private async deliver(batch: SpanBatch): Promise<void> {
    const { retry_on_failure: retry, timeout } = this.config;
    const started = Date.now();
    let interval = retry.initial_interval;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.send(batch, AbortSignal.any([this.abort.signal, AbortSignal.timeout(timeout)]));
        this.ctx.telemetry.exportedSpans.inc({ exporter: this.ctx.id }, batch.spans.length);
        return;
      } catch (err) {
        const e = err instanceof ExportError ? err : new ExportError('send_failed', (err as Error).message, true);
        const wait = Math.min(e.retryAfterMs ?? interval * (0.8 + Math.random() * 0.4), retry.max_interval);
        const giveUp = !e.retryable || !retry.enabled || this.abort.signal.aborted || Date.now() - started + wait > retry.max_elapsed_time;
        if (giveUp) {
          // Cut off by the shutdown deadline: acknowledged spans that never reached the backend.
          const atShutdown = this.abort.signal.aborted;
          if (atShutdown) this.ctx.telemetry.lostAtShutdown += batch.spans.length;
          this.ctx.telemetry.failedSpans.inc({ exporter: this.ctx.id, reason: atShutdown ? 'shutdown' : e.retryable ? 'retries_exhausted' : e.code }, batch.spans.length);
          this.ctx.telemetry.logger.error({ exporter: this.ctx.id, spans: batch.spans.length, attempts: attempt, code: e.code }, `export failed, dropping spans: ${e.message}`);
          throw e;
        }
        this.ctx.telemetry.logger.warn({ exporter: this.ctx.id, attempt, retry_in_ms: Math.round(wait), code: e.code }, `export failed, will retry: ${e.message}`);
        await sleep(wait, undefined, { signal: this.abort.signal }).catch(() => {});
        interval *= retry.multiplier;
      }
    }
  }

  /** Stop taking batches, drain the queue (bounded by the retry budget), then close the transport. */
  async shutdown(deadline = Date.now() + 10_000): Promise<void> {
    this.stopping = true;
    for (const w of this.waiters.splice(0)) w();
    const timer = setTimeout(() => this.abort.abort(), Math.max(0, deadline - Date.now()));
    await Promise.all(this.workers);
    clearTimeout(timer);
    const left = this.queue.splice(0);
    const lost = left.reduce((n, i) => n + i.batch.spans.length, 0);
    if (lost > 0) {
      this.ctx.telemetry.lostAtShutdown += lost;
      this.ctx.telemetry.failedSpans.inc({ exporter: this.ctx.id, reason: 'shutdown' }, lost);
      this.ctx.telemetry.logger.error({ exporter: this.ctx.id, spans: lost }, 'shutdown timed out with spans still queued');
    }
    this.ctx.telemetry.queueSize.set({ exporter: this.ctx.id }, 0);
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
