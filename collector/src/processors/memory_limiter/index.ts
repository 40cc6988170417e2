import { totalmem } from 'node:os';
import { z } from 'zod';
import { processorFactory, type Consumer, type CreateContext, type Processor } from '../../component.js';
import { BackpressureError } from '../../model/errors.js';
import type { SpanBatch } from '../../model/span.js';
import { duration, section } from '../../config/schema-helpers.js';

export const memoryLimiterConfig = section(
  z
    .strictObject({
      check_interval: duration('1s'),
      limit_mib: z.number().positive().optional(),
      /** Headroom below limit_mib: refusing starts at limit - spike. Default 20 % of the limit. */
      spike_limit_mib: z.number().nonnegative().optional(),
      limit_percentage: z.number().positive().max(100).optional(),
      spike_limit_percentage: z.number().nonnegative().max(100).optional(),
    })
    .refine((c) => c.limit_mib !== undefined || c.limit_percentage !== undefined, { message: 'set limit_mib (or limit_percentage of the machine memory)' }),
);
type MemoryLimiterConfig = z.output<typeof memoryLimiterConfig>;

const MIB = 1024 * 1024;

/** Memory the process holds for data: the JS heap in use plus buffers outside it (RSS follows it, plus V8's own overhead). */
export function memoryInUse(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

/**
 * The OpenTelemetry Collector's memory_limiter: measured every check_interval, memory above the
 * soft limit (limit − spike) refuses new spans with backpressure (503 + Retry-After,
 * RESOURCE_EXHAUSTED) until it falls back below; what was already accepted flows on. Put it
 * first in a pipeline, so nothing is held before it decides.
 */
export class MemoryLimiterProcessor implements Processor {
  private next: Consumer | undefined;
  private timer: NodeJS.Timeout | undefined;
  private refusing = false;
  readonly limit: number;
  readonly soft: number;
  private readonly m;

  constructor(
    config: MemoryLimiterConfig,
    private readonly ctx: CreateContext,
    private readonly measure: () => number = memoryInUse,
    private readonly interval = config.check_interval,
  ) {
    this.limit = config.limit_mib !== undefined ? config.limit_mib * MIB : (totalmem() * config.limit_percentage!) / 100;
    const spike = config.spike_limit_mib !== undefined ? config.spike_limit_mib * MIB : config.spike_limit_percentage !== undefined ? (totalmem() * config.spike_limit_percentage) / 100 : this.limit * 0.2;
    this.soft = Math.max(0, this.limit - spike);
    const t = ctx.telemetry;
    this.m = {
      inUse: t.gauge('span_relay_memory_limiter_in_use_bytes', 'Memory in use (JS heap + external buffers) at the last check.', ['processor'] as const),
      refusing: t.gauge('span_relay_memory_limiter_refusing', '1 while the memory limiter refuses new spans.', ['processor'] as const),
      refused: t.counter('span_relay_memory_limiter_refused_spans_total', 'Spans the memory limiter refused.', ['processor'] as const),
    };
  }

  async start(next: Consumer): Promise<void> {
    this.next = next;
    this.check();
    this.timer = setInterval(() => this.check(), this.interval);
    this.timer.unref();
  }

  private check(): void {
    const used = this.measure();
    const was = this.refusing;
    // Hysteresis: start refusing above the soft limit, stop once back under it.
    this.refusing = used > this.soft;
    this.m.inUse.set({ processor: this.ctx.id }, used);
    this.m.refusing.set({ processor: this.ctx.id }, this.refusing ? 1 : 0);
    if (this.refusing !== was) {
      this.ctx.telemetry.logger.warn(
        { processor: this.ctx.id, in_use_mib: Math.round(used / MIB), soft_limit_mib: Math.round(this.soft / MIB), limit_mib: Math.round(this.limit / MIB) },
        this.refusing ? 'memory above the soft limit: refusing new spans' : 'memory back under the soft limit: accepting spans again',
      );
    }
  }

  async consume(batch: SpanBatch): Promise<void> {
    if (this.refusing) {
      this.m.refused.inc({ processor: this.ctx.id }, batch.spans.length);
      throw new BackpressureError(`memory_limiter: memory in use is above ${Math.round(this.soft / MIB)} MiB; retry later`, 'memory_limit');
    }
    await this.next!.consume(batch);
  }

  async shutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
  }
}

export const memoryLimiterProcessorFactory = processorFactory({
  type: 'memory_limiter',
  config: memoryLimiterConfig,
  create: (config, ctx) => new MemoryLimiterProcessor(config, ctx),
});
