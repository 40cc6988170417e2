import { totalmem } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
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
      /**
       * Above the soft limit, a full garbage collection first (at most this often), and a refusal
       * only if memory is still above it: V8 lets garbage grow to several times what is live.
       */
      min_gc_interval_when_soft_limited: duration('1s'),
      /** The same above the hard limit (limit_mib). */
      min_gc_interval_when_hard_limited: duration('0s'),
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
 * A full garbage collection on demand, without starting node with --expose-gc: the flag is set for
 * the moment it takes to fetch `gc` from a new context. Undefined if V8 will not give it.
 */
function gcFunction(): (() => void) | undefined {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed) return exposed;
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}

/**
 * The OpenTelemetry Collector's memory_limiter: measured every check_interval; above the soft limit
 * (limit − spike) it collects garbage first (at most every min_gc_interval_when_soft_limited, or
 * _hard_limited above the limit itself), as the Go collector does, and memory still above the soft
 * limit refuses new spans with backpressure (503 + Retry-After,
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
  private lastGc = 0;
  private readonly gcSoftMs: number;
  private readonly gcHardMs: number;

  constructor(
    config: MemoryLimiterConfig,
    private readonly ctx: CreateContext,
    private readonly measure: () => number = memoryInUse,
    private readonly interval = config.check_interval,
    private readonly gc: (() => void) | undefined = gcFunction(),
  ) {
    this.gcSoftMs = config.min_gc_interval_when_soft_limited;
    this.gcHardMs = config.min_gc_interval_when_hard_limited;
    this.limit = config.limit_mib !== undefined ? config.limit_mib * MIB : (totalmem() * config.limit_percentage!) / 100;
    const spike = config.spike_limit_mib !== undefined ? config.spike_limit_mib * MIB : config.spike_limit_percentage !== undefined ? (totalmem() * config.spike_limit_percentage) / 100 : this.limit * 0.2;
    this.soft = Math.max(0, this.limit - spike);
    const t = ctx.telemetry;
    this.m = {
      inUse: t.gauge('span_relay_memory_limiter_in_use_bytes', 'Memory in use (JS heap + external buffers) at the last check.', ['processor'] as const),
      refusing: t.gauge('span_relay_memory_limiter_refusing', '1 while the memory limiter refuses new spans.', ['processor'] as const),
      refused: t.counter('span_relay_memory_limiter_refused_spans_total', 'Spans the memory limiter refused.', ['processor'] as const),
      gcs: t.counter('span_relay_memory_limiter_gc_total', 'Full garbage collections the memory limiter ran because memory was above the soft limit.', ['processor'] as const),
    };
  }

  async start(next: Consumer): Promise<void> {
    this.next = next;
    this.check();
    this.timer = setInterval(() => this.check(), this.interval);
    this.timer.unref();
  }

  private check(): void {
    let used = this.measure();
    if (used > this.soft && this.gc) {
      const now = Date.now();
      if (now - this.lastGc >= (used > this.limit ? this.gcHardMs : this.gcSoftMs)) {
        this.lastGc = now;
        this.gc();
        this.m.gcs.inc({ processor: this.ctx.id });
        used = this.measure();
      }
    }
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
