import { z } from 'zod';
import { processorFactory, type Consumer, type CreateContext, type Processor } from '../../component.js';
import { BackpressureError } from '../../model/errors.js';
import type { Span, SpanBatch } from '../../model/span.js';
import { duration, section } from '../../config/schema-helpers.js';

export const batchConfig = section(
  z.strictObject({
    timeout: duration('200ms'),
    send_batch_size: z.number().int().positive().default(8192),
    send_batch_max_size: z.number().int().nonnegative().default(0),
    /** Spans held while the next stage refuses; past it new spans are refused (503). Default 4 × send_batch_size. */
    max_buffered_spans: z.number().int().positive().optional(),
  }),
);
type BatchConfig = z.output<typeof batchConfig>;

/**
 * Gathers spans into batches of send_batch_size or whatever arrived within `timeout`, as the
 * OpenTelemetry Collector's batch processor does, with one difference: spans it took are never
 * dropped. When the next stage refuses a batch, the spans go back to the front of the buffer and
 * the send is tried again; the buffer is bounded (max_buffered_spans), and past the bound new
 * spans are refused, so the refusal reaches a client that can retry instead of one that was
 * already told "accepted".
 */
export class BatchProcessor implements Processor {
  private pending: Span[] = [];
  private timer: NodeJS.Timeout | undefined;
  private next: Consumer | undefined;
  private flushing: Promise<void> | undefined;
  private retryDelay = 0;
  private readonly maxBuffered: number;
  private readonly maxBatch: number;

  constructor(
    private readonly config: BatchConfig,
    private readonly ctx?: CreateContext,
  ) {
    this.maxBatch = config.send_batch_max_size || Math.max(config.send_batch_size, 1);
    this.maxBuffered = config.max_buffered_spans ?? 4 * Math.max(config.send_batch_size, this.maxBatch);
  }

  async start(next: Consumer): Promise<void> {
    this.next = next;
  }

  async consume(batch: SpanBatch): Promise<void> {
    if (this.pending.length > 0 && this.pending.length + batch.spans.length > this.maxBuffered) {
      throw new BackpressureError(`batch: ${this.pending.length} spans wait for the next stage (max_buffered_spans ${this.maxBuffered})`, 'buffer_full');
    }
    for (const s of batch.spans) this.pending.push(s);
    if (this.pending.length >= this.config.send_batch_size) this.kick(0);
    else this.kick(this.config.timeout);
  }

  /** Flush after `delayMs`, unless a flush is already scheduled or running. */
  private kick(delayMs: number): void {
    if (this.flushing) return;
    if (this.timer && delayMs > 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flushing = this.flushAll().finally(() => {
        this.flushing = undefined;
        if (this.pending.length > 0) this.kick(this.retryDelay || (this.pending.length >= this.config.send_batch_size ? 0 : this.config.timeout));
      });
    }, delayMs);
  }

  /** Sends what is buffered, a batch at a time; a refused batch goes back to the front. */
  private async flushAll(): Promise<void> {
    while (this.pending.length > 0) {
      const spans = this.pending.splice(0, this.maxBatch);
      try {
        await this.next!.consume({ spans });
        this.retryDelay = 0;
      } catch (err) {
        this.pending = spans.concat(this.pending);
        if (!(err instanceof BackpressureError)) this.ctx?.telemetry.reportUnexpected(err, `processor ${this.ctx.id}`);
        this.retryDelay = Math.min(Math.max(this.retryDelay * 2, 50), 1000);
        return;
      }
    }
  }

  async shutdown(deadline = Date.now() + 5_000): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.flushing;
    for (;;) {
      await this.flushAll();
      if (this.pending.length === 0 || Date.now() >= deadline) break;
      await new Promise((r) => setTimeout(r, Math.min(this.retryDelay || 50, Math.max(1, deadline - Date.now()))));
    }
    if (this.pending.length > 0 && this.ctx) {
      this.ctx.telemetry.lostAtShutdown += this.pending.length;
      this.ctx.telemetry.logger.error({ processor: this.ctx.id, spans: this.pending.length }, 'batch: shutdown timed out with spans the next stage would not take');
    }
  }
}

export const batchProcessorFactory = processorFactory({
  type: 'batch',
  config: batchConfig,
  create: (config, ctx) => new BatchProcessor(config, ctx),
});
