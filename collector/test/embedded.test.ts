/**
 * The embedded store and its Jaeger query API (issue #15): mesh traffic through the real receivers
 * and the join into SQLite, read back over HTTP in Jaeger's JSON (checked against a recorded Jaeger
 * answer), with the join's verdict; and the trace page in a real browser (Debian's chromium,
 * driven by playwright-core), checking what a person would see.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliver, voteHops, type Hop } from '../../test/helpers/mesh-traffic.js';
import { eventually, startCollector, type RunningCollector } from './helpers/collector.js';
import { TraceStore } from '../src/exporters/embedded/store.js';
import type { EmbeddedExporter } from '../src/exporters/embedded/index.js';
import { span } from './join/spans.js';

const CHROMIUM = '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const RECORDED = JSON.parse(readFileSync(new URL('./fixtures/jaeger-query/grafana-jaeger-trace-response.json', import.meta.url), 'utf8')) as Record<string, unknown>;
const VOTE = 'a1b2c3d4e5f6a718';
const BROKEN = 'b1b2c3d4e5f6b718';

let dir: string;
let relay: RunningCollector;
let base: string;

function config(path: string) {
  return `
receivers:
  zipkin:
    endpoint: 127.0.0.1:0
  opencensus:
    endpoint: 127.0.0.1:0
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
processors:
  join:
    quiet_period: 200ms
    check_interval: 20ms
exporters:
  embedded:
    path: ${path}
    retention: { max_age: 1000000h }
    query: { endpoint: 127.0.0.1:0 }
service:
  pipelines:
    traces:
      receivers: [zipkin, opencensus, otlp]
      processors: [join]
      exporters: [embedded]
`;
}

const to = () => ({ zipkin: relay.url('zipkin'), opencensus: relay.address('opencensus'), otlp: relay.url('otlp.http') });
const get = async (path: string) => {
  const res = await fetch(`${base}${path}`);
  return { status: res.status, body: (await res.json()) as { data: unknown; errors: { code: number; msg: string }[] | null } };
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'span-relay-store-'));
  relay = await startCollector(config(join(dir, 'traces.db')));
  base = `http://${(relay.collector.exporters.get('embedded') as EmbeddedExporter).address()}`;
  const vote = voteHops(VOTE);
  // A broken trace: the emoji app's hop whose caller never reported.
  const broken: Hop[] = voteHops(BROKEN).filter((h, i, all) => i === all.length - 1);
  await deliver([...vote, ...broken], to());
  await eventually(async () => ((await get('/api/services')).body.data as string[]).includes('nginx'), 'stored', 10_000);
  await eventually(async () => (await get(`/api/traces/${BROKEN}`)).status === 200, 'broken stored', 10_000);
}, 30_000);
afterAll(async () => {
  await relay.stop();
});

/** Every key the recorded Jaeger answer has at this level, our answer has too, with the same JSON type. */
function sameLayout(ours: unknown, recorded: unknown, path = '$'): string[] {
  const problems: string[] = [];
  const kind = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
  if (kind(recorded) === 'null') return problems;
  if (kind(ours) !== kind(recorded)) return [`${path}: ${kind(ours)} where Jaeger has ${kind(recorded)}`];
  if (Array.isArray(recorded) && recorded.length > 0 && Array.isArray(ours) && ours.length > 0) return sameLayout(ours[0], recorded[0], `${path}[0]`);
  if (kind(recorded) === 'object') {
    for (const [k, v] of Object.entries(recorded as Record<string, unknown>)) {
      if (path.endsWith('.processes') ) return sameLayout(Object.values(ours as object)[0], v, `${path}.*`);
      if (!(k in (ours as object))) problems.push(`${path}.${k}: missing`);
      else problems.push(...sameLayout((ours as Record<string, unknown>)[k], v, `${path}.${k}`));
    }
  }
  return problems;
}

/** The services of a request's hops, depth first from the ingress, children by start time: the waterfall's order. */
function hopsInTreeOrder(hops: Hop[]): string[] {
  const out: string[] = [];
  const visit = (parent: string | undefined): void => {
    for (const h of hops.filter((x) => x.parent === parent).sort((a, b) => a.startMs + (a.skewMs ?? 0) - (b.startMs + (b.skewMs ?? 0)))) {
      out.push(h.service);
      visit(h.id);
    }
  };
  visit(undefined);
  return out;
}

