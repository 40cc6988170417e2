/**
 * api_v3 on span-relay's embedded store against the real Jaeger v2 (the peers/ build), field by
 * field: one span-relay joins the mesh's hops and exports what it releases both to its embedded
 * store and, over OTLP, to Jaeger; then the same api_v3 questions go to both.
 *
 * Intended differences (each checked below, nothing else may differ):
 * - A 64-bit spelling of a 128-bit trace ID finds the joined trace in span-relay (its low 64 bits
 *   are the trace's key); Jaeger pads it with zeros and finds nothing.
 * - A search without `query.num_traces` takes 20 traces in span-relay; Jaeger 2.12 answers 500
 *   ("search depth must be greater than 0"). `query.search_depth` (the name later Jaegers use) is
 *   read too.
 * - span-relay answers `content-type: application/json`; Jaeger's gateway sends JSON as text/plain.
 * - The join's verdict rides in headers (`x-span-relay-verdict`, `x-span-relay-orphans`), so the
 *   body stays what a Jaeger client (and a strict protobuf JSON parser) reads.
 * - Spans are grouped by resource in span-relay and by received request in Jaeger: the comparison
 *   is per span with its resource and scope.
 * - An orphan's `@jaeger@warnings` (Jaeger: "parent span ID=… is not in the trace; skipping clock
 *   skew adjustment") is on the same spans in both, worded for what span-relay knows; Jaeger 2.12's
 *   memory store keeps what its adjusters add, so its list grows by one at every read of the trace.
 * - Schema URLs (ResourceSpans' and ScopeSpans' `schemaUrl`) are kept by span-relay; Jaeger 2.12's
 *   memory store regroups what it receives by trace and copies only the resource and scope, so
 *   they are lost there.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startCollector, type RunningCollector } from '../collector/test/helpers/collector.js';
import type { EmbeddedExporter } from '../collector/src/exporters/embedded/index.js';
import { missingPeers } from '../peers/peers.js';
import { startJaeger, type RunningJaeger } from '../peers/jaeger/start.js';
import { stopPeerProcesses } from '../peers/process.js';
import { deliver, voteHops, T0_US } from './helpers/mesh-traffic.js';

const VOTE = 'c1b2c3d4e5f6c718';
const BROKEN = 'd1b2c3d4e5f6d718';
/** A full 128-bit ID whose high half is not zero, for a span with every OTLP field filled. */
const RICH = '5b8efff798038103d269b633813fc60c';
const T0_NS = BigInt(T0_US) * 1000n;
const WINDOW = `query.start_time_min=2023-11-14T00:00:00Z&query.start_time_max=2023-11-15T00:00:00.000000001Z`;

interface Answer {
  status: number;
  type: string | null;
  headers: Headers;
  body: Record<string, unknown>;
}

async function ask(base: string, path: string): Promise<Answer> {
  const res = await fetch(`${base}${path}`);
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type'), headers: res.headers, body: JSON.parse(text) as Record<string, unknown> };
}

/** Every path where `a` and `b` differ, with both values. */
function differences(a: unknown, b: unknown, path = '$'): string[] {
  if (typeof a !== typeof b || Array.isArray(a) !== Array.isArray(b) || (a === null) !== (b === null)) return [`${path}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`];
  if (Array.isArray(a)) {
    const bs = b as unknown[];
    if (a.length !== bs.length) return [`${path}: ${a.length} items vs ${bs.length}: ${JSON.stringify(a).slice(0, 300)} vs ${JSON.stringify(bs).slice(0, 300)}`];
    return a.flatMap((x, i) => differences(x, bs[i], `${path}[${i}]`));
  }
  if (typeof a === 'object' && a !== null) {
    const ao = a as Record<string, unknown>;
    const bo = b as Record<string, unknown>;
    return [...new Set([...Object.keys(ao), ...Object.keys(bo)])].flatMap((k) => differences(ao[k], bo[k], `${path}.${k}`));
  }
  return a === b ? [] : [`${path}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`];
}

interface FlatSpan {
  resource: unknown;
  resourceSchemaUrl?: unknown;
  scope: unknown;
  scopeSchemaUrl?: unknown;
  span: Record<string, unknown>;
}

const WARNINGS = '@jaeger@warnings';

/**
 * api_v3's TracesData as one entry per span with its resource and scope, by span ID; a span's
 * `@jaeger@warnings` become `warned: <the missing parent>` after checking their wording; schema
 * URLs are left out (see above).
 */
