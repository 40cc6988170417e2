/**
 * The embedded trace store: SQLite (better-sqlite3) in one file, what the join released with its
 * verdict, bounded by age and by bytes (oldest traces first, counted). Sync calls, short ones:
 * a batch is one transaction; lookups go through indexes.
 */
import { createRequire } from 'node:module';
import type Database from 'better-sqlite3';
import type { Span } from '../../model/span.js';
import { serviceNameOf } from '../../model/span.js';
import { analyzeTrace } from '../../trace/continuity.js';
import { groupByTrace } from '../../trace/key.js';
import { decodeSpans, encodeSpans } from '../../storage/span-codec.js';
import { openSqliteFile } from '../../storage/sqlite-file.js';

export interface TraceSummary {
  traceKey: string;
  traceId: string;
  startUs: number;
  durationUs: number;
  spans: number;
  errors: number;
  services: string[];
  rootService: string;
  rootName: string;
  verdict: 'complete' | 'broken';
  orphans: { spanId: string; service: string; missingParentId: string }[];
  adjusted: number;
}

export interface TraceQuery {
  service?: string | undefined;
  operation?: string | undefined;
  spanKind?: string | undefined;
  tags?: Record<string, string> | undefined;
  startUs?: number | undefined;
  endUs?: number | undefined;
  minDurationUs?: number | undefined;
  maxDurationUs?: number | undefined;
  limit: number;
}

export interface Retention {
  maxAgeMs: number;
  maxBytes: number;
}

/** The tables and indexes, made at every open (IF NOT EXISTS): what an older store lacks is added. */
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS spans (
    trace_key TEXT NOT NULL, trace_id TEXT NOT NULL, span_id TEXT NOT NULL, parent_id TEXT,
    service TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL,
    start_us INTEGER NOT NULL, duration_us INTEGER NOT NULL, error INTEGER NOT NULL,
    attrs TEXT NOT NULL, body TEXT NOT NULL);
  CREATE INDEX IF NOT EXISTS spans_trace ON spans(trace_key, span_id);
  CREATE INDEX IF NOT EXISTS spans_service ON spans(service, start_us);
  CREATE INDEX IF NOT EXISTS spans_operation ON spans(service, name, start_us);
  CREATE INDEX IF NOT EXISTS spans_start ON spans(start_us);
  CREATE TABLE IF NOT EXISTS traces (
    trace_key TEXT PRIMARY KEY, trace_id TEXT NOT NULL, start_us INTEGER NOT NULL, end_us INTEGER NOT NULL,
    spans INTEGER NOT NULL, errors INTEGER NOT NULL, services TEXT NOT NULL, root_service TEXT, root_name TEXT,
    verdict TEXT NOT NULL, orphans TEXT NOT NULL, adjusted INTEGER NOT NULL, stored_ms INTEGER NOT NULL);
  CREATE INDEX IF NOT EXISTS traces_start ON traces(start_us);
  CREATE INDEX IF NOT EXISTS traces_stored ON traces(stored_ms);
  CREATE TABLE IF NOT EXISTS operations (service TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL, PRIMARY KEY (service, name, kind)) WITHOUT ROWID;
