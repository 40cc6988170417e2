/**
 * Continuity of one trace: is it one tree with one root, and if not, exactly where does it break.
 * Pure functions over model spans, below the stages: the join processor, `span-relay check`, the
 * embedded store and its service map all use them.
 */
import { serviceNameOf, type Span } from '../model/span.js';

export interface Orphan {
  span: Span;
  service: string;
  missingParentId: string;
  /** Who most likely should have reported the missing parent. */
  suspect: string;
}

export interface TraceReport {
  traceId: string;
  spans: Span[];
  roots: Span[];
  orphans: Orphan[];
  /** Services in the order the tree visits them, each once. */
  services: string[];
  complete: boolean;
  children: Map<string, Span[]>;
}

export const UNKNOWN_SERVICE = 'unknown_service';

export function serviceOf(span: Span): string {
  return serviceNameOf(span) ?? UNKNOWN_SERVICE;
}

/** The host a span ran on, as its resource names it (`host.name`, else `k8s.pod.name`). */
export function hostOf(span: Span): string | undefined {
  const a = span.resource.attributes;
  const host = a['host.name'] ?? a['k8s.pod.name'];
  return typeof host === 'string' ? host : undefined;
}

/** Where a span runs: service plus host, because every linkerd-proxy calls itself `linkerd-proxy`. */
export function processOf(span: Span): string {
  const host = hostOf(span);
  return host !== undefined ? `${serviceOf(span)}@${host}` : serviceOf(span);
}

function peerHint(span: Span): string | undefined {
  const a = span.attributes;
  for (const key of ['peer.service', 'net.peer.name', 'client.address', 'net.peer.ip', 'net.sock.peer.addr']) {
    const v = a[key];
    if (typeof v === 'string' && v) return `${key}=${v}`;
  }
  return undefined;
}

function suspectFor(span: Span): string {
  const service = serviceOf(span);
  if (span.kind === 'server' || span.kind === 'consumer') {
    const hint = peerHint(span);
    if (service === 'linkerd-proxy') return `the caller of this proxy's inbound hop (its outbound linkerd-proxy or the calling app${hint ? `, ${hint}` : ''})`;
    return `the caller of ${service} (its outbound linkerd-proxy or the calling app${hint ? `, ${hint}` : ''})`;
  }
  return `${service} itself (a span of the same process: a local parent that was not exported)`;
}

/** Span IDs reported earlier for a trace (spans the join already released). */
export interface KnownSpanIds {
  has(spanId: string): boolean;
  readonly size: number;
}

/** Where a trace breaks: its roots (by start time) and orphans, without the tree `analyzeTrace` adds. */
export interface TraceBreaks {
  traceId: string;
  roots: Span[];
  orphans: Orphan[];
  complete: boolean;
}

/** No span reported earlier. */
const NONE_KNOWN: KnownSpanIds = Object.freeze({ has: () => false, size: 0 });

/**
 * Up to this many spans, a trace's spans are found by ID with a scan instead of a Map made for it:
 * the join asks of every trace it releases, and most traces are short.
 */
export const SCAN_AT_MOST = 32;

/** Span ID → index, the last span of an ID winning; undefined for a trace short enough to scan. */
export function indexById(spans: readonly Span[]): Map<string, number> | undefined {
  if (spans.length <= SCAN_AT_MOST) return undefined;
  const byId = new Map<string, number>();
  for (let i = 0; i < spans.length; i++) byId.set(spans[i]!.spanId, i);
  return byId;
}

/** The index of the last span with ID `id` (through `byId`, made by indexById for these spans), or -1. */
export function spanIndex(spans: readonly Span[], byId: Map<string, number> | undefined, id: string): number {
  if (byId) return byId.get(id) ?? -1;
  for (let i = spans.length - 1; i >= 0; i--) if (spans[i]!.spanId === id) return i;
  return -1;
}

/**
 * What the join asks of every trace it releases: its roots and orphans. `known` holds span IDs
 * reported earlier for this trace (spans already released by the join).
 */
