/**
 * Jaeger v2's query API, api_v3 over HTTP (what its grpc-gateway serves), on the embedded store:
 * `/api/v3/services`, `/api/v3/operations`, `/api/v3/traces` (search), `/api/v3/traces/{id}`, in
 * OTLP JSON under `result`, errors as `{"error":{"httpCode","message"}}`. Checked field by field
 * against the real Jaeger v2 (test/jaeger-v2-api.test.ts); the differences are intended and listed there.
 */
import type { ServerResponse } from 'node:http';
import { parseDuration } from '../../config/schema-helpers.js';
import { withAttributes } from '../../model/lazy-span.js';
import type { Span } from '../../model/span.js';
import { modelToOtlpJson } from '../../protocol/otlp/encode.js';
import { sendJson } from '../../net/http-server.js';
import type { TraceStore, TraceSummary } from './store.js';

/** What Jaeger v2 answers a search with no `query.num_traces`: an error. span-relay takes this many instead. */
export const DEFAULT_SEARCH_DEPTH = 20;
const MAX_SEARCH_DEPTH = 1500;

/** A request api_v3 refuses, with the HTTP code Jaeger gives it. */
export class ApiV3Error extends Error {
  constructor(
    readonly httpCode: number,
    message: string,
  ) {
    super(message);
  }
}

const malformed = (param: string, why: string) => new ApiV3Error(400, `malformed parameter ${param}: ${why}`);

function sendError(res: ServerResponse, err: ApiV3Error): void {
  sendJson(res, err.httpCode, { error: { httpCode: err.httpCode, message: err.message } });
}

/** A trace ID as Jaeger parses one (1 to 32 hex digits), lowercase. */
export function parseTraceIdParam(v: string): string {
  if (v.length > 32) throw malformed('trace_id', `TraceID cannot be longer than 32 hex characters: ${v}`);
  if (!/^[0-9a-fA-F]+$/.test(v)) throw malformed('trace_id', `expected hex digits: ${JSON.stringify(v)}`);
  return v.toLowerCase();
}

/** RFC 3339 with up to nanoseconds, as Go's time.RFC3339Nano parses it; microseconds since the epoch. */
export function parseRfc3339Us(param: string, v: string): number {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(v);
  const ms = m ? Date.parse(`${m[1]}${m[3]}`) : NaN;
  if (!m || Number.isNaN(ms)) throw malformed(param, `expected an RFC 3339 time such as 2024-01-02T15:04:05.999999999Z, got ${JSON.stringify(v.slice(0, 64))}`);
  return ms * 1000 + Math.floor(Number((m[2] ?? '0').padEnd(9, '0')) / 1000);
}

function durationParamUs(q: URLSearchParams, param: string): number | undefined {
  const v = q.get(param);
  if (!v) return undefined;
  const ms = parseDuration(v);
  if (ms === undefined) throw malformed(param, `expected a duration such as 100ms or 1.5s, got ${JSON.stringify(v.slice(0, 64))}`);
  return Math.round(ms * 1000);
}

/** The search depth: Jaeger v2.12 reads `query.num_traces`; later Jaegers call it `query.search_depth`. */
function searchDepth(q: URLSearchParams): number {
  for (const param of ['query.search_depth', 'query.num_traces']) {
    const v = q.get(param);
    if (v === null || v === '') continue;
    if (!/^-?\d+$/.test(v)) throw malformed(param, `expected an integer, got ${JSON.stringify(v.slice(0, 64))}`);
    const n = Number(v);
    if (n <= 0) throw new ApiV3Error(500, 'search depth must be greater than 0 and less than max traces');
    return Math.min(n, MAX_SEARCH_DEPTH);
  }
  return DEFAULT_SEARCH_DEPTH;
}

type Json = Record<string, unknown>;
const ANY_VALUE = new Set(['stringValue', 'boolValue', 'intValue', 'doubleValue', 'bytesValue', 'arrayValue', 'kvlistValue']);
const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * OTLP JSON as Jaeger's gateway writes it (gogo jsonpb, defaults left out): no empty lists, no zero
 * numbers or empty strings, except an AnyValue's one field, which is always written; and attributes
 * sorted by key, events by name, as Jaeger's SortCollections adjuster leaves them.
 */
