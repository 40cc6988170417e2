/**
 * The requests the scale-out tests send (test/scale-out.test.ts over the loadbalancing exporter,
 * test/kafka-scale-out.test.ts over a Kafka topic): each a vote through the mesh with its hops in
 * both ID widths, sent to routers at random, and the verdict on what reached the sink.
 */
import type { FlatOtlpSpan } from '../../collector/test/helpers/sinks.js';
import { sendOtlp, sendZipkin, voteHops, type Hop } from './mesh-traffic.js';

/** What a router offers: its receivers' base URLs. */
export interface RouterUrls {
  url(id: string): string;
}

/** One request: a vote through the mesh (nginx 64-bit over Zipkin; proxies and apps with the full 128-bit ID over OTLP), and a Zipkin shared span pair. */
export function request(n: number): { trace64: string; hops: Hop[]; shared: object[] } {
  const trace64 = (0xc0ffee0000000000n + BigInt(n)).toString(16);
  const high = (0x5a5a000000000000n + BigInt(n)).toString(16);
  const hops = voteHops(trace64, { proxyVia: 'otlp' }).map((h) => (h.via === 'zipkin' ? h : { ...h, via: 'otlp' as const, traceId: `${high}${trace64}` }));
  const nginx = hops[0]!;
  const client = { traceId: trace64, parentId: nginx.id, id: `${trace64.slice(0, 12)}00ff`, name: 'GET /audit', kind: 'CLIENT', timestamp: 1_700_000_000_000_000 + 20_000, duration: 30_000, localEndpoint: { serviceName: 'nginx' } };
  const server = { ...client, kind: 'SERVER', shared: true, timestamp: client.timestamp + 1_000, duration: 28_000, localEndpoint: { serviceName: 'audit' } };
  return { trace64, hops, shared: [client, server] };
}

export async function send(routers: RouterUrls[], r: { hops: Hop[]; shared: object[] }): Promise<number> {
  const pick = () => routers[Math.floor(Math.random() * routers.length)]!;
  let spans = 0;
  for (const h of r.hops) {
    const to = pick();
    const status = h.via === 'zipkin' ? await sendZipkin(to.url('zipkin'), [h]) : await sendOtlp(to.url('otlp.http'), [h]);
    if (status >= 300) throw new Error(`router answered ${status}`);
    spans++;
  }
  for (const s of r.shared) {
    const res = await fetch(`${pick().url('zipkin')}/api/v2/spans`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([s]) });
    if (res.status !== 202) throw new Error(`router answered ${res.status}`);
    spans++;
  }
  return spans;
}

/** The requests (by their 64-bit trace ID) that did not reach the sink as one tree: one root, no orphans, one trace ID, no span twice. */
export function brokenTraces(spans: FlatOtlpSpan[], trace64s: string[]): string[] {
  return trace64s.filter((t) => {
    const mine = spans.filter((s) => s.traceId.endsWith(t));
    const ids = new Set(mine.map((s) => s.spanId));
    const roots = mine.filter((s) => !s.parentSpanId);
    const orphans = mine.filter((s) => s.parentSpanId && !ids.has(s.parentSpanId));
    const oneTraceId = new Set(mine.map((s) => s.traceId)).size === 1;
    return !(roots.length === 1 && orphans.length === 0 && oneTraceId && ids.size === mine.length);
  });
}

export function verdicts(spans: FlatOtlpSpan[], trace64s: string[]): { complete: number; broken: number } {
  const broken = brokenTraces(spans, trace64s).length;
  return { complete: trace64s.length - broken, broken };
}


/** The span IDs a request sends: every hop and the shared pair's one ID. */
export function sentSpanIds(requests: { trace64: string; hops: Hop[] }[]): string[] {
  return requests.flatMap((q) => [...q.hops.map((h) => h.id), `${q.trace64.slice(0, 12)}00ff`]);
}
