/**
 * Routes (#32): per called service and route, requests against attempts — a logical request
 * retried three times is 1 request and 3 attempts, as `linkerd viz routes -o wide` shows effective
 * against actual — with success rate, latency and timeouts, measured where the caller sent it.
 * Pure: traces in, rows out.
 *
 * A request is the client span nearest the wire: a client span that is not an attempt and has no
 * client child of its own node (the app's client span above its proxy's is not counted again).
 * Its attempts are its children marked `linkerd.retry.attempt` (the demo's proxy), else its
 * siblings of the same route with OpenTelemetry's `http.request.resend_count` (the first has none).
 */
import type { Span } from '../../model/span.js';
import { durationMs, nodeResolver, quantile, round3 } from './service-map.js';

export interface RouteRow {
  service: string;
  route: string;
  requests: number;
  attempts: number;
  /** Requests whose outcome (the last attempt's) succeeded, over requests. */
  success_rate: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  /** Attempts that timed out: HTTP 504, gRPC DEADLINE_EXCEEDED, the proxy's timeout error. */
  timeouts: number;
  /** Who sent them. */
  callers: string[];
}

const ATTEMPT = 'linkerd.retry.attempt';
const RESEND = 'http.request.resend_count';

const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : typeof v === 'number' || typeof v === 'bigint' ? String(v) : undefined);

/** The route a client span asks for: HTTP route or method + path, the gRPC method, else its name. */
export function routeOf(s: Span): string {
  const a = s.attributes;
  const method = str(a['http.request.method']) ?? str(a['http.method']);
  const rpc = str(a['rpc.service']) && str(a['rpc.method']) ? `/${str(a['rpc.service'])}/${str(a['rpc.method'])}` : undefined;
  let path = str(a['http.route']) ?? rpc ?? str(a['url.path']) ?? str(a['http.target'])?.split('?')[0];
  const url = str(a['url.full']) ?? str(a['http.url']);
  if (!path && url) {
    try {
      path = new URL(url).pathname;
    } catch {
      path = undefined;
    }
  }
  if (path) return method ? `${method} ${path}` : path;
  return s.name;
}

function statusCode(s: Span): number | undefined {
  const v = Number(str(s.attributes['http.response.status_code']) ?? str(s.attributes['http.status_code']));
  return Number.isFinite(v) && v > 0 ? v : undefined;
}

export function isTimeout(s: Span): boolean {
  const grpc = str(s.attributes['rpc.grpc.status_code']);
  const message = `${s.status.message ?? ''} ${str(s.attributes['error.type']) ?? ''}`;
  return statusCode(s) === 504 || grpc === '4' || /DEADLINE_EXCEEDED|timed out|timeout/i.test(message);
}

function failed(s: Span): boolean {
  const code = statusCode(s);
  const grpc = str(s.attributes['rpc.grpc.status_code']);
  return s.status.code === 'error' || (code !== undefined && code >= 500) || (grpc !== undefined && grpc !== '0');
}

const isAttempt = (s: Span) => s.attributes[ATTEMPT] !== undefined || Number(s.attributes[RESEND] ?? 0) > 0;
const byStart = (a: Span, b: Span) => (a.startTimeUnixNano < b.startTimeUnixNano ? -1 : a.startTimeUnixNano > b.startTimeUnixNano ? 1 : 0);

/** One logical request as its caller saw it, before aggregation: what the rows and the metrics count. */
export interface RouteRequest {
  /** The called node (proxies folded into their workload). */
  service: string;
  route: string;
  caller: string;
  attempts: number;
  timeouts: number;
  /** The last attempt's outcome. */
  ok: boolean;
  /** From the first attempt to the last. */
  durationMs: number;
}

/** Every request in these traces (or those to one service). */
export function routeRequests(traces: readonly Span[][], service?: string): RouteRequest[] {
  const nodeOf = nodeResolver(traces, 'fold');
  const out: RouteRequest[] = [];
  for (const spans of traces) {
    const children = new Map<string, Span[]>();
    for (const s of spans) {
      if (!s.parentSpanId) continue;
      const list = children.get(s.parentSpanId);
      if (list) list.push(s);
      else children.set(s.parentSpanId, [s]);
    }
    const kids = (s: Span) => children.get(s.spanId) ?? [];
    /** The node of the first server span at or under these spans: whom the request reached. */
    const callee = (from: Span[]): string | undefined => {
      const queue = [...from];
      for (let i = 0; i < queue.length && i < 64; i++) {
        const s = queue[i]!;
        if (s.kind === 'server' || s.kind === 'consumer') return nodeOf(s);
        queue.push(...kids(s));
      }
      return undefined;
    };
    for (const s of spans) {
      if (s.kind !== 'client' || isAttempt(s)) continue;
      const caller = nodeOf(s);
      if (kids(s).some((c) => c.kind === 'client' && !isAttempt(c) && nodeOf(c) === caller)) continue;
      const route = routeOf(s);
      let attempts = kids(s).filter((c) => c.attributes[ATTEMPT] !== undefined);
      if (attempts.length === 0) {
        const resent = (s.parentSpanId ? (children.get(s.parentSpanId) ?? []) : []).filter((c) => c.kind === 'client' && Number(c.attributes[RESEND] ?? 0) > 0 && routeOf(c) === route);
        attempts = [s, ...resent];
      }
      attempts.sort(byStart);
      const target = callee(attempts.length > 1 || attempts[0] !== s ? attempts : kids(s)) ?? str(s.attributes['peer.service']) ?? str(s.attributes['server.address']) ?? 'unknown';
      if (service !== undefined && target !== service) continue;
      // The request as the caller saw it: from its first attempt to its last.
      const end = attempts.reduce((m, a) => (a.endTimeUnixNano > m ? a.endTimeUnixNano : m), s.endTimeUnixNano);
      const begin = attempts[0]!.startTimeUnixNano < s.startTimeUnixNano ? attempts[0]!.startTimeUnixNano : s.startTimeUnixNano;
      out.push({
        service: target,
        route,
        caller,
        attempts: attempts.length,
        timeouts: attempts.filter(isTimeout).length,
        ok: !failed(attempts.at(-1)!),
        durationMs: attempts[0] === s && attempts.length === 1 ? durationMs(s) : Number(end - begin) / 1e6,
      });
    }
  }
  return out;
}

/** Rows for every route (or one service's), busiest first. */
export function buildRoutes(traces: readonly Span[][], service?: string): RouteRow[] {
  const rows = new Map<string, { service: string; route: string; requests: number; attempts: number; ok: number; timeouts: number; durations: number[]; callers: Set<string> }>();
  for (const q of routeRequests(traces, service)) {
    const key = `${q.service}\u0000${q.route}`;
    let row = rows.get(key);
    if (!row) rows.set(key, (row = { service: q.service, route: q.route, requests: 0, attempts: 0, ok: 0, timeouts: 0, durations: [], callers: new Set() }));
    row.requests++;
    row.attempts += q.attempts;
    row.timeouts += q.timeouts;
    if (q.ok) row.ok++;
    row.durations.push(q.durationMs);
    row.callers.add(q.caller);
  }
  return [...rows.values()]
    .map(({ ok, durations, callers, ...r }) => {
      durations.sort((a, b) => a - b);
      return { ...r, success_rate: round3(r.requests ? ok / r.requests : 0), p50_ms: round3(quantile(durations, 0.5)), p95_ms: round3(quantile(durations, 0.95)), p99_ms: round3(quantile(durations, 0.99)), callers: [...callers].sort() };
    })
    .sort((a, b) => b.requests - a.requests || a.service.localeCompare(b.service) || a.route.localeCompare(b.route));
}
