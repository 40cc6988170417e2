/**
 * Jaeger's query API over the embedded store (so Jaeger UI and Grafana's Jaeger data source can
 * point at span-relay), and span-relay's own trace page at `/`.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseDuration } from '../../config/schema-helpers.js';
import type { Span } from '../../model/span.js';
import { encodeJaegerJsonTrace, type JaegerJsonOutTrace } from '../../formats/jaeger-json.js';
import { sendJson, sendText } from '../../net/http-server.js';
import { TRACE_PAGE_DIR } from '../../paths.js';
import type { TraceStore, TraceSummary } from './store.js';
import { withAttributes } from '../../model/lazy-span.js';
import { serveApiV3 } from './api-v3.js';
import { buildServiceMap } from './service-map.js';
import { buildRoutes } from './routes.js';

const STATIC: Record<string, { file: string; type: string }> = {
  '/static/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/static/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

/** Jaeger's envelope: every answer of its query API looks like this. */
const envelope = (data: unknown) => ({ data, total: Array.isArray(data) ? data.length : 0, limit: 0, offset: 0, errors: null });
const notFound = (msg: string) => ({ data: null, total: 0, limit: 0, offset: 0, errors: [{ code: 404, msg }] });
const badRequest = (msg: string) => ({ data: null, total: 0, limit: 0, offset: 0, errors: [{ code: 400, msg }] });

/** A trace in Jaeger's JSON, with span-relay's verdict beside it (`spanRelay`) and, when broken, in Jaeger's own `warnings`. */
export function traceJson(summary: TraceSummary, spans: Span[]): JaegerJsonOutTrace & { spanRelay: TraceSummary } {
  // Where each span came from (the hop's wire format), for the page and for anyone reading the JSON.
  const withSource = spans.map((s) => withAttributes(s, { 'span_relay.source': s.source }));
  const warnings = summary.orphans.length ? summary.orphans.map((o) => `span-relay: span ${o.spanId} (${o.service}) names parent ${o.missingParentId}, which no service reported`) : null;
  return { ...encodeJaegerJsonTrace(withSource, warnings), spanRelay: summary };
}

function durationUs(v: string | null, name: string): number | undefined {
  if (!v) return undefined;
  const ms = parseDuration(/^\d+$/.test(v) ? `${v}us` : v);
  if (ms === undefined) throw new RangeError(`${name}: expected a duration such as 100ms or 1.2s`);
  return Math.round(ms * 1000);
}

/** Traces read for a map or routes answer at most: the newest of the window. */
const MAX_WINDOW_TRACES = 5000;

/** The window of `lookback` (a duration, or `all`) ending at `end` (µs, default now), or from `start` (µs). */
export function windowOf(p: URLSearchParams): { sinceUs: number; untilUs: number; limit: number } {
  const untilUs = p.get('end') ? Number(p.get('end')) : Date.now() * 1000;
  const lookback = p.get('lookback') ?? '1h';
  const sinceUs = p.get('start') ? Number(p.get('start')) : lookback === 'all' || lookback === '0' ? 0 : untilUs - durationUs(lookback, 'lookback')!;
  if (!Number.isFinite(sinceUs) || !Number.isFinite(untilUs)) throw new RangeError('start, end: expected microseconds since the epoch');
  const limit = Math.min(Math.max(Number(p.get('limit') ?? MAX_WINDOW_TRACES) || MAX_WINDOW_TRACES, 1), 50_000);
  return { sinceUs, untilUs, limit };
}