export function findBreaks(spans: Span[], known: KnownSpanIds = NONE_KNOWN): TraceBreaks {
  const byId = indexById(spans);
  const roots: Span[] = [];
  const orphans: Orphan[] = [];
  for (const s of spans) {
    const parent = s.parentSpanId;
    if (!parent || parent === s.spanId) roots.push(s);
    else if (spanIndex(spans, byId, parent) < 0 && !known.has(parent)) orphans.push({ span: s, service: serviceOf(s), missingParentId: parent, suspect: suspectFor(s) });
  }
  if (roots.length > 1) roots.sort((a, b) => (a.startTimeUnixNano < b.startTimeUnixNano ? -1 : 1));
  // A continuation of a trace already sent on (late spans) has its root in what was sent before.
  const rootsOk = known.size > 0 ? roots.length <= 1 : roots.length === 1;
  return { traceId: spans[0]?.traceId ?? '', roots, orphans, complete: orphans.length === 0 && rootsOk };
}

/** `known` holds span IDs reported earlier for this trace (spans already released by the join). */
export function analyzeTrace(spans: Span[], known: KnownSpanIds = NONE_KNOWN): TraceReport {
  const breaks = findBreaks(spans, known);
  const children = new Map<string, Span[]>();
  for (const s of spans) {
    if (!s.parentSpanId || s.parentSpanId === s.spanId) continue;
    const list = children.get(s.parentSpanId);
    if (list) list.push(s);
    else children.set(s.parentSpanId, [s]);
  }
  for (const list of children.values()) list.sort((a, b) => (a.startTimeUnixNano < b.startTimeUnixNano ? -1 : a.startTimeUnixNano > b.startTimeUnixNano ? 1 : 0));

  const services: string[] = [];
  const seen = new Set<string>();
  // Depth-first, in order, with an explicit stack: a trace may be one very long chain.
  const visited = new Set<Span>();
  const visit = (start: Span): void => {
    const stack = [start];
    while (stack.length > 0) {
      const s = stack.pop()!;
      if (visited.has(s)) continue;
      visited.add(s);
      const svc = serviceOf(s);
      if (!seen.has(svc)) {
        seen.add(svc);
        services.push(svc);
      }
      const kids = children.get(s.spanId);
      if (kids) for (let i = kids.length - 1; i >= 0; i--) stack.push(kids[i]!);
    }
  };
  for (const r of breaks.roots) visit(r);
  for (const o of breaks.orphans) visit(o.span);
  return { ...breaks, spans, services, children };
}

/** One line a user can act on, per orphan. */
export function describeOrphan(traceId: string, o: Orphan): string {
  return `trace ${traceId}: span ${o.span.spanId} "${o.span.name}" from service ${o.service} names parent ${o.missingParentId}, which no service reported: is ${o.suspect} sampled, instrumented and sending to span-relay?`;
}

const fmtMs = (ns: bigint): string => `${(Number(ns) / 1e6).toFixed(3)}ms`;

/** The tree as text, one span a line, indented by depth. */
export function formatTree(report: TraceReport): string[] {
  const lines: string[] = [];
  const t0 = report.spans.reduce((m, s) => (s.startTimeUnixNano < m ? s.startTimeUnixNano : m), report.spans[0]?.startTimeUnixNano ?? 0n);
  const printed = new Set<Span>();
  const line = (start: Span, startDepth: number, note = ''): void => {
    const stack: [Span, number, string][] = [[start, startDepth, note]];
    while (stack.length > 0) {
      const [s, depth, n] = stack.pop()!;
      if (printed.has(s)) continue;
      printed.add(s);
      lines.push(
        `${'  '.repeat(Math.min(depth, 200))}${serviceOf(s)} ${s.kind !== 'unspecified' ? `[${s.kind}] ` : ''}${s.name} (${s.spanId}) +${fmtMs(s.startTimeUnixNano - t0)} ${fmtMs(s.endTimeUnixNano - s.startTimeUnixNano)}${s.status.code === 'error' ? ' ERROR' : ''}${n}`,
      );
      const kids = report.children.get(s.spanId) ?? [];
      for (let i = kids.length - 1; i >= 0; i--) stack.push([kids[i]!, depth + 1, '']);
    }
  };
  for (const r of report.roots) line(r, 0);
  for (const o of report.orphans) line(o.span, 0, `  <- ORPHAN: parent ${o.missingParentId} missing`);
  for (const s of report.spans) line(s, 0, '  <- (cycle)');
  return lines;
}
