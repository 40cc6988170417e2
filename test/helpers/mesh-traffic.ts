/**
 * Realistic spans of one vote through the mesh, and senders that deliver them over the real
 * protocols each hop uses: nginx → Zipkin v1 JSON, linkerd-proxy → OpenCensus (or OTLP), apps →
 * OpenCensus (Go emojivoto) or OTLP (Node on OpenTelemetry).
 */
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PROTO_DIR } from '../../collector/src/paths.js';

export const T0_US = 1_700_000_000_000_000; // µs

export interface Hop {
  id: string;
  parent?: string;
  service: string;
  host: string;
  kind: 'SERVER' | 'CLIENT';
  name: string;
  startMs: number;
  endMs: number;
  via: 'zipkin' | 'opencensus' | 'otlp';
  /** Trace ID as this hop reports it (nginx 64-bit, proxies left-padded, legacy apps the low half). */
  traceId: string;
  skewMs?: number;
  attributes?: Record<string, string>;
}

/** ingress → proxy(in, web) → web → proxy(out, web) → proxy(in, voting) → voting, and the emoji call beside it. */
export function voteHops(trace64: string, options: { proxyVia?: 'opencensus' | 'otlp'; votingSkewMs?: number; ingressTraceId?: string } = {}): Hop[] {
  const padded = options.ingressTraceId ?? trace64.padStart(32, '0');
  const ingress = options.ingressTraceId ?? trace64;
  const proxyVia = options.proxyVia ?? 'opencensus';
  const skew = options.votingSkewMs ?? 0;
  // Span IDs unique per trace: the trace's first 12 hex digits and the hop's number.
  const p = (i: number) => `${trace64.slice(0, 12)}${i.toString(16).padStart(4, '0')}`;
  const ids = Object.fromEntries(['N', 'P1', 'W', 'WC', 'P2', 'P3', 'V', 'WE', 'P4', 'P5', 'E'].map((k, i) => [k, p(i + 1)])) as Record<string, string>;
  const proxy = { service: 'linkerd-proxy', via: proxyVia } as const;
  return [
    { id: ids.N!, service: 'nginx', host: 'ingress-pod', kind: 'SERVER', name: 'POST /api/vote', startMs: 0, endMs: 100, via: 'zipkin', traceId: ingress },
    { id: ids.P1!, parent: ids.N, ...proxy, host: 'web-pod', kind: 'SERVER', name: '/api/vote', startMs: 2, endMs: 98, traceId: padded },
    { id: ids.W!, parent: ids.P1, service: 'web', host: 'web-pod', kind: 'SERVER', name: '/api/vote', startMs: 3, endMs: 97, via: 'opencensus', traceId: padded },
    { id: ids.WC!, parent: ids.W, service: 'web', host: 'web-pod', kind: 'CLIENT', name: 'emojivoto.v1.VotingService.VoteDoughnut', startMs: 10, endMs: 60, via: 'opencensus', traceId: padded },
    { id: ids.P2!, parent: ids.WC, ...proxy, host: 'web-pod', kind: 'CLIENT', name: '/emojivoto.v1.VotingService/VoteDoughnut', startMs: 11, endMs: 59, traceId: padded },
    { id: ids.P3!, parent: ids.P2, ...proxy, host: 'voting-pod', kind: 'SERVER', name: '/emojivoto.v1.VotingService/VoteDoughnut', startMs: 12 + skew, endMs: 58 + skew, traceId: padded, skewMs: skew },
    { id: ids.V!, parent: ids.P3, service: 'voting-svc', host: 'voting-pod', kind: 'SERVER', name: 'emojivoto.v1.VotingService.VoteDoughnut', startMs: 13 + skew, endMs: 57 + skew, via: 'otlp', traceId: padded, skewMs: skew },
    { id: ids.WE!, parent: ids.W, service: 'web', host: 'web-pod', kind: 'CLIENT', name: 'emojivoto.v1.EmojiService.FindByShortcode', startMs: 62, endMs: 80, via: 'opencensus', traceId: padded },
    { id: ids.P4!, parent: ids.WE, ...proxy, host: 'web-pod', kind: 'CLIENT', name: '/emojivoto.v1.EmojiService/FindByShortcode', startMs: 63, endMs: 79, traceId: padded },
    { id: ids.P5!, parent: ids.P4, ...proxy, host: 'emoji-pod', kind: 'SERVER', name: '/emojivoto.v1.EmojiService/FindByShortcode', startMs: 64, endMs: 78, traceId: padded },
    { id: ids.E!, parent: ids.P5, service: 'emoji-svc', host: 'emoji-pod', kind: 'SERVER', name: 'emojivoto.v1.EmojiService.FindByShortcode', startMs: 65, endMs: 77, via: 'opencensus', traceId: padded },
  ];
}

const us = (ms: number) => T0_US + Math.round(ms * 1000);