function flatten(body: Record<string, unknown>): FlatSpan[] {
  const out = flattenRaw(body);
  for (const f of out) {
    delete f.resourceSchemaUrl;
    delete f.scopeSchemaUrl;
    const span = f.span;
    const attrs = (span.attributes ?? []) as { key: string; value: { arrayValue?: { values: { stringValue: string }[] } } }[];
    const w = attrs.find((a) => a.key === WARNINGS);
    if (!w) continue;
    const texts = w.value.arrayValue!.values.map((v) => v.stringValue);
    const parents = new Set(texts.map((t) => /^parent span ID=([0-9a-f]{16}) is not in the trace; /.exec(t)?.[1]));
    expect(parents.size, texts.join(' | ')).toBe(1);
    span.warned = [...parents][0];
    span.attributes = attrs.filter((a) => a !== w);
    if ((span.attributes as unknown[]).length === 0) delete span.attributes;
  }
  return out;
}

function flattenRaw(body: Record<string, unknown>): FlatSpan[] {
  const result = body.result as { resourceSpans: { resource: unknown; schemaUrl?: string; scopeSpans: { scope?: unknown; schemaUrl?: string; spans: Record<string, unknown>[] }[] }[] };
  const out: FlatSpan[] = [];
  for (const rs of result.resourceSpans) for (const ss of rs.scopeSpans) for (const span of ss.spans) out.push({ resource: rs.resource, resourceSchemaUrl: rs.schemaUrl, scope: ss.scope ?? {}, scopeSchemaUrl: ss.schemaUrl, span });
  return out.sort((x, y) => String(x.span.spanId).localeCompare(String(y.span.spanId)));
}

/** The OTLP JSON request for the rich span: every value type, events, links, status, flags, trace state, scope. */
function richRequest(): unknown {
  const ns = (ms: number) => String(T0_NS + BigInt(ms) * 1_000_000n);
  const kv = (key: string, value: unknown) => ({ key, value });
  return {
    resourceSpans: [
      {
        resource: { attributes: [kv('service.name', { stringValue: 'checkout' }), kv('host.name', { stringValue: 'checkout-7d9c' }), kv('k8s.pod.uid', { stringValue: 'a-b-c' })] },
        schemaUrl: 'https://opentelemetry.io/schemas/1.24.0',
        scopeSpans: [
          {
            scope: { name: 'io.opentelemetry.okhttp', version: '1.2.3', attributes: [kv('scope.attr', { stringValue: 'x' })] },
            schemaUrl: 'https://opentelemetry.io/schemas/1.25.0',
            spans: [
              {
                traceId: RICH,
                spanId: 'a1a1a1a1a1a1a1a1',
                traceState: 'vendor=1',
                flags: 257,
                name: 'POST /checkout',
                kind: 2,
                startTimeUnixNano: ns(0),
                endTimeUnixNano: ns(42),
                attributes: [
                  kv('http.route', { stringValue: '/checkout' }),
                  kv('http.response.status_code', { intValue: '500' }),
                  kv('ratio', { doubleValue: 0.25 }),
                  kv('retried', { boolValue: false }),
                  kv('empty', { stringValue: '' }),
                  kv('zero', { intValue: '0' }),
                  kv('list', { arrayValue: { values: [{ stringValue: 'a' }, { intValue: '2' }] } }),
                  kv('blob', { bytesValue: 'AQID' }),
                ],
                events: [
                  { timeUnixNano: ns(5), name: 'retry', attributes: [kv('attempt', { intValue: '1' })] },
                  { timeUnixNano: ns(3), name: 'exception', attributes: [kv('exception.type', { stringValue: 'Timeout' }), kv('exception.message', { stringValue: 'deadline' })] },
                ],
                links: [{ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceState: 'l=2', attributes: [kv('link.kind', { stringValue: 'batch' })] }],
                status: { code: 2, message: 'upstream timed out' },
              },
              { traceId: RICH, spanId: 'a1a1a1a1a1a1a1a2', parentSpanId: 'a1a1a1a1a1a1a1a1', name: 'SELECT orders', kind: 3, startTimeUnixNano: ns(2), endTimeUnixNano: ns(9), status: { code: 1 } },
            ],
          },
        ],
      },
    ],
  };
}

