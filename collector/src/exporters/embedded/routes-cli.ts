/**
 * `span-relay routes FILE...|--store PATH`: the routes table of GET /api/routes, from trace files
 * (OTLP JSON lines as the file exporter writes them, anything `check` reads) or from a store file.
 */
import { existsSync } from 'node:fs';
import type { Span } from '../../model/span.js';
import { UsageError } from '../../model/errors.js';
import { readTraceFile } from '../../formats/read.js';
import { splitSharedSpans, unifyTraceIds, type IdentityStats } from '../../trace/identity.js';
import { buildRoutes, type RouteRow } from './routes.js';
import { TraceStore } from './store.js';
import { groupByTrace } from '../../trace/key.js';
import { windowOf } from './query.js';

export interface RoutesOptions {
  files: string[];
  store?: string;
  service?: string;
  lookback?: string;
}

export interface RoutesAnswer {
  routes: RouteRow[];
  traces: number;
  truncated: boolean;
}

/** Spans from files grouped into traces as the join would (64/128-bit IDs unified, shared spans split). */
export function tracesOf(spans: Span[]): Span[][] {
  const traces: Span[][] = [];
  const stats: IdentityStats = { traceIdWidth: 0, sharedSplit: 0 };
  for (const group of groupByTrace(spans).values()) for (const unified of unifyTraceIds(group, undefined, stats)) traces.push(splitSharedSpans(unified, undefined, stats).spans);
  return traces;
}

export async function routesFrom(o: RoutesOptions): Promise<RoutesAnswer> {
  if (o.store !== undefined && o.files.length > 0) throw new UsageError('give trace FILEs or --store PATH, not both');
  if (o.store === undefined && o.files.length === 0) throw new UsageError('needs trace FILEs (- for standard input) or --store PATH');
  if (o.store !== undefined) {
    // Opening a missing path would create an empty store: say so instead.
    if (!existsSync(o.store)) throw Object.assign(new Error(`no store at ${o.store}`), { code: 'ENOENT' });
    let w: ReturnType<typeof windowOf>;
    try {
      w = windowOf(new URLSearchParams({ lookback: o.lookback ?? 'all' }));
    } catch (err) {
      throw new UsageError(`--${(err as Error).message}`);
    }
    const store = new TraceStore(o.store);
    try {
      const { traces, truncated } = store.tracesBetween(w.sinceUs, w.untilUs, w.limit);
      return { routes: buildRoutes(traces, o.service), traces: traces.length, truncated };
    } finally {
      store.close();
    }
  }
  if (o.lookback !== undefined) throw new UsageError('--lookback applies to --store; a file is read whole');
  const spans: Span[] = [];
  for (const path of o.files) for (const s of (await readTraceFile(path)).spans) spans.push(s);
  const traces = tracesOf(spans);
  return { routes: buildRoutes(traces, o.service), traces: traces.length, truncated: false };
}

const ms = (v: number) => `${v}ms`;

/** The table `linkerd viz routes -o wide` would print, REQUESTS being its effective and ATTEMPTS its actual count. */
export function formatRoutes(a: RoutesAnswer): string {
  const head = ['SERVICE', 'ROUTE', 'REQUESTS', 'ATTEMPTS', 'SUCCESS', 'LATENCY_P50', 'LATENCY_P95', 'LATENCY_P99', 'TIMEOUTS', 'CALLERS'];
  const rows = a.routes.map((r) => [r.service, r.route, String(r.requests), String(r.attempts), `${(r.success_rate * 100).toFixed(2)}%`, ms(r.p50_ms), ms(r.p95_ms), ms(r.p99_ms), String(r.timeouts), r.callers.join(',')]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  const out = a.routes.length ? [line(head), ...rows.map(line)] : ['no routes: no client spans in these traces'];
  out.push('', `${a.traces} trace(s)${a.truncated ? ', only the newest read (the window holds more)' : ''}`);
  return out.join('\n');
}