function asJsonpb(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(asJsonpb);
  if (typeof v !== 'object' || v === null) return v;
  const entries = Object.entries(v as Json);
  const anyValue = entries.length === 1 && ANY_VALUE.has(entries[0]![0]);
  const out: Json = {};
  for (const [k, x] of entries) {
    if (!anyValue && (x === '' || x === 0 || x === undefined || (Array.isArray(x) && x.length === 0))) continue;
    const y = asJsonpb(x);
    if (k === 'attributes') (y as { key: string }[]).sort((a, b) => compare(a.key, b.key));
    else if (k === 'events') (y as { name?: string }[]).sort((a, b) => compare(a.name ?? '', b.name ?? ''));
    out[k] = y;
  }
  return out;
}

/** Jaeger v2's span attribute for what its query service found wrong with a span; its UI shows it. */
export const JAEGER_WARNINGS = '@jaeger@warnings';

/** A trace's spans, its orphans carrying a warning in `@jaeger@warnings` worded as Jaeger words its own. */
function withOrphanWarnings(spans: Span[], orphans: TraceSummary['orphans']): Span[] {
  if (orphans.length === 0) return spans;
  const missing = new Map(orphans.map((o) => [o.spanId, o.missingParentId]));
  return spans.map((s) => {
    const parent = missing.get(s.spanId);
    return parent === undefined ? s : withAttributes(s, { [JAEGER_WARNINGS]: [`parent span ID=${parent} is not in the trace; no service reported it (span-relay)`] });
  });
}

/** Traces in api_v3's answer: OTLP JSON (TracesData) under `result`, all traces in one, as Jaeger combines them. */
export function apiV3Traces(traces: readonly { summary: TraceSummary; spans: Span[] }[]): { result: unknown } {
  return { result: asJsonpb(modelToOtlpJson({ spans: traces.flatMap((t) => withOrphanWarnings(t.spans, t.summary.orphans)) })) };
}

/** The join's verdict, in headers: the body stays exactly what a Jaeger client parses. */
function verdictHeaders(s: TraceSummary): Record<string, string> {
  return { 'x-span-relay-verdict': s.verdict, 'x-span-relay-orphans': String(s.orphans.length) };
}

/** Answers an api_v3 path; false when `path` is not one. */
export function serveApiV3(store: TraceStore, path: string, q: URLSearchParams, res: ServerResponse): boolean {
  if (!path.startsWith('/api/v3/')) return false;
  try {
    if (path === '/api/v3/services') {
      sendJson(res, 200, { services: store.services() });
      return true;
    }
    if (path === '/api/v3/operations') {
      const service = q.get('service') ?? '';
      const kind = q.get('span_kind') || undefined;
      const ops = service ? store.operations(service, kind) : [];
      sendJson(res, 200, { operations: ops.map((o) => (o.spanKind === 'unspecified' ? { name: o.name } : o)) });
      return true;
    }
    const m = /^\/api\/v3\/traces\/([^/]+)$/.exec(path);
    if (m) {
      const found = store.trace(parseTraceIdParam(decodeURIComponent(m[1]!)));
      if (!found) throw new ApiV3Error(404, 'No traces found');
      sendJson(res, 200, apiV3Traces([found]), verdictHeaders(found.summary));
      return true;
    }
    if (path === '/api/v3/traces') {
      const min = q.get('query.start_time_min');
      const max = q.get('query.start_time_max');
      if (!min || !max) throw new ApiV3Error(400, 'query.start_time_min and query.start_time_max are required');
      const summaries = store.search({
        service: q.get('query.service_name') || undefined,
        operation: q.get('query.operation_name') || undefined,
        startUs: parseRfc3339Us('query.start_time_min', min),
        endUs: parseRfc3339Us('query.start_time_max', max),
        minDurationUs: durationParamUs(q, 'query.duration_min'),
        maxDurationUs: durationParamUs(q, 'query.duration_max'),
        limit: searchDepth(q),
      });
      const traces = summaries.flatMap((s) => store.trace(s.traceKey) ?? []);
      if (traces.length === 0) throw new ApiV3Error(404, 'No traces found');
      sendJson(res, 200, apiV3Traces(traces));
      return true;
    }
    throw new ApiV3Error(404, `no such endpoint ${path}`);
  } catch (err) {
    if (err instanceof ApiV3Error) {
      sendError(res, err);
      return true;
    }
    throw err;
  }
}
