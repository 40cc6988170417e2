/**
 * The trace-identity rules for one request's spans once they are together, below the stages that
 * use them (the join, `check`, the `routes` command): one trace ID width (a 64-bit Zipkin span
 * takes the request's 128-bit ID) and Zipkin's shared spans split into a client and a server span.
 * Pure functions: spans in, new spans out (inputs are not mutated). What was sent on earlier for the
 * same trace, if anything, comes in as a `SentBefore` (the join's memory of a released trace).
 */
import { createHash } from 'node:crypto';
import { serviceNameOf, type Span } from '../model/span.js';
import { withAttributes, withChanges } from '../model/lazy-span.js';
import { SCAN_AT_MOST, hostOf } from './continuity.js';
import { isFull128, traceKey } from './key.js';

export const ATTR_ORIGINAL_TRACE_ID = 'span_relay.original_trace_id';
export const ATTR_ORIGINAL_SPAN_ID = 'span_relay.original_span_id';

/** What was already sent on for a trace, as far as these rules need to know. */
export interface SentBefore {
  /** The trace ID its spans went out with. */
  readonly traceId: string;
  /** Shared span ID → what its server half became, for the splits made earlier. */
  readonly shared: ReadonlyMap<string, SharedSplit> | undefined;
  /** A client span with this ID went out. */
  sentClient(spanId: string): boolean;
  /** A lone server span went out with this (shared) ID: its client half had not come. */
  sentLoneServer(spanId: string): boolean;
}

/** What the rules changed, counted into the caller's totals. */
export interface IdentityStats {
  traceIdWidth: number;
  sharedSplit: number;
}

export interface SharedSplit {
  serverSpanId: string;
  /** The server half's process: only its own children move under it. */
  serverService: string | undefined;
  serverHost: string | undefined;
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
 * 128-bit ID seen, or, for a trace that went out before, every span takes the ID it went out with. Two different 128-bit IDs with the same low half are two requests, never merged;
 * then 64-bit spans cannot be placed and keep their own ID.
 */
export function unifyTraceIds(spans: Span[], memory: SentBefore | undefined, stats: IdentityStats): Span[][] {
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
  // A trace already sent on keeps the ID it went out with, even the 64-bit one: a late 128-bit
  // span (an OpenTelemetry app's batch, seconds after the ingress's Zipkin spans) takes it too,
  // or the backend would show the request as two traces.
  const target = memory && !isFull128(memory.traceId) ? memory.traceId : (full ?? traceKey(spans[0]!.traceId));
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
export function splitSharedSpans(spans: Span[], memory: SentBefore | undefined, stats: IdentityStats): { spans: Span[]; splits: ReadonlyMap<string, SharedSplit> } {
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
    if (s.kind === 'client' && memory?.sentLoneServer(s.spanId) && !serverIds.has(s.spanId)) {
      changed = true;
      stats.sharedSplit++;
      return withAttributes(s, { [ATTR_ORIGINAL_SPAN_ID]: s.spanId }, { spanId: lateClientHalfId(key, s.spanId) });
    }
    if (s.kind !== 'server') return s;
    if (!clientIds.has(s.spanId) && !memory?.sentClient(s.spanId)) return s;
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
