import type { Span } from '../../model/span.js';
import { traceKey } from '../../trace/key.js';
import { TraceMemory } from './normalize.js';
import { estimateBytes } from '../../model/size.js';
export { estimateBytes };

export interface HeldTrace {
  key: string;
  spans: Span[];
  /** Each span held, to drop the same span received twice; the trace's memory once it is released. */
  seen: TraceMemory;
  firstSeen: number;
  lastSeen: number;
  bytes: number;
}

/**
 * Spans held per trace, in two orders kept as they change, so that finding what is due never scans
 * the traces that are not: `byLast` by the last span's arrival (a trace moves to the end when a span
 * joins it), `byFirst` by the first (Map insertion order, never moved). A tick walks each from the
 * front and stops at the first trace not yet due. The caller enforces the bounds by taking the
 * oldest out; the window only keeps the accounting exact.
 */
export class TraceWindow {
  private readonly byFirst = new Map<string, HeldTrace>();
  private readonly byLast = new Map<string, HeldTrace>();
  bytes = 0;

  get size(): number {
    return this.byFirst.size;
  }

  /** The trace the span joined, or undefined when the span is a duplicate of one already held. */
  add(span: Span, now: number): HeldTrace | undefined {
    const key = traceKey(span.traceId);
    let t = this.byFirst.get(key);
    if (!t) {
      t = { key, spans: [], seen: new TraceMemory(), firstSeen: now, lastSeen: now, bytes: 0 };
      this.byFirst.set(key, t);
      this.byLast.set(key, t);
    }
    if (!t.seen.addSeen(span)) return undefined;
    t.spans.push(span);
    if (t.lastSeen !== now) {
      t.lastSeen = now;
      this.byLast.delete(key);
      this.byLast.set(key, t);
    }
    const b = estimateBytes(span);
    t.bytes += b;
    this.bytes += b;
    return t;
  }

  /** Takes one trace out (to release it early). */
  take(t: HeldTrace): void {
    this.remove(t);
  }

  /** Traces quiet for `quietMs`, or older than `maxAgeMs`. */
  takeReady(now: number, quietMs: number, maxAgeMs: number): { trace: HeldTrace; reason: 'quiet' | 'max_age' }[] {
    const out: { trace: HeldTrace; reason: 'quiet' | 'max_age' }[] = [];
    for (const t of this.byLast.values()) {
      if (now - t.lastSeen < quietMs) break;
      out.push({ trace: t, reason: 'quiet' });
    }
    for (const { trace } of out) this.remove(trace);
    for (const t of this.byFirst.values()) {
      if (now - t.firstSeen < maxAgeMs) break;
      out.push({ trace: t, reason: 'max_age' });
    }
    for (let i = out.length - 1; i >= 0 && out[i]!.reason === 'max_age'; i--) this.remove(out[i]!.trace);
    return out;
  }

  takeOldest(): HeldTrace | undefined {
    const first = this.byFirst.values().next();
    if (first.done) return undefined;
    this.remove(first.value);
    return first.value;
  }

  takeAll(): HeldTrace[] {
    const all = [...this.byFirst.values()];
    this.byFirst.clear();
    this.byLast.clear();
    this.bytes = 0;
    return all;
  }

  private remove(t: HeldTrace): void {
    this.byFirst.delete(t.key);
    this.byLast.delete(t.key);
    this.bytes -= t.bytes;
  }
}