describe.skipIf(missingPeers('jaeger'))("api_v3 on the embedded store, against Jaeger v2's own answers", () => {
  let jaeger: RunningJaeger;
  let relay: RunningCollector;
  let ours: string;

  beforeAll(async () => {
    jaeger = await startJaeger();
    const dir = mkdtempSync(join(tmpdir(), 'span-relay-apiv3-'));
    relay = await startCollector(`
receivers:
  zipkin: { endpoint: 127.0.0.1:0 }
  opencensus: { endpoint: 127.0.0.1:0 }
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:0 }
processors:
  join: { quiet_period: 200ms, check_interval: 20ms }
exporters:
  embedded:
    path: ${join(dir, 'traces.db')}
    retention: { max_age: 1000000h }
    query: { endpoint: 127.0.0.1:0 }
  otlp/jaeger:
    endpoint: ${jaeger.otlpGrpc}
    tls: { insecure: true }
service:
  pipelines:
    traces:
      receivers: [zipkin, opencensus, otlp]
      processors: [join]
      exporters: [embedded, otlp/jaeger]
`);
    ours = `http://${(relay.collector.exporters.get('embedded') as EmbeddedExporter).address()}`;
    const to = { zipkin: relay.url('zipkin'), opencensus: relay.address('opencensus'), otlp: relay.url('otlp.http') };
    // A vote (nginx's 64-bit Zipkin, the proxies, the apps over OpenCensus and OTLP), a broken one
    // (the emoji app's hop alone), and the rich span.
    await deliver([...voteHops(VOTE), ...voteHops(BROKEN).slice(-1)], to);
    const posted = await fetch(`${to.otlp}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(richRequest()) });
    expect(posted.status).toBe(200);
    for (const id of [VOTE.padStart(32, '0'), BROKEN.padStart(32, '0'), RICH]) {
      for (const base of [ours, jaeger.query]) await eventually(async () => (await ask(base, `/api/v3/traces/${id}`)).status === 200, `${id} at ${base}`, 15_000);
    }
    // Both have the whole vote (the join releases it once; the exporter sends it whole).
    await eventually(async () => flatten((await ask(jaeger.query, `/api/v3/traces/${VOTE.padStart(32, '0')}`)).body).length === voteHops(VOTE).length, 'the whole vote in Jaeger', 15_000);
  }, 60_000);
  afterAll(async () => {
    await relay?.stop();
    await stopPeerProcesses();
  });

  it('services: the same list (Jaeger keeps them in a map: compared sorted)', async () => {
    const [a, b] = await Promise.all([ask(ours, '/api/v3/services'), ask(jaeger.query, '/api/v3/services')]);
    expect(a.status).toBe(b.status);
    expect(Object.keys(a.body)).toEqual(['services']);
    expect(a.body.services).toEqual([...(b.body.services as string[])].sort());
    expect(a.body.services).toEqual(expect.arrayContaining(['nginx', 'linkerd-proxy', 'web', 'voting-svc', 'emoji-svc', 'checkout']));
  });

  it('operations: the same names and span kinds per service, with and without span_kind, and none for an unknown service', async () => {
    const sorted = (body: Record<string, unknown>) => [...(body.operations as { name: string; spanKind?: string }[])].sort((x, y) => `${x.name} ${x.spanKind}`.localeCompare(`${y.name} ${y.spanKind}`));
    for (const q of ['service=web', 'service=linkerd-proxy', 'service=linkerd-proxy&span_kind=server', 'service=checkout&span_kind=client', 'service=nginx', 'service=nope', '']) {
      const [a, b] = await Promise.all([ask(ours, `/api/v3/operations?${q}`), ask(jaeger.query, `/api/v3/operations?${q}`)]);
      expect(a.status, q).toBe(b.status);
      expect(differences(sorted(a.body), sorted(b.body)), q).toEqual([]);
    }
  });

  it('a trace by ID: every span with its resource and scope, field by field (the vote, the broken one, the rich span)', async () => {
    for (const id of [VOTE.padStart(32, '0'), BROKEN.padStart(32, '0'), RICH, VOTE]) {
      const [a, b] = await Promise.all([ask(ours, `/api/v3/traces/${id}`), ask(jaeger.query, `/api/v3/traces/${id}`)]);
      expect(a.status, id).toBe(200);
      expect(b.status, id).toBe(200);
      expect(Object.keys(a.body)).toEqual(['result']);
      const [fa, fb] = [flatten(a.body), flatten(b.body)];
      expect(fa.length, id).toBeGreaterThan(0);
      expect(differences(fa, fb), id).toEqual([]);
    }
    const broken = await ask(ours, `/api/v3/traces/${BROKEN}`);
    expect(broken.headers.get('x-span-relay-verdict')).toBe('broken');
    expect(broken.headers.get('x-span-relay-orphans')).toBe('1');
    expect((await ask(ours, `/api/v3/traces/${VOTE}`)).headers.get('x-span-relay-verdict')).toBe('complete');
  });

  it('search by service, operation and duration in a time window: the same traces, the same spans', async () => {
    for (const q of ['query.service_name=web', 'query.service_name=emoji-svc', 'query.service_name=checkout&query.operation_name=SELECT%20orders', 'query.service_name=linkerd-proxy&query.duration_min=90ms', 'query.duration_max=10ms', '']) {
      const path = `/api/v3/traces?${q}&${WINDOW}&query.num_traces=20`;
      const [a, b] = await Promise.all([ask(ours, path), ask(jaeger.query, path)]);
      expect(a.status, q).toBe(200);
      expect(b.status, q).toBe(200);
      expect(differences(flatten(a.body), flatten(b.body)), q).toEqual([]);
    }
    // Before the spans, and a service with no span: both say 404 in the same words.
    for (const q of ['query.service_name=web&query.start_time_min=2020-01-01T00:00:00Z&query.start_time_max=2020-01-02T00:00:00Z', `query.service_name=nope&${WINDOW}`]) {
      const [a, b] = await Promise.all([ask(ours, `/api/v3/traces?${q}&query.num_traces=5`), ask(jaeger.query, `/api/v3/traces?${q}&query.num_traces=5`)]);
      expect([a.status, a.body]).toEqual([b.status, b.body]);
      expect(a.status).toBe(404);
    }
  });

  it('errors as Jaeger gives them: 404 for an unknown trace, 400 for a malformed ID, time or duration', async () => {
    const same = ['/api/v3/traces/00000000000000ff', '/api/v3/traces?query.service_name=web'];
    for (const path of same) {
      const [a, b] = await Promise.all([ask(ours, path), ask(jaeger.query, path)]);
      expect([a.status, a.body], path).toEqual([b.status, b.body]);
    }
    // Malformed parameters: same code, same `malformed parameter NAME:` opening; the reason is in span-relay's words.
    const malformed: [string, string][] = [
      ['/api/v3/traces/xyz', 'trace_id'],
      [`/api/v3/traces/${'a'.repeat(33)}`, 'trace_id'],
      ['/api/v3/traces?query.start_time_min=yesterday&query.start_time_max=2023-11-15T00:00:00Z', 'query.start_time_min'],
      [`/api/v3/traces?${WINDOW}&query.duration_min=soon&query.num_traces=5`, 'query.duration_min'],
      [`/api/v3/traces?${WINDOW}&query.num_traces=many`, 'query.num_traces'],
    ];
    for (const [path, param] of malformed) {
      const [a, b] = await Promise.all([ask(ours, path), ask(jaeger.query, path)]);
      expect(b.status, `jaeger ${path}`).toBe(400);
      expect(a.status, path).toBe(400);
      const [ea, eb] = [a.body.error as { httpCode: number; message: string }, b.body.error as { httpCode: number; message: string }];
      expect(Object.keys(a.body)).toEqual(['error']);
      expect(ea.httpCode).toBe(eb.httpCode);
      expect(ea.message.startsWith(`malformed parameter ${param}: `), ea.message).toBe(true);
      expect(eb.message.startsWith(`malformed parameter ${param}: `), eb.message).toBe(true);
    }
  });

  it('the intended differences, as documented above', async () => {
    // The 64-bit spelling of a 128-bit ID.
    const low = RICH.slice(16);
    const [a, b] = await Promise.all([ask(ours, `/api/v3/traces/${low}`), ask(jaeger.query, `/api/v3/traces/${low}`)]);
    expect(a.status).toBe(200);
    expect(flatten(a.body).every((s) => s.span.traceId === RICH)).toBe(true);
    expect(b.status).toBe(404);
    // No search depth: 20 here, an error there; search_depth read as num_traces is.
    const noDepth = `/api/v3/traces?query.service_name=web&${WINDOW}`;
    expect((await ask(ours, noDepth)).status).toBe(200);
    expect((await ask(jaeger.query, noDepth)).status).toBe(500);
    expect(differences(flatten((await ask(ours, `${noDepth}&query.search_depth=1`)).body), flatten((await ask(jaeger.query, `${noDepth}&query.num_traces=1`)).body))).toEqual([]);
    // Schema URLs.
    expect(flattenRaw(a.body).map((f) => [f.resourceSchemaUrl, f.scopeSchemaUrl])).toEqual([
      ['https://opentelemetry.io/schemas/1.24.0', 'https://opentelemetry.io/schemas/1.25.0'],
      ['https://opentelemetry.io/schemas/1.24.0', 'https://opentelemetry.io/schemas/1.25.0'],
    ]);
    expect(flattenRaw((await ask(jaeger.query, `/api/v3/traces/${RICH}`)).body).map((f) => [f.resourceSchemaUrl, f.scopeSchemaUrl])).toEqual([
      [undefined, undefined],
      [undefined, undefined],
    ]);
    // Content types.
    expect(a.type).toBe('application/json');
    expect(b.type).toMatch(/^text\/plain/);
  });
});
