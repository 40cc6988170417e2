/**
 * What the join keeps of a trace it sent on, and the one rule of its own it applies to a trace's
 * spans once they are all in: clock skew between hosts removed. The trace-identity rules it applies
 * first (one ID width, shared spans split) live in trace/identity, below the stages.
 */
import type { Span } from '../../model/span.js';
import { hostOf, indexById, processOf, serviceOf, spanIndex } from '../../trace/continuity.js';
import type { IdentityStats, SentBefore, SharedSplit } from '../../trace/identity.js';
import { CLIENT, LONE_SERVER, SpanIds } from './span-ids.js';
import { shifted } from '../../model/lazy-span.js';

export const ATTR_CLOCK_SKEW = 'span_relay.clock_skew_adjustment_ns';
export const ATTR_INCOMPLETE = 'span_relay.join.incomplete';

export interface NormalizeStats extends IdentityStats {
  clockSkew: number;
}

/** Where releasedAt counts from: ms since the process started fit a small integer (24 days). */
const EPOCH = Date.now();

/**
 * What the join remembers of a trace it already sent on, so late spans still join it: the trace's
 * span IDs (it is its own SpanIds: the window's rows for a trace become its memory without a copy;
 * every span received is SEEN, to drop late exact duplicates, every ID sent on SENT, with the client
 * spans CLIENT, so a server half arriving later with one of their IDs is split, and the lone server
 * spans sent with their own shared ID LONE_SERVER, so a late client half gets a new ID) and a few
 * fields, in one object. Once released, a plain trace is kept as a record of numbers in
 * RememberedTraces, and made into this object again only when a late span joins it.
 */
export class TraceMemory extends SpanIds implements SentBefore {
  traceId = '';
  /**
   * Shared Zipkin span ID → the new ID its server half got, with where the server half ran. Made
   * when first needed: most traces need none.
   */
  shared: Map<string, SharedSplit> | undefined = undefined;
  /** releasedAt - EPOCH: a small integer, where the epoch milliseconds would take a heap number. */
  private released = 0;

  /** When the trace was last sent on (ms since the epoch, as the `now` passed in). */
  get releasedAt(): number {
    return this.released + EPOCH;
  }
  set releasedAt(now: number) {
    this.released = now - EPOCH;
  }

  sentClient(spanId: string): boolean {
    return this.has(spanId, CLIENT);
  }

  sentLoneServer(spanId: string): boolean {
    return this.has(spanId, LONE_SERVER);
  }
}

/** The memory of a trace released now: `seen`, the window's rows for it, as it is. */
export function emptyMemory(traceId: string, now: number, seen = new TraceMemory()): TraceMemory {
  seen.traceId = traceId;
  seen.releasedAt = now;
  return seen;
}

/** Which clock a span was timed by: its host (a pod's proxy and app share one), else its service. */
function clockOf(span: Span): string {
  const host = hostOf(span);
  return host !== undefined ? `host:${host}` : processOf(span);
}

/** clockOf(a) === clockOf(b), without making the strings when both or neither name a host (every span asks). */
function sameClock(a: Span, b: Span): boolean {
  const ha = hostOf(a);
  const hb = hostOf(b);
  if (ha !== undefined && hb !== undefined) return ha === hb;
  if (ha === undefined && hb === undefined) return serviceOf(a) === serviceOf(b);
  return clockOf(a) === clockOf(b);
}

const NO_CHILDREN: readonly number[] = Object.freeze([]);

/** The index of span i's parent in `spans` (the last span of that ID), or -1. */
function parentIndex(spans: readonly Span[], byId: Map<string, number> | undefined, i: number): number {
  const id = spans[i]!.parentSpanId;
  return id === undefined ? -1 : spanIndex(spans, byId, id);
}

/**
 * Jaeger's clock-skew idea: a span from another host that starts before its parent or ends after
 * it is shifted into the parent (centred when it fits, aligned to the parent's start when it is
 * longer); spans of the same host as their parent move with it. The shift is recorded. A trace in
 * which no span leaves a parent of another clock needs no shift anywhere (a shift starts at such a
 * span and moves only its subtree): it is returned as it is, found without building the tree.
 */
export function adjustClockSkew(spans: Span[], stats: NormalizeStats): Span[] {
  const byId = indexById(spans);
  let leaves = false;
  for (let i = 0; i < spans.length && !leaves; i++) {
    const pi = parentIndex(spans, byId, i);
    if (pi < 0 || pi === i) continue;
    const child = spans[i]!;
    const parent = spans[pi]!;
    leaves = (child.startTimeUnixNano < parent.startTimeUnixNano || child.endTimeUnixNano > parent.endTimeUnixNano) && !sameClock(child, parent);
  }
  if (!leaves) return spans;
  const children = new Map<number, number[]>();
  const roots: number[] = [];
  for (let i = 0; i < spans.length; i++) {
    const p = parentIndex(spans, byId, i);
    if (p < 0 || p === i) roots.push(i);
    else {
      const list = children.get(p);
      if (list) list.push(i);
      else children.set(p, [i]);
    }
  }
  const delta = new Array<bigint>(spans.length).fill(0n);
  const visited = new Uint8Array(spans.length);
  const stack: number[] = [...roots];
  while (stack.length > 0) {
    const pi = stack.pop()!;
    if (visited[pi]) continue;
    visited[pi] = 1;
    const parent = spans[pi]!;
    const dp = delta[pi]!;
    const pStart = dp === 0n ? parent.startTimeUnixNano : parent.startTimeUnixNano + dp;
    const pEnd = dp === 0n ? parent.endTimeUnixNano : parent.endTimeUnixNano + dp;
    for (const ci of children.get(pi) ?? NO_CHILDREN) {
      const child = spans[ci]!;
      if (sameClock(child, parent)) {
        delta[ci] = delta[pi]!;
      } else {
        const start = child.startTimeUnixNano;
        const end = child.endTimeUnixNano;
        if (start < pStart || end > pEnd) {
          const dur = end - start;
          const pDur = pEnd - pStart;
          const newStart = dur <= pDur ? pStart + (pDur - dur) / 2n : pStart;
          delta[ci] = newStart - start;
        }
      }
      stack.push(ci);
    }
  }
  return spans.map((s, i) => {
    const d = delta[i]!;
    if (d === 0n) return s;
    stats.clockSkew++;
    return shifted(s, d, { [ATTR_CLOCK_SKEW]: Number(d) });
  });
}
