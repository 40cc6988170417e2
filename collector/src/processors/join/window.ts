import type { Span } from '../../model/span.js';
import { traceKey } from './normalize.js';
import { estimateBytes } from '../../model/size.js';
export { estimateBytes };

export interface HeldTrace {
  key: string;
  spans: Span[];
  /** `spanKey` of each span held, to drop the same span received twice. */
  seen: Set<string>;
  firstSeen: number;
  lastSeen: number;
  bytes: number;
}

export const spanKey = (s: Span): string => `${s.spanId}|${s.kind}|${s.parentSpanId ?? ''}|${s.startTimeUnixNano}|${s.endTimeUnixNano}`;

/**
 * Spans held per trace, oldest trace first (Map insertion order). The caller enforces the bounds
 * by taking the oldest out; the window only keeps the accounting exact.
 */
export class TraceWindow {
  private readonly traces = new Map<string, HeldTrace>();
  bytes = 0;

  get size(): number {
    return this.traces.size;
  }

  /** The trace the span joined, or undefined when the span is a duplicate of one already held. */
  add(span: Span, now: number): HeldTrace | undefined {
    const key = traceKey(span.traceId);
    let t = this.traces.get(key);
    if (!t) this.traces.set(key, (t = { key, spans: [], seen: new Set(), firstSeen: now, lastSeen: now, bytes: 0 }));
    const sk = spanKey(span);
    if (t.seen.has(sk)) return undefined;
    t.seen.add(sk);
    t.spans.push(span);
    t.lastSeen = now;
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
    for (const t of this.traces.values()) {
      if (now - t.lastSeen >= quietMs) out.push({ trace: t, reason: 'quiet' });
      else if (now - t.firstSeen >= maxAgeMs) out.push({ trace: t, reason: 'max_age' });
    }
    for (const { trace } of out) this.remove(trace);
    return out;
  }

  takeOldest(): HeldTrace | undefined {
    const first = this.traces.values().next();
    if (first.done) return undefined;
    this.remove(first.value);
    return first.value;
  }

  takeAll(): HeldTrace[] {
    const all = [...this.traces.values()];
    this.traces.clear();
    this.bytes = 0;
    return all;
  }

  private remove(t: HeldTrace): void {
    this.traces.delete(t.key);
    this.bytes -= t.bytes;
  }
}