// --- Zipkin: nginx-opentracing's Zipkin tracer posts v1 JSON ---------------------------------
export async function sendZipkin(url: string, hops: Hop[]): Promise<number> {
  const body = hops.map((h) => {
    const ep = { serviceName: h.service, ipv4: '10.42.0.5', port: 80 };
    const [a, b] = h.kind === 'SERVER' ? ['sr', 'ss'] : ['cs', 'cr'];
    return {
      traceId: h.traceId,
      id: h.id,
      ...(h.parent ? { parentId: h.parent } : {}),
      name: h.name,
      timestamp: us(h.startMs),
      duration: us(h.endMs) - us(h.startMs),
      annotations: [
        { timestamp: us(h.startMs), value: a, endpoint: ep },
        { timestamp: us(h.endMs), value: b, endpoint: ep },
      ],
      binaryAnnotations: [
        { key: 'component', value: 'nginx', endpoint: ep },
        { key: 'http.method', value: 'POST', endpoint: ep },
        { key: 'http.url', value: 'http://web.emojivoto/api/vote', endpoint: ep },
        { key: 'http.status_code', value: '200', endpoint: ep },
      ],
    };
  });
  const res = await fetch(`${url}/api/v1/spans`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  return res.status;
}

// --- OpenCensus agent stream (one stream per node, as each process keeps its own) -------------
const ocPkg = grpc.loadPackageDefinition(protoLoader.loadSync(join(PROTO_DIR, 'opencensus.proto'), { keepCase: true, longs: String, enums: String }));
const OcService = (ocPkg as unknown as { opencensus: { proto: { agent: { trace: { v1: { TraceService: grpc.ServiceClientConstructor } } } } } }).opencensus.proto.agent.trace.v1.TraceService;

const ocTime = (ms: number) => ({ seconds: String(Math.floor(us(ms) / 1e6)), nanos: (us(ms) % 1e6) * 1000 });

export async function sendOpenCensus(address: string, hops: Hop[], repeat = 1): Promise<void> {
  const client = new OcService(address, grpc.credentials.createInsecure()) as unknown as grpc.Client & { Export(): grpc.ClientDuplexStream<object, object> };
  const byNode = new Map<string, Hop[]>();
  for (const h of hops) byNode.set(`${h.service}|${h.host}`, [...(byNode.get(`${h.service}|${h.host}`) ?? []), h]);
  for (const [key, list] of byNode) {
    const [service, host] = key.split('|');
    const stream = client.Export();
    const done = new Promise<void>((resolve, reject) => {
      stream.on('end', resolve);
      stream.on('error', reject);
      stream.on('data', () => {});
    });
    for (let r = 0; r < repeat; r++) {
      stream.write({
        ...(r === 0 ? { node: { identifier: { host_name: host }, service_info: { name: service }, attributes: { 'linkerd.io/workload-ns': 'emojivoto' } } } : {}),
        spans: list.map((h) => ({
          trace_id: Buffer.from(h.traceId.padStart(32, '0'), 'hex'),
          span_id: Buffer.from(h.id, 'hex'),
          ...(h.parent ? { parent_span_id: Buffer.from(h.parent, 'hex') } : {}),
          name: { value: h.name },
          kind: h.kind,
          start_time: ocTime(h.startMs),
          end_time: ocTime(h.endMs),
          attributes: { attribute_map: Object.fromEntries(Object.entries(h.attributes ?? { 'http.request.method': 'POST' }).map(([k, v]) => [k, { string_value: { value: v } }])) },
        })),
      });
    }
    stream.end();
    await done;
  }
  client.close();
}

// --- OTLP/HTTP JSON, as a Node service on OpenTelemetry or linkerd-proxy in OTLP mode sends it --
export async function sendOtlp(url: string, hops: Hop[]): Promise<number> {
  const byNode = new Map<string, Hop[]>();
  for (const h of hops) byNode.set(`${h.service}|${h.host}`, [...(byNode.get(`${h.service}|${h.host}`) ?? []), h]);
  const body = {
    resourceSpans: [...byNode.entries()].map(([key, list]) => {
      const [service, host] = key.split('|');
      return {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }, { key: 'host.name', value: { stringValue: host } }] },
        scopeSpans: [
          {
            spans: list.map((h) => ({
              traceId: h.traceId.padStart(32, '0'),
              spanId: h.id,
              ...(h.parent ? { parentSpanId: h.parent } : {}),
              name: h.name,
              kind: h.kind === 'SERVER' ? 2 : 3,
              startTimeUnixNano: String(BigInt(us(h.startMs)) * 1000n),
              endTimeUnixNano: String(BigInt(us(h.endMs)) * 1000n),
            })),
          },
        ],
      };
    }),
  };
  const res = await fetch(`${url}/v1/traces`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  return res.status;
}

/** Delivers each hop over its own protocol. */
export async function deliver(hops: Hop[], to: { zipkin: string; opencensus: string; otlp: string }, ocRepeat = 1): Promise<void> {
  const z = hops.filter((h) => h.via === 'zipkin');
  const oc = hops.filter((h) => h.via === 'opencensus');
  const ot = hops.filter((h) => h.via === 'otlp');
  if (z.length) expectStatus(await sendZipkin(to.zipkin, z), 202);
  if (oc.length) await sendOpenCensus(to.opencensus, oc, ocRepeat);
  if (ot.length) expectStatus(await sendOtlp(to.otlp, ot), 200);
}

function expectStatus(got: number, want: number): void {
  if (got !== want) throw new Error(`receiver answered ${got}, expected ${want}`);
}

/** A deterministic shuffle (tests must not depend on luck). */
export function shuffled<T>(xs: T[], seed: number): T[] {
  const out = [...xs];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
