/**
 * memory_limiter: above the soft limit it collects garbage before it refuses (as the Go
 * collector's does), so garbage V8 has not yet collected does not turn clients away, while memory
 * that is really held still does.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { MemoryLimiterProcessor, memoryInUse, memoryLimiterConfig } from '../src/processors/memory_limiter/index.js';
import { Telemetry } from '../src/telemetry/telemetry.js';
import { BackpressureError } from '../src/model/errors.js';
import type { SpanBatch } from '../src/model/span.js';

const MIB = 1024 * 1024;
const batch: SpanBatch = { spans: [] };

async function limiter(config: Record<string, unknown>, measure: () => number, gc?: () => void): Promise<{ p: MemoryLimiterProcessor; tick: () => void }> {
  const p = new MemoryLimiterProcessor(memoryLimiterConfig.parse(config), { id: 'memory_limiter', telemetry: new Telemetry({ logger: pino({ level: 'silent' }) }) }, measure, 3_600_000, gc);
  await p.start({ consume: async () => {} });
  return { p, tick: () => (p as unknown as { check: () => void }).check() };
}

describe('memory_limiter', () => {
  it('collects garbage first: memory that was garbage is accepted, memory still held is refused', async () => {
    let inUse = 500 * MIB;
    let gcs = 0;
    let freed = 0;
    const { p, tick } = await limiter({ limit_mib: 400, spike_limit_mib: 100, min_gc_interval_when_soft_limited: '0s' }, () => inUse, () => {
      gcs++;
      inUse -= freed;
    });
    // start() checked once: nothing was garbage, so it refuses.
    expect(gcs).toBe(1);
    await expect(p.consume(batch)).rejects.toThrow(BackpressureError);
    freed = 300 * MIB;
    tick();
    expect(gcs).toBe(2);
    await expect(p.consume(batch)).resolves.toBeUndefined();
    await p.shutdown();
  });

  it('runs at most one collection per min_gc_interval_when_soft_limited, and refuses meanwhile', async () => {
    let gcs = 0;
    const { p, tick } = await limiter({ limit_mib: 400, spike_limit_mib: 100, min_gc_interval_when_soft_limited: '1h' }, () => 350 * MIB, () => void gcs++);
    tick();
    tick();
    expect(gcs).toBe(1);
    await expect(p.consume(batch)).rejects.toThrow(/above 300 MiB/);
    await p.shutdown();
  });

  it('gets a real full collection from V8 without --expose-gc', async () => {
    expect((globalThis as { gc?: unknown }).gc).toBeUndefined();
    let garbage: unknown[] | undefined = Array.from({ length: 400_000 }, (_, i) => ({ i, s: `span-${i}` }));
    const withGarbage = memoryInUse();
    garbage = undefined;
    void garbage;
    // Soft limit between what is live and what the garbage adds: only a real collection gets under it.
    const soft = (withGarbage - 10 * MIB) / MIB;
    // Without a collection the limiter would have refused (the garbage is still counted).
    const blind = await limiter({ limit_mib: soft + 1, spike_limit_mib: 1 }, memoryInUse, () => {});
    await expect(blind.p.consume(batch)).rejects.toThrow(BackpressureError);
    await blind.p.shutdown();
    const { p } = await limiter({ limit_mib: soft + 1, spike_limit_mib: 1 }, memoryInUse);
    await expect(p.consume(batch)).resolves.toBeUndefined();
    await p.shutdown();
  });
});
