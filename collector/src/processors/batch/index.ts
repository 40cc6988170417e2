import { z } from 'zod';
import { processorFactory, type Consumer, type Processor } from '../../component.js';
import type { Span, SpanBatch } from '../../model/span.js';
import { duration, section } from '../../config/schema-helpers.js';

export const batchConfig = section(
  z.strictObject({
    timeout: duration('200ms'),
    send_batch_size: z.number().int().positive().default(8192),
    send_batch_max_size: z.number().int().nonnegative().default(0),
  }),
);
type BatchConfig = z.output<typeof batchConfig>;

/**
 * Gathers spans into batches of send_batch_size or whatever arrived within `timeout`, as the
 * OpenTelemetry Collector's batch processor does. Holding at most send_batch_size spans plus one
 * request, it keeps memory bounded; a refusal downstream reaches the receiver that sent the
 * batch that filled it.
 */
export class BatchProcessor implements Processor {
  private pending: Span[] = [];
  private timer: NodeJS.Timeout | undefined;
  private next: Consumer | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(private readonly config: BatchConfig) {}

  async start(next: Consumer): Promise<void> {
    this.next = next;
  }

  async consume(batch: SpanBatch): Promise<void> {
    for (const s of batch.spans) this.pending.push(s);
    if (this.pending.length >= this.config.send_batch_size) {
      await this.flush();
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        // A timed flush has no caller to refuse; the exporter queue counts what it drops.
        this.flush().catch(() => {});
      }, this.config.timeout);
    }
  }

  private async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const max = this.config.send_batch_max_size || Infinity;
    const spans = this.pending;
    this.pending = [];
    const sends: Promise<void>[] = [];
    for (let i = 0; i < spans.length; i += max === Infinity ? spans.length : max) {
      sends.push(this.next!.consume({ spans: spans.slice(i, i + (max === Infinity ? spans.length : max)) }));
    }
    this.flushing = Promise.all(sends).then(() => {});
    await this.flushing;
  }

  async shutdown(): Promise<void> {
    if (this.pending.length > 0) await this.flush().catch(() => {});
    await this.flushing.catch(() => {});
  }
}

export const batchProcessorFactory = processorFactory({
  type: 'batch',
  config: batchConfig,
  create: (config) => new BatchProcessor(config),
});