describe("the embedded store behind Jaeger's query API", () => {
  it('lists services, operations (with span kind), and finds the vote trace by service with its verdict', async () => {
    const services = (await get('/api/services')).body.data as string[];
    expect(services).toEqual(expect.arrayContaining(['nginx', 'linkerd-proxy', 'web', 'voting-svc', 'emoji-svc']));
    expect((await get('/api/services/voting-svc/operations')).body.data).toEqual(['emojivoto.v1.VotingService.VoteDoughnut']);
    expect((await get('/api/operations?service=web&spanKind=server')).body.data).toEqual([{ name: expect.any(String), spanKind: 'server' }]);
    const found = (await get('/api/traces?service=nginx&start=0&limit=10')).body.data as { traceID: string; spanRelay: { verdict: string }; spans: unknown[] }[];
    const vote = found.find((t) => t.traceID.endsWith(VOTE))!;
    expect(vote.spanRelay.verdict).toBe('complete');
    expect(vote.spans).toHaveLength(voteHops(VOTE).length);
  });

  it("answers in the field layout of a recorded Jaeger query response (grafana's fixture), for search and by ID", async () => {
    const byId = (await get(`/api/traces/${VOTE}`)).body;
    expect(sameLayout(byId, RECORDED)).toEqual([]);
    const search = (await get('/api/traces?service=nginx&start=0')).body;
    expect(sameLayout(search, RECORDED)).toEqual([]);
  });

  it('finds the joined trace by its 64-bit ID and by the 128-bit spelling; a missing one is a 404 in Jaeger form', async () => {
    const a = (await get(`/api/traces/${VOTE}`)).body.data as { traceID: string }[];
    const b = (await get(`/api/traces/${VOTE.padStart(32, '0')}`)).body.data as { traceID: string }[];
    expect(a[0]!.traceID).toBe(b[0]!.traceID);
    const missing = await get('/api/traces/00000000000000ff');
    expect(missing.status).toBe(404);
    expect(missing.body.errors![0]!.code).toBe(404);
  });

  it('a broken trace carries its verdict, its orphan and the missing parent, in spanRelay and in Jaeger warnings', async () => {
    const t = ((await get(`/api/traces/${BROKEN}`)).body.data as { warnings: string[]; spanRelay: { verdict: string; orphans: { missingParentId: string }[] } }[])[0]!;
    expect(t.spanRelay.verdict).toBe('broken');
    expect(t.spanRelay.orphans).toHaveLength(1);
    expect(t.warnings[0]).toContain(`names parent ${t.spanRelay.orphans[0]!.missingParentId}`);
  });

  it('tags, durations and dependencies filter as Jaeger does', async () => {
    const errors = (await get(`/api/traces?start=0&tags=${encodeURIComponent(JSON.stringify({ 'span.kind': 'server' }))}&service=voting-svc`)).body.data as unknown[];
    expect(errors.length).toBeGreaterThanOrEqual(1);
    expect((await get('/api/traces?start=0&service=nginx&minDuration=1h')).body.data).toEqual([]);
    expect((await get('/api/traces?start=0&minDuration=soon')).status).toBe(400);
    const deps = (await get(`/api/dependencies?endTs=${Date.now()}&lookback=${Date.now()}`)).body.data as { parent: string; child: string; callCount: number }[];
    expect(deps).toEqual(expect.arrayContaining([expect.objectContaining({ parent: 'web', child: 'linkerd-proxy' })]));
  });
});

describe("Jaeger v2's api_v3 on the embedded store (test/jaeger-v2-api.test.ts compares it with the real Jaeger)", () => {
  const v3 = async (path: string) => {
    const res = await fetch(`${base}${path}`);
    return { status: res.status, verdict: res.headers.get('x-span-relay-verdict'), body: (await res.json()) as Record<string, unknown> };
  };
  type V3Span = { traceId: string; spanId: string; attributes?: { key: string; value: { arrayValue?: { values: { stringValue: string }[] } } }[] };
  const spansOf = (body: Record<string, unknown>) =>
    (body.result as { resourceSpans: { scopeSpans: { spans: V3Span[] }[] }[] }).resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));

  it('services, operations, a trace by either ID width (verdict in a header), a search in a time window', async () => {
    expect((await v3('/api/v3/services')).body.services).toEqual(expect.arrayContaining(['nginx', 'web']));
    expect((await v3('/api/v3/operations?service=web&span_kind=server')).body).toEqual({ operations: [{ name: expect.any(String), spanKind: 'server' }] });
    for (const id of [VOTE, VOTE.padStart(32, '0')]) {
      const t = await v3(`/api/v3/traces/${id}`);
      expect(t.status).toBe(200);
      expect(t.verdict).toBe('complete');
      expect(spansOf(t.body)).toHaveLength(voteHops(VOTE).length);
    }
    const broken = await v3(`/api/v3/traces/${BROKEN}`);
    expect(broken.verdict).toBe('broken');
    const orphan = spansOf(broken.body).find((s) => s.attributes?.some((a) => a.key === '@jaeger@warnings'))!;
    expect(orphan.attributes!.find((a) => a.key === '@jaeger@warnings')!.value.arrayValue!.values[0]!.stringValue).toMatch(/^parent span ID=[0-9a-f]{16} is not in the trace; /);
    const found = await v3('/api/v3/traces?query.service_name=nginx&query.start_time_min=2023-01-01T00:00:00Z&query.start_time_max=2024-01-01T00:00:00.5Z&query.num_traces=5');
    expect(spansOf(found.body).some((s) => s.traceId.endsWith(VOTE))).toBe(true);
  });

  it("errors in Jaeger's gateway shape: 404 for an unknown trace, 400 for a bad ID or time", async () => {
    expect(await v3('/api/v3/traces/00000000000000ff')).toMatchObject({ status: 404, body: { error: { httpCode: 404, message: 'No traces found' } } });
    expect(await v3('/api/v3/traces/xyz')).toMatchObject({ status: 400, body: { error: { httpCode: 400, message: expect.stringMatching(/^malformed parameter trace_id: /) } } });
    expect(await v3('/api/v3/traces?query.service_name=web')).toMatchObject({ status: 400, body: { error: { httpCode: 400, message: 'query.start_time_min and query.start_time_max are required' } } });
    expect((await v3('/api/v3/traces?query.start_time_min=today&query.start_time_max=2024-01-01T00:00:00Z')).status).toBe(400);
  });
});

