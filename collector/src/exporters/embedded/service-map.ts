/**
 * The service map (#32): services as nodes, calls from a parent span to a child span in another
 * service as edges, and each broken trace placed where it breaks — the service whose span names a
 * parent that never arrived — with the caller that most likely dropped it. Pure: traces in, map out.
 */
import { findBreaks, hostOf, serviceOf } from '../../trace/continuity.js';
import type { Span } from '../../model/span.js';

export interface MapNode {
  service: string;
  spans: number;
  errors: number;
  broken_traces: number;
  /** Who most likely should have reported the missing parents, by how often (from the data: peer attributes, the proxy's inbound hop). */
  missing_callers: { caller: string; traces: number }[];
  /** The broken traces placed here, newest first (at most BROKEN_LISTED). */
  broken: { trace_id: string; span_id: string; span_name: string; missing_parent_id: string; likely_caller: string }[];
  /** linkerd-proxy spans folded into this workload. */
  proxy_spans: number;
}

export interface MapEdge {
  parent: string;
  child: string;
  calls: number;
  errors: number;
  error_rate: number;
  p50_ms: number;
  p99_ms: number;
}

export interface ServiceMap {
  nodes: MapNode[];
  edges: MapEdge[];
  traces: number;
  /** True when the window held more traces than were read (the newest were). */
  truncated: boolean;
  proxies: 'fold' | 'show';
}

export const PROXY_SERVICE = 'linkerd-proxy';
const BROKEN_LISTED = 50;

/** The value at quantile q (0..1) of ascending `sorted`, nearest rank; 0 when empty. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export const round3 = (x: number): number => Math.round(x * 1000) / 1000;
export const durationMs = (s: Span): number => Number(s.endTimeUnixNano - s.startTimeUnixNano) / 1e6;

/** A caller named by the span itself: `peer.service`, else the address it was called from. */
function namedCaller(s: Span): string | undefined {
  for (const key of ['peer.service', 'net.peer.name', 'client.address', 'net.peer.ip', 'net.sock.peer.addr']) {
    const v = s.attributes[key];
    if (typeof v === 'string' && v) return key === 'peer.service' ? v : `${key}=${v}`;
  }
  return undefined;
}

/**
 * The caller that most likely dropped an orphan's parent. A Zipkin server span that shares its
 * client's span ID is missing that client half, which its caller's tracer should have reported; a
 * server span names its caller when its attributes do; a linkerd-proxy's inbound hop was called by
 * the outbound proxy of another workload; a client or internal span's parent ran in its own process.
 */
export function likelyCaller(s: Span, node: string): string {
  const named = namedCaller(s);
  if (s.shared) return `the client half of Zipkin shared span ${s.spanId}${named ? ` (${named})` : ''}, which the caller's tracer did not report`;
  if (s.kind === 'server' || s.kind === 'consumer') {
    if (serviceOf(s) === PROXY_SERVICE) return named ? `${named} (through its outbound linkerd-proxy)` : `the outbound linkerd-proxy of the workload calling ${node}`;
    return named ?? `the caller of ${node} (its outbound linkerd-proxy or the calling app)`;
  }
  return `${node} itself (a local parent span that was not exported)`;
}

export interface MapOptions {
  /** 'fold' (default): a linkerd-proxy span counts for the workload on its host; 'show': a node per proxy host. */
  proxies?: 'fold' | 'show';
}

/**
 * The map node a span counts for: its service, except that a linkerd-proxy span counts for the
 * workload on its host (host.name, else k8s.pod.name) when `proxies` is 'fold', and for a node of
 * its own per host when it is 'show'.
 */
export function nodeResolver(traces: readonly Span[][], proxies: 'fold' | 'show'): (s: Span) => string {
  const workloadOnHost = new Map<string, string>();
  for (const spans of traces) {
    for (const s of spans) {
      const host = hostOf(s);
      const svc = serviceOf(s);
      if (host !== undefined && svc !== PROXY_SERVICE && !workloadOnHost.has(host)) workloadOnHost.set(host, svc);
    }
  }
  return (s) => {
    const svc = serviceOf(s);
    if (svc !== PROXY_SERVICE) return svc;
    const host = hostOf(s);
    if (proxies === 'show') return host !== undefined ? `${PROXY_SERVICE}@${host}` : PROXY_SERVICE;
    return (host !== undefined ? workloadOnHost.get(host) : undefined) ?? PROXY_SERVICE;
  };
}

/** Builds the map from whole traces (newest first, for the broken-trace lists). */
export function buildServiceMap(traces: readonly Span[][], options: MapOptions & { truncated?: boolean } = {}): ServiceMap {
  const proxies = options.proxies ?? 'fold';
  const nodeOf = nodeResolver(traces, proxies);

  const nodes = new Map<string, MapNode & { callers: Map<string, number> }>();
  const node = (name: string) => {
    let n = nodes.get(name);
    if (!n) nodes.set(name, (n = { service: name, spans: 0, errors: 0, broken_traces: 0, missing_callers: [], broken: [], proxy_spans: 0, callers: new Map() }));
    return n;
  };
  const edges = new Map<string, { parent: string; child: string; calls: number; errors: number; durations: number[] }>();

  for (const spans of traces) {
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    for (const s of spans) {
      const name = nodeOf(s);
      const n = node(name);
      n.spans++;
      if (s.status.code === 'error') n.errors++;
      if (serviceOf(s) === PROXY_SERVICE && name !== PROXY_SERVICE && proxies === 'fold') n.proxy_spans++;
      const parent = s.parentSpanId ? byId.get(s.parentSpanId) : undefined;
      if (!parent) continue;
      const from = nodeOf(parent);
      if (from === name) continue;
      const key = `${from}\u0000${name}`;
      let e = edges.get(key);
      if (!e) edges.set(key, (e = { parent: from, child: name, calls: 0, errors: 0, durations: [] }));
      e.calls++;
      if (s.status.code === 'error') e.errors++;
      e.durations.push(durationMs(s));
    }
    // Each broken trace counts once per service where it breaks.
    const placed = new Set<string>();
    for (const o of findBreaks(spans).orphans) {
      const name = nodeOf(o.span);
      const n = node(name);
      const caller = likelyCaller(o.span, name);
      if (!placed.has(name)) {
        placed.add(name);
        n.broken_traces++;
        n.callers.set(caller, (n.callers.get(caller) ?? 0) + 1);
      }
      if (n.broken.length < BROKEN_LISTED) n.broken.push({ trace_id: o.span.traceId, span_id: o.span.spanId, span_name: o.span.name, missing_parent_id: o.missingParentId, likely_caller: caller });
    }
  }

  return {
    nodes: [...nodes.values()]
      .map(({ callers, ...n }) => ({ ...n, missing_callers: [...callers].sort((a, b) => b[1] - a[1]).map(([caller, count]) => ({ caller, traces: count })) }))
      .sort((a, b) => a.service.localeCompare(b.service)),
    edges: [...edges.values()]
      .map(({ durations, ...e }) => {
        durations.sort((a, b) => a - b);
        return { ...e, error_rate: round3(e.calls ? e.errors / e.calls : 0), p50_ms: round3(quantile(durations, 0.5)), p99_ms: round3(quantile(durations, 0.99)) };
      })
      .sort((a, b) => b.calls - a.calls || a.parent.localeCompare(b.parent) || a.child.localeCompare(b.child)),
    traces: traces.length,
    truncated: options.truncated ?? false,
    proxies,
  };
}