`;

const ADJUSTED = ['span_relay.original_trace_id', 'span_relay.original_span_id', 'span_relay.clock_skew_adjustment_ns'];

function tagText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  return JSON.stringify(v) ?? String(v);
}

/**
 * better-sqlite3's addon where its install builds it. Named, better-sqlite3 loads it at once instead
 * of through the `bindings` package, which searches a dozen paths and reads a stack trace for its
 * own: 6-7 ms → 2.6 ms for the first open, measured (every start opens the store). Anywhere else
 * (a debug build, say), the search as before.
 */
let nativeBinding: string | null | undefined;
function sqliteAddon(): string | null {
  if (nativeBinding === undefined) {
    try {
      nativeBinding = createRequire(import.meta.url).resolve('better-sqlite3/build/Release/better_sqlite3.node');
    } catch {
      nativeBinding = null;
    }
  }
  return nativeBinding;
}


export class TraceStore {
  readonly db: Database.Database;
  private readonly stmt;

  constructor(readonly path: string) {
    this.db = openSqliteFile(path, { nativeBinding: sqliteAddon() ?? undefined, schema: SCHEMA });
    this.stmt = {
      insertSpan: this.db.prepare('INSERT INTO spans VALUES (?,?,?,?,?,?,?,?,?,?,?,?)'),
      insertOp: this.db.prepare('INSERT OR IGNORE INTO operations VALUES (?,?,?)'),
      traceExists: this.db.prepare('SELECT 1 FROM traces WHERE trace_key = ?'),
      bodiesOf: this.db.prepare('SELECT body FROM spans WHERE trace_key = ?'),
      upsertTrace: this.db.prepare(`INSERT INTO traces VALUES (@trace_key,@trace_id,@start_us,@end_us,@spans,@errors,@services,@root_service,@root_name,@verdict,@orphans,@adjusted,@stored_ms)
        ON CONFLICT(trace_key) DO UPDATE SET trace_id=@trace_id, start_us=@start_us, end_us=@end_us, spans=@spans, errors=@errors, services=@services,
        root_service=@root_service, root_name=@root_name, verdict=@verdict, orphans=@orphans, adjusted=@adjusted, stored_ms=@stored_ms`),
      trace: this.db.prepare('SELECT * FROM traces WHERE trace_key = ?'),
    };
  }

  /** Stores what the join released; each trace touched gets its verdict (again, if it grew). Answers the spans by trace. */
  write(spans: readonly Span[]): Map<string, Span[]> {
    const byTrace = groupByTrace(spans);
    this.db.transaction(() => {
      for (const [key, group] of byTrace) {
        const existed = this.stmt.traceExists.get(key) !== undefined;
        for (const s of group) {
          const service = serviceNameOf(s) ?? 'unknown_service';
          const attrs: Record<string, string> = {};
          for (const k in s.attributes) attrs[k] = tagText(s.attributes[k]);
          attrs['span.kind'] = s.kind;
          if (s.status.code === 'error') attrs.error = 'true';
          this.stmt.insertSpan.run(
            key,
            s.traceId,
            s.spanId,
            s.parentSpanId ?? null,
            service,
            s.name,
            s.kind,
            Number(s.startTimeUnixNano / 1000n),
            Number((s.endTimeUnixNano - s.startTimeUnixNano) / 1000n),
            s.status.code === 'error' ? 1 : 0,
            JSON.stringify(attrs),
            encodeSpans([s]).toString('utf8'),
          );
          this.stmt.insertOp.run(service, s.name, s.kind);
        }
        const all = existed ? this.spansOf(key) : group;
        this.stmt.upsertTrace.run({ ...summaryRow(key, all), stored_ms: Date.now() });
      }
    })();
    return byTrace;
  }

  private spansOf(key: string): Span[] {
    const out: Span[] = [];
    for (const row of this.stmt.bodiesOf.all(key) as { body: string }[]) out.push(...decodeSpans(Buffer.from(row.body)));
    return out;
  }

  /** A trace by its 64- or 128-bit ID: both find the joined trace (the low 64 bits are its key). */
  trace(id: string): { summary: TraceSummary; spans: Span[] } | undefined {
    const hex = id.toLowerCase().replace(/^0+(?=[0-9a-f]{16}$)/, '');
    const key = hex.length > 16 ? hex.slice(-16) : hex.padStart(16, '0');
    const row = this.stmt.trace.get(key) as TraceRow | undefined;
    if (!row) return undefined;
    if (hex.length === 32 && !hex.startsWith('0000000000000000') && row.trace_id.length === 32 && row.trace_id !== hex) return undefined;
    return { summary: fromRow(row), spans: this.spansOf(key) };
  }

  services(): string[] {
    return (this.db.prepare('SELECT DISTINCT service FROM operations ORDER BY service').all() as { service: string }[]).map((r) => r.service);
  }

  operations(service: string, kind?: string): { name: string; spanKind: string }[] {
    const rows = (kind ? this.db.prepare('SELECT name, kind FROM operations WHERE service = ? AND kind = ? ORDER BY name').all(service, kind) : this.db.prepare('SELECT name, kind FROM operations WHERE service = ? ORDER BY name').all(service)) as { name: string; kind: string }[];
    return rows.map((r) => ({ name: r.name, spanKind: r.kind }));
  }

  /** Traces with a span matching every condition given, newest first. */
  search(q: TraceQuery): TraceSummary[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    const when = (cond: unknown, clause: string, value: string | number | undefined): void => {
      if (cond === undefined || cond === '' || value === undefined) return;
      where.push(clause);
      args.push(value);
    };
    when(q.service, 'service = ?', q.service);
    when(q.operation, 'name = ?', q.operation);
    when(q.spanKind, 'kind = ?', q.spanKind);
    when(q.startUs, 'start_us >= ?', q.startUs);
    when(q.endUs, 'start_us <= ?', q.endUs);
    when(q.minDurationUs, 'duration_us >= ?', q.minDurationUs);
    when(q.maxDurationUs, 'duration_us <= ?', q.maxDurationUs);
    for (const [k, v] of Object.entries(q.tags ?? {})) {
      where.push('json_extract(attrs, ?) = ?');
      args.push(`$."${k.replace(/"/g, '""')}"`, v);
    }
    // Newest first through an index on (service[, name], start_us), stopping at `limit` distinct
    // traces: the cost follows what is read, not the size of the store.
    const stmt = this.db.prepare(`SELECT trace_key FROM spans ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY start_us DESC`);
    const keys: string[] = [];
    const seen = new Set<string>();
    for (const row of stmt.iterate(...args) as Iterable<{ trace_key: string }>) {
      if (seen.has(row.trace_key)) continue;
      seen.add(row.trace_key);
      keys.push(row.trace_key);
      if (keys.length >= q.limit) break;
    }
    const out: TraceSummary[] = [];
    for (const k of keys) {
      const row = this.stmt.trace.get(k) as TraceRow | undefined;
      if (row) out.push(fromRow(row));
    }
    return out;
  }

  /**
   * The spans of every trace that started in [sinceUs, untilUs], newest first, at most `limit`
   * traces (`truncated` says the window held more): what the service map and the routes read.
   */
  tracesBetween(sinceUs: number, untilUs: number, limit: number): { traces: Span[][]; truncated: boolean } {
    const keys = this.db.prepare('SELECT trace_key FROM traces WHERE start_us BETWEEN ? AND ? ORDER BY start_us DESC LIMIT ?').all(sinceUs, untilUs, limit + 1) as { trace_key: string }[];
    const truncated = keys.length > limit;
    return { traces: keys.slice(0, limit).map((k) => this.spansOf(k.trace_key)), truncated };
  }

  /** Calls between services (a span whose parent ran in another service), since `sinceUs`. */
  dependencies(sinceUs: number, untilUs: number): { parent: string; child: string; callCount: number }[] {
    return this.db
      .prepare(
        `SELECT p.service AS parent, c.service AS child, COUNT(*) AS callCount FROM spans c JOIN spans p ON p.trace_key = c.trace_key AND p.span_id = c.parent_id
         WHERE c.start_us BETWEEN ? AND ? AND p.service != c.service GROUP BY p.service, c.service ORDER BY callCount DESC`,
      )
      .all(sinceUs, untilUs) as { parent: string; child: string; callCount: number }[];
  }

  /** Bytes the file uses (free pages not counted). */
  usedBytes(): number {
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    const free = this.db.pragma('freelist_count', { simple: true }) as number;
    const size = this.db.pragma('page_size', { simple: true }) as number;
    return (pages - free) * size;
  }

  /**
   * Drops traces stored longer ago than max_age (by when span-relay stored them, so a replay of old
   * captures stays to be looked at), then the oldest stored until the file is under max_bytes.
   */
  enforce(r: Retention, nowMs = Date.now()): { max_age: number; max_bytes: number } {
    const dropped = { max_age: 0, max_bytes: 0 };
    const old = this.db.prepare('SELECT trace_key FROM traces WHERE stored_ms < ?').all(nowMs - r.maxAgeMs) as { trace_key: string }[];
    dropped.max_age = this.drop(old.map((o) => o.trace_key));
    for (let i = 0; i < 50 && this.usedBytes() > r.maxBytes; i++) {
      const n = Math.max(1, Math.ceil((this.db.prepare('SELECT COUNT(*) AS n FROM traces').get() as { n: number }).n * 0.05));
      const oldest = this.db.prepare('SELECT trace_key FROM traces ORDER BY stored_ms, start_us LIMIT ?').all(n) as { trace_key: string }[];
      if (oldest.length === 0) break;
      dropped.max_bytes += this.drop(oldest.map((o) => o.trace_key));
    }
    if (dropped.max_age + dropped.max_bytes > 0) this.db.pragma('incremental_vacuum');
    return dropped;
  }

  private drop(keys: string[]): number {
    const delSpans = this.db.prepare('DELETE FROM spans WHERE trace_key = ?');
    const delTrace = this.db.prepare('DELETE FROM traces WHERE trace_key = ?');
    this.db.transaction(() => {
      for (const k of keys) {
        delSpans.run(k);
        delTrace.run(k);
      }
    })();
    return keys.length;
  }

  close(): void {
    this.db.close();
  }
}