describe('the service map (GET /api/map)', () => {
  interface MapJson {
    nodes: { service: string; spans: number; broken_traces: number; proxy_spans: number; missing_callers: { caller: string; traces: number }[]; broken: { trace_id: string; span_id: string }[] }[];
    edges: { parent: string; child: string; calls: number; errors: number; p50_ms: number; p99_ms: number }[];
  }
  const map = async (q: string) => (await (await fetch(`${base}/api/map?${q}`)).json()) as MapJson;

  it('services as nodes with linkerd-proxy folded into the workload on its host, calls between them with latency, and the broken trace where it breaks', async () => {
    const m = await map('lookback=all');
    expect(m.nodes.map((n) => n.service)).toEqual(['emoji-svc', 'nginx', 'voting-svc', 'web']);
    const node = (s: string) => m.nodes.find((n) => n.service === s)!;
    // web's three proxy hops (inbound, two outbound) count for web; each app's inbound proxy for the app.
    expect(node('web').proxy_spans).toBe(3);
    expect(node('web').spans).toBe(6);
    const edge = (a: string, b: string) => m.edges.find((e) => e.parent === a && e.child === b);
    // nginx → web's inbound proxy (2..98 ms): one call of 96 ms.
    expect(edge('nginx', 'web')).toMatchObject({ calls: 1, errors: 0, p50_ms: 96, p99_ms: 96 });
    expect(edge('web', 'voting-svc')).toMatchObject({ calls: 1, p50_ms: 46 });
    expect(edge('web', 'emoji-svc')).toMatchObject({ calls: 1, p50_ms: 14 });
    expect(m.edges.every((e) => e.parent !== e.child)).toBe(true);
    // The broken trace: emoji-svc's span names a parent (its inbound proxy's hop) that never arrived.
    expect(m.nodes.filter((n) => n.broken_traces > 0).map((n) => n.service)).toEqual(['emoji-svc']);
    expect(node('emoji-svc').broken[0]!.trace_id.endsWith(BROKEN)).toBe(true);
    expect(node('emoji-svc').missing_callers).toEqual([{ caller: 'the caller of emoji-svc (its outbound linkerd-proxy or the calling app)', traces: 1 }]);
  });

  it('proxies=show gives each linkerd-proxy host its own node; a window with no traces gives an empty map', async () => {
    const m = await map('lookback=all&proxies=show');
    expect(m.nodes.map((n) => n.service)).toEqual(expect.arrayContaining(['linkerd-proxy@web-pod', 'linkerd-proxy@voting-pod', 'linkerd-proxy@emoji-pod']));
    expect(m.edges.find((e) => e.parent === 'nginx')!.child).toBe('linkerd-proxy@web-pod');
    expect(await map('lookback=1h')).toMatchObject({ nodes: [], edges: [] });
    expect((await fetch(`${base}/api/map?lookback=soon`)).status).toBe(400);
  });
});

