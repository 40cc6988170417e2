/**
 * The embedded store with a million spans: ingest rate (what the exporter writes, one transaction
 * per batch of 1,000), then trace-by-ID and search latencies over the full store (medians and p95).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TraceStore } from '../collector/src/exporters/embedded/store.js';
import { voteTraces } from './join.js';

export interface StoreFigures {
  spans: number;
  ingestSpansPerSec: number;
  byIdMedianMs: number;
  byIdP95Ms: number;
  searchMedianMs: number;
  searchP95Ms: number;
  tagSearchMedianMs: number;
  fileMiB: number;
}

function timed(n: number, f: (i: number) => void): { median: number; p95: number } {
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    f(i);
    t.push(performance.now() - s);
  }
  t.sort((a, b) => a - b);
  return { median: t[Math.floor(n / 2)]!, p95: t[Math.floor(n * 0.95)]! };
}

export function storeBench(totalSpans: number): StoreFigures {
  const dir = mkdtempSync(join(tmpdir(), 'span-relay-store-bench-'));
  const store = new TraceStore(join(dir, 'traces.db'));
  const traces = Math.ceil(totalSpans / 11);
  const chunk = 10_000; // traces generated at a time, to keep the generator's memory flat
  let written = 0;
  const t0 = performance.now();
  for (let from = 0; from < traces; from += chunk) {
    const spans = voteTraces(Math.min(chunk, traces - from)).map((s) => ({ ...s, traceId: (BigInt(`0x${s.traceId}`) + BigInt(from)).toString(16).padStart(s.traceId.length, '0') }));
    for (let i = 0; i < spans.length; i += 1000) store.write(spans.slice(i, i + 1000));
    written += spans.length;
  }
  const ingest = written / ((performance.now() - t0) / 1000);
  const ids = Array.from({ length: 200 }, (_, i) => ((Math.floor((i * traces) / 200) + 1)).toString(16).padStart(16, '0'));
  let found = 0;
  const byId = timed(ids.length, (i) => {
    if (store.trace(ids[i]!)) found++;
  });
  if (found !== ids.length) throw new Error(`store bench: ${found} of ${ids.length} traces found by ID`);
  const services = ['nginx', 'web', 'voting-svc', 'emoji-svc', 'linkerd-proxy'];
  const search = timed(20, (i) => {
    if (store.search({ service: services[i % services.length], limit: 20 }).length !== 20) throw new Error('store bench: a search found fewer than 20 traces');
  });
  const tagSearch = timed(20, () => store.search({ service: 'linkerd-proxy', tags: { 'span.kind': 'server' }, limit: 20 }));
  const fileMiB = store.usedBytes() / 1024 / 1024;
  store.close();
  rmSync(dir, { recursive: true, force: true });
  return { spans: written, ingestSpansPerSec: ingest, byIdMedianMs: byId.median, byIdP95Ms: byId.p95, searchMedianMs: search.median, searchP95Ms: search.p95, tagSearchMedianMs: tagSearch.median, fileMiB };
}