interface TraceRow {
  trace_key: string;
  trace_id: string;
  start_us: number;
  end_us: number;
  spans: number;
  errors: number;
  services: string;
  root_service: string | null;
  root_name: string | null;
  verdict: 'complete' | 'broken';
  orphans: string;
  adjusted: number;
}

function summaryRow(key: string, spans: Span[]): TraceRow {
  const report = analyzeTrace(spans);
  let start = Infinity;
  let end = -Infinity;
  let errors = 0;
  let adjusted = 0;
  let traceId = spans[0]!.traceId;
  for (const s of spans) {
    start = Math.min(start, Number(s.startTimeUnixNano / 1000n));
    end = Math.max(end, Number(s.endTimeUnixNano / 1000n));
    if (s.status.code === 'error') errors++;
    if (ADJUSTED.some((a) => s.attributes[a] !== undefined)) adjusted++;
    if (s.traceId.length > traceId.length) traceId = s.traceId;
  }
  // A trace with no root (its top is an orphan) is named after the orphan.
  const root = report.roots[0] ?? report.orphans[0]?.span ?? spans[0];
  return {
    trace_key: key,
    trace_id: traceId,
    start_us: start,
    end_us: end,
    spans: spans.length,
    errors,
    services: JSON.stringify(report.services),
    root_service: root ? (serviceNameOf(root) ?? null) : null,
    root_name: root?.name ?? null,
    verdict: report.complete ? 'complete' : 'broken',
    orphans: JSON.stringify(report.orphans.map((o) => ({ spanId: o.span.spanId, service: o.service, missingParentId: o.missingParentId }))),
    adjusted,
  };
}

function fromRow(r: TraceRow): TraceSummary {
  return {
    traceKey: r.trace_key,
    traceId: r.trace_id,
    startUs: r.start_us,
    durationUs: r.end_us - r.start_us,
    spans: r.spans,
    errors: r.errors,
    services: JSON.parse(r.services) as string[],
    rootService: r.root_service ?? '',
    rootName: r.root_name ?? '',
    verdict: r.verdict,
    orphans: JSON.parse(r.orphans) as TraceSummary['orphans'],
    adjusted: r.adjusted,
  };
}