describe('the store on disk', () => {
  it('survives a restart, and keeps within max_age and max_bytes by dropping the oldest traces first', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'span-relay-store2-')), 'traces.db');
    const s1 = new TraceStore(path);
    const now = Date.now();
    let firstBatchStored = 0;
    for (let t = 0; t < 300; t++) {
      if (t === 200) {
        firstBatchStored = Date.now();
        await new Promise((r) => setTimeout(r, 20));
      }
      const traceId = (0x1000 + t).toString(16).padStart(16, '0');
      const startMs = now - (300 - t) * 60_000;
      s1.write([span('1', undefined, 'web', 0, 5, { traceId, startTimeUnixNano: BigInt(startMs) * 1_000_000n, endTimeUnixNano: BigInt(startMs + 5) * 1_000_000n, attributes: { pad: 'x'.repeat(2000) } })]);
    }
    s1.close();
    const s2 = new TraceStore(path);
    expect(s2.trace((0x1000 + 299).toString(16).padStart(16, '0'))).toBeDefined();
    // Age counts from when a trace was stored: the first 200 are older than the last 100.
    const aged = s2.enforce({ maxAgeMs: Date.now() - firstBatchStored - 1, maxBytes: 1 << 30 });
    expect(aged.max_age).toBe(200);
    expect(s2.trace((0x1000 + 150).toString(16).padStart(16, '0'))).toBeUndefined();
    const limit = Math.floor(s2.usedBytes() / 2);
    const sized = s2.enforce({ maxAgeMs: 1e12, maxBytes: limit });
    expect(sized.max_bytes).toBeGreaterThan(0);
    expect(s2.usedBytes()).toBeLessThanOrEqual(limit);
    // The newest trace is still there: the oldest went first.
    expect(s2.trace((0x1000 + 299).toString(16).padStart(16, '0'))).toBeDefined();
    s2.close();
  });
});

describe.skipIf(!HAVE_CHROMIUM)('the trace page in headless Chromium (Debian chromium + playwright-core)', () => {
  it('finds the vote trace by service, shows every hop in order, and marks a broken trace\'s orphan in place', async () => {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'] });
    const shots = process.env.UPDATE_SCREENSHOTS ? new URL('../../docs/screenshots/', import.meta.url).pathname : mkdtempSync(join(tmpdir(), 'span-relay-shots-'));
    mkdirSync(shots, { recursive: true });
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 800 } });
      await page.goto(`${base}/`);
      await page.locator('#service option[value="nginx"]').waitFor({ state: 'attached' });
      await page.selectOption('#service', 'nginx');
      // The test traffic carries 2023 timestamps: search everything stored.
      await page.selectOption('#lookback', '0');
      await page.click('button[type=submit]');
      const result = page.locator(`.result[data-trace-id$="${VOTE}"]`);
      await result.waitFor();
      expect(await result.locator('.verdict').textContent()).toBe('COMPLETE');
      // search.png is taken by embedded-scatter.test.ts, over more traces than this one.
      expect(await page.locator(`svg.scatter .dot.complete[data-trace-id$="${VOTE}"]`).count()).toBe(1);
      await result.click();
      await page.locator('.waterfall .row').first().waitFor();
      const services = await page.locator('.waterfall .row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-service')));
      expect(services).toEqual(hopsInTreeOrder(voteHops(VOTE)));
      expect(await page.locator('.chip.hop').first().textContent()).toMatch(/^via (zipkin|opencensus|otlp)$/);
      await page.locator('.waterfall .row').nth(7).click();
      await page.locator('.details table').first().waitFor();
      await page.screenshot({ path: join(shots, 'trace.png'), fullPage: true });

      await page.goto(`${base}/trace/${BROKEN}`);
      await page.locator('.orphan-mark').waitFor();
      expect(await page.locator('#trace .verdict').textContent()).toBe('BROKEN');
      expect(await page.locator('.row.orphan .orphan-mark').textContent()).toMatch(/^ORPHAN: parent [0-9a-f]{16} was never reported$/);
      await page.screenshot({ path: join(shots, 'broken.png') });

      // The map: the broken service is marked, and leads to its broken traces.
      await page.goto(`${base}/map?lookback=all`);
      const emoji = page.locator('svg .node[data-service="emoji-svc"]');
      await emoji.waitFor();
      expect(await page.locator('svg .node.broken').evaluateAll((ns) => ns.map((n) => n.getAttribute('data-service')))).toEqual(['emoji-svc']);
      expect(await emoji.locator('.badge').textContent()).toBe('⚠ 1 broken trace');
      expect(await page.locator('svg .edge[data-parent="web"][data-child="voting-svc"] tspan').allTextContents()).toEqual(['1 call', 'p50 46ms · p99 46ms']);
      await emoji.click();
      const link = page.locator(`#map-details a.broken-trace[data-trace-id$="${BROKEN}"]`);
      await link.waitFor();
      expect(await page.locator('#map-details').textContent()).toContain('Likely missing caller: the caller of emoji-svc');
      await page.screenshot({ path: join(shots, 'map.png') });
      await link.click();
      await page.locator('.orphan-mark').waitFor();
      expect(await page.locator('#trace .verdict').textContent()).toBe('BROKEN');
      expect(page.url()).toMatch(new RegExp(`/trace/[0-9a-f]*${BROKEN}$`));
    } finally {
      await browser.close();
    }
  }, 60_000);
});
