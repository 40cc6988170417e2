/**
 * What the join does to one trace's spans once they are all in: one trace ID width, unique span
 * IDs where Zipkin shared them, clock skew between hosts removed. Pure functions: spans in, new
 * spans out (inputs are not mutated).
 */
import { createHash } from 'node:crypto';
import type { Span } from '../../model/span.js';
import { SCAN_AT_MOST, hostOf, indexById, processOf, serviceOf, spanIndex } from '../../continuity/analyze.js';
import { serviceNameOf } from '../../model/span.js';
import { CLIENT, LONE_SERVER, SpanIds } from './span-ids.js';
import { shifted, withAttributes, withChanges } from '../../model/lazy-span.js';
import { isFull128, traceKey } from '../../trace/key.js';

export const ATTR_ORIGINAL_TRACE_ID = 'span_relay.original_trace_id';
export const ATTR_ORIGINAL_SPAN_ID = 'span_relay.original_span_id';
export const ATTR_CLOCK_SKEW = 'span_relay.clock_skew_adjustment_ns';
export const ATTR_INCOMPLETE = 'span_relay.join.incomplete';

// The trace key rules live in trace/ (below processors and exporters); re-exported for the join's modules.
export { isFull128, traceKey } from '../../trace/key.js';

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
export class TraceMemory extends SpanIds {
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
}

/** The memory of a trace released now: `seen`, the window's rows for it, as it is. */
export function emptyMemory(traceId: string, now: number, seen = new TraceMemory()): TraceMemory {
  seen.traceId = traceId;
  seen.releasedAt = now;
  return seen;
}

export interface SharedSplit {
  serverSpanId: string;
  /** The server half's process: only its own children move under it. */
  serverService: string | undefined;
  serverHost: string | undefined;
}

export interface NormalizeStats {
  traceIdWidth: number;
  sharedSplit: number;
  clockSkew: number;
}

function stableId(traceKeyHex: string, spanId: string, half: string): string {
  const id = createHash('sha256').update(`${traceKeyHex}:${spanId}:${half}`).digest('hex').slice(0, 16);
  return /^0+$/.test(id) ? '0000000000000001' : id;
}

/** A stable new span ID for the server half of a shared span (stable so retries and late spans agree). */
export function serverHalfId(traceKeyHex: string, spanId: string): string {
  return stableId(traceKeyHex, spanId, 'server');
}

/** A stable new span ID for a client half that arrived after its lone server half went out. */
export function lateClientHalfId(traceKeyHex: string, spanId: string): string {
  return stableId(traceKeyHex, spanId, 'client');
}

/**
 * Groups spans by full trace ID. Normally there is one group: every 64-bit span takes the one
 * 128-bit ID seen. Two different 128-bit IDs with the same low half are two requests, never merged;
 * then 64-bit spans cannot be placed and keep their own ID.
 */
export function unifyTraceIds(spans: Span[], memory: TraceMemory | undefined, stats: NormalizeStats): Span[][] {
  // The one 128-bit ID seen, unless there are several.
  let full = memory && isFull128(memory.traceId) ? memory.traceId : undefined;
  let several = false;
  for (const s of spans) {
    if (s.traceId === full || !isFull128(s.traceId)) continue;
    several = full !== undefined;
    full = s.traceId;
    if (several) break;
  }
  if (several) {
    const groups = new Map<string, Span[]>();
    for (const s of spans) {
      const k = isFull128(s.traceId) ? s.traceId : traceKey(s.traceId);
      const g = groups.get(k);
      if (g) g.push(s);
      else groups.set(k, [s]);
    }
    return [...groups.values()];
  }
  const target = full ?? traceKey(spans[0]!.traceId);
  return [
    spans.map((s) => {
      if (s.traceId === target) return s;
      if (full === undefined && s.traceId.length === 32) {
        // A left-padded 64-bit ID: the same trace as the bare one; keep one spelling.
        return withChanges(s, { traceId: target });
      }
      stats.traceIdWidth++;
      return withAttributes(s, { [ATTR_ORIGINAL_TRACE_ID]: s.traceId }, { traceId: target });
    }),
  ];
}

const NO_SPLITS: ReadonlyMap<string, SharedSplit> = new Map();

/** Whether a server span has the ID of a client span beside it (Zipkin's shared span, both halves). */
function sharesClientId(spans: readonly Span[]): boolean {
  for (const s of spans) {
    if (s.kind !== 'server') continue;
    for (const c of spans) if (c.kind === 'client' && c.spanId === s.spanId) return true;
  }
  return false;
}

/** Did `span` run in the server half's process: same service, and same host where both name one. */
function ranInServer(span: Span, split: SharedSplit): boolean {
  const service = serviceNameOf(span);
  if (service === undefined || service !== split.serverService) return false;
  const host = hostOf(span);
  return host === undefined || split.serverHost === undefined || host === split.serverHost;
}

/**
 * Zipkin lets a server join its client's span (same span ID, `shared`). Backends that want unique
 * IDs get a tree instead: when the client half is in the trace (now, or sent earlier), the server
 * half takes a new ID with the client half as parent, and the children of the shared ID that ran
 * in the server's own process are re-pointed to it. A lone shared span (its caller not traced, or
 * a tracer that marks every root `shared`) keeps its ID: splitting it would make it an orphan. If
 * its client half turns up after it went out, that client half takes a new ID instead, beside it
 * under the same parent, so the trace stays one tree.
 */
export function splitSharedSpans(spans: Span[], memory: TraceMemory | undefined, stats: NormalizeStats): { spans: Span[]; splits: ReadonlyMap<string, SharedSplit> } {
  // Most traces: nothing sent before, and no server span with its client's ID.
  if (!memory && spans.length <= SCAN_AT_MOST && !sharesClientId(spans)) return { spans, splits: NO_SPLITS };
  const clientIds = new Set<string>();
  const serverIds = new Set<string>();
  for (const s of spans) {
    if (s.kind === 'client') clientIds.add(s.spanId);
    else if (s.kind === 'server') serverIds.add(s.spanId);
  }
  const key = traceKey(spans[0]!.traceId);
  const splits = new Map<string, SharedSplit>(memory?.shared ?? []);
  let changed = false;
  const out = spans.map((s) => {
    if (s.kind === 'client' && memory?.has(s.spanId, LONE_SERVER) && !serverIds.has(s.spanId)) {
      changed = true;
      stats.sharedSplit++;
      return withAttributes(s, { [ATTR_ORIGINAL_SPAN_ID]: s.spanId }, { spanId: lateClientHalfId(key, s.spanId) });
    }
    if (s.kind !== 'server') return s;
    if (!clientIds.has(s.spanId) && !memory?.has(s.spanId, CLIENT)) return s;
    const newId = serverHalfId(key, s.spanId);
    splits.set(s.spanId, { serverSpanId: newId, serverService: serviceNameOf(s), serverHost: hostOf(s) });
    stats.sharedSplit++;
    changed = true;
    return withAttributes(s, { [ATTR_ORIGINAL_SPAN_ID]: s.spanId }, { spanId: newId, parentSpanId: s.spanId, shared: undefined });
  });
  if (!changed && splits.size === 0) return { spans: out, splits };
  return {
    splits,
    spans: out.map((s) => {
      const split = s.parentSpanId ? splits.get(s.parentSpanId) : undefined;
      if (!split || s.spanId === split.serverSpanId || !ranInServer(s, split)) return s;
      return withChanges(s, { parentSpanId: split.serverSpanId });
    }),
  };
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