export function queryHandler(store: TraceStore, authorize?: (authorization: string | undefined) => boolean): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const files = new Map<string, Buffer>();
  const file = (name: string): Buffer => {
    let b = files.get(name);
    if (!b) files.set(name, (b = readFileSync(new URL(name, TRACE_PAGE_DIR))));
    return b;
  };
  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    if (authorize && !authorize(req.headers.authorization)) {
      const body = path.startsWith('/api/v3/') ? { error: { httpCode: 401, message: 'missing or wrong authorization (bearer token)' } } : { ...badRequest('missing or wrong authorization (bearer token)'), errors: [{ code: 401, msg: 'missing or wrong authorization (bearer token)' }] };
      sendJson(res, 401, body, { 'www-authenticate': 'Bearer' });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(res, 405, badRequest('use GET'), { allow: 'GET' });
      return;
    }
    const asset = STATIC[path];
    if (asset) {
      sendText(res, 200, file(asset.file).toString('utf8'), asset.type);
      return;
    }
    if (path === '/' || path === '/search' || path === '/map' || path === '/routes' || path.startsWith('/trace/')) {
      sendText(res, 200, file('index.html').toString('utf8'), 'text/html; charset=utf-8');
      return;
    }
    if (serveApiV3(store, path, url.searchParams, res)) return;
    try {
      if (path === '/api/services') return sendJson(res, 200, envelope(store.services()));
      let m = /^\/api\/services\/([^/]+)\/operations$/.exec(path);
      if (m) return sendJson(res, 200, envelope(store.operations(decodeURIComponent(m[1]!)).map((o) => o.name).filter((n, i, a) => a.indexOf(n) === i)));
      if (path === '/api/operations') {
        const service = url.searchParams.get('service');
        if (!service) return sendJson(res, 400, badRequest('service is required'));
        return sendJson(res, 200, envelope(store.operations(service, url.searchParams.get('spanKind') || undefined)));
      }
      m = /^\/api\/traces\/([0-9a-fA-F]{1,32})$/.exec(path);
      if (m) {
        const found = store.trace(m[1]!);
        if (!found) return sendJson(res, 404, notFound(`trace ${m[1]} not found`));
        return sendJson(res, 200, envelope([traceJson(found.summary, found.spans)]));
      }
      if (path === '/api/traces') {
        const p = url.searchParams;
        let tags: Record<string, string> | undefined;
        if (p.get('tags')) {
          const parsed = JSON.parse(p.get('tags')!) as Record<string, unknown>;
          tags = Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)]));
        }
        const now = Date.now() * 1000;
        const lookback = durationUs(p.get('lookback'), 'lookback');
        const end = p.get('end') ? Number(p.get('end')) : now;
        const summaries = store.search({
          service: p.get('service') || undefined,
          operation: p.get('operation') || undefined,
          tags,
          startUs: p.get('start') ? Number(p.get('start')) : lookback !== undefined ? end - lookback : undefined,
          endUs: end,
          minDurationUs: durationUs(p.get('minDuration'), 'minDuration'),
          maxDurationUs: durationUs(p.get('maxDuration'), 'maxDuration'),
          limit: Math.min(Math.max(Number(p.get('limit') ?? 20) || 20, 1), 1500),
        });
        const traces = summaries.map((s) => traceJson(s, store.trace(s.traceKey)?.spans ?? []));
        return sendJson(res, 200, envelope(traces));
      }
      if (path === '/api/map') {
        const w = windowOf(url.searchParams);
        const { traces, truncated } = store.tracesBetween(w.sinceUs, w.untilUs, w.limit);
        return sendJson(res, 200, buildServiceMap(traces, { proxies: url.searchParams.get('proxies') === 'show' ? 'show' : 'fold', truncated }));
      }
      if (path === '/api/routes') {
        const w = windowOf(url.searchParams);
        const { traces, truncated } = store.tracesBetween(w.sinceUs, w.untilUs, w.limit);
        return sendJson(res, 200, { routes: buildRoutes(traces, url.searchParams.get('service') || undefined), traces: traces.length, truncated });
      }
      if (path === '/api/dependencies') {
        const endTs = Number(url.searchParams.get('endTs') ?? Date.now());
        const lookback = Number(url.searchParams.get('lookback') ?? 86_400_000);
        return sendJson(res, 200, envelope(store.dependencies((endTs - lookback) * 1000, endTs * 1000)));
      }
    } catch (err) {
      if (err instanceof SyntaxError || err instanceof RangeError) return sendJson(res, 400, badRequest(err.message));
      throw err;
    }
    sendJson(res, 404, notFound(`no such endpoint ${path}`));
  };
}
