/**
 * A linkerd2-proxy stand-in for the demo: an inbound listener in front of its app and outbound
 * listeners for the app's calls, HTTP/1.1 and HTTP/2 (gRPC). Like linkerd2-proxy it continues the
 * incoming trace context, makes one span per request (named by the URI path, with linkerd's labels;
 * server kind inbound, client kind outbound) and exports it over OpenCensus or OTLP. Outbound, it
 * applies a ServiceProfile: retryable routes retry within a retry budget (each attempt its own span)
 * and a route timeout answers 504.
 */
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { Span, SpanKind } from '../../collector/src/model/span.js';
import { extract, inject, newSpanId, type TraceContext } from './trace-context.js';
import { loadProfile, matchRoute, RetryBudget, type Route, type ServiceProfile } from './profile.js';
import { SpanReporter } from './span-export.js';

export interface Listener {
  port: number;
  /** host:port to forward to: the app (inbound) or the destination's inbound sidecar (outbound). */
  target: string;
  /** The destination's service name, e.g. voting-svc.emojivoto.svc.cluster.local:8080. */
  authority: string;
  protocol: 'http1' | 'h2';
  profile?: string;
}

export interface SidecarConfig {
  pod: string;
  namespace: string;
  bind: string;
  inbound: Listener;
  outbound: Listener[];
  trace: { protocol: 'opencensus' | 'otlp'; endpoint: string };
}

type Headers = Record<string, string | string[] | undefined>;
interface Request {
  method: string;
  path: string;
  headers: Headers;
  body: Buffer;
}
interface Response {
  status: number;
  headers: Headers;
  body: Buffer;
  trailers?: Headers;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'http2-settings', 'host', 'content-length']);
const clean = (h: Headers): Headers => Object.fromEntries(Object.entries(h).filter(([k]) => !k.startsWith(':') && !HOP_BY_HOP.has(k)));
const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

/** A response is a failure for retries and span status: HTTP 5xx, or a gRPC status other than OK. */
function failed(r: Response): boolean {
  const grpcStatus = first(r.trailers?.['grpc-status']) ?? first(r.headers['grpc-status']);
  return r.status >= 500 || (grpcStatus !== undefined && grpcStatus !== '0');
}

class Forwarder {
  private session: http2.ClientHttp2Session | undefined;
  constructor(private readonly l: Listener) {}

  send(req: Request, signal: AbortSignal): Promise<Response> {
    return this.l.protocol === 'h2' ? this.h2(req, signal) : this.h1(req, signal);
  }

  private h1(req: Request, signal: AbortSignal): Promise<Response> {
    const [host, port] = this.l.target.split(':');
    return new Promise((resolve, reject) => {
      const out = http.request({ host, port: Number(port), method: req.method, path: req.path, headers: { ...clean(req.headers), host: this.l.authority }, signal }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 502, headers: clean(res.headers), body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      out.on('error', reject);
      out.end(req.body);
    });
  }

  private h2(req: Request, signal: AbortSignal): Promise<Response> {
    if (!this.session || this.session.closed || this.session.destroyed) {
      this.session = http2.connect(`http://${this.l.target}`);
      this.session.on('error', () => (this.session = undefined));
    }
    const session = this.session;
    return new Promise((resolve, reject) => {
      const stream = session.request({ ...clean(req.headers), ':method': req.method, ':path': req.path, ':authority': this.l.authority, ':scheme': 'http' }, { signal });
      let status = 502;
      let headers: Headers = {};
      let trailers: Headers | undefined;
      const chunks: Buffer[] = [];
      stream.on('response', (h) => {
        status = Number(h[':status'] ?? 502);
        headers = clean(h as Headers);
      });
      stream.on('trailers', (t) => (trailers = clean(t as Headers)));
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => resolve({ status, headers, body: Buffer.concat(chunks), ...(trailers ? { trailers } : {}) }));
      stream.on('error', reject);
      stream.end(req.body);
    });
  }

  close(): void {
    this.session?.close();
  }
}

export class Sidecar {
  private readonly servers: (http.Server | http2.Http2Server)[] = [];
  private readonly forwarders: Forwarder[] = [];
  private readonly reporter: SpanReporter;
  private readonly resource: Span['resource'];

  constructor(private readonly config: SidecarConfig) {
    this.reporter = new SpanReporter(config.trace.protocol, config.trace.endpoint);
    this.resource = { attributes: { 'service.name': 'linkerd-proxy', 'host.name': config.pod, 'linkerd.io/workload-ns': config.namespace, 'k8s.pod.name': config.pod } };
  }

  async start(): Promise<{ inbound: number; outbound: number[] }> {
    const inbound = await this.listen(this.config.inbound, 'server', undefined);
    const outbound: number[] = [];
    for (const l of this.config.outbound) outbound.push(await this.listen(l, 'client', l.profile ? loadProfile(l.profile) : undefined));
    return { inbound, outbound };
  }

  private async listen(l: Listener, kind: SpanKind, profile: ServiceProfile | undefined): Promise<number> {
    const forwarder = new Forwarder(l);
    this.forwarders.push(forwarder);
    const budget = profile ? new RetryBudget(profile.retryBudget) : undefined;
    const handle = (req: Request): Promise<Response> => this.proxy(req, kind, forwarder, matchRoute(profile, req.method, req.path), budget);
    let server: http.Server | http2.Http2Server;
    if (l.protocol === 'h2') {
      const h2 = http2.createServer();
      h2.on('stream', (stream, headers) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          void handle({ method: String(headers[':method']), path: String(headers[':path']), headers: { ...headers } as Headers, body: Buffer.concat(chunks) }).then((res) => {
            if (stream.destroyed) return;
            stream.respond({ ...res.headers, ':status': res.status }, { waitForTrailers: res.trailers !== undefined });
            if (res.trailers) stream.once('wantTrailers', () => stream.sendTrailers(res.trailers as http2.OutgoingHttpHeaders));
            stream.end(res.body);
          });
        });
        stream.on('error', () => {});
      });
      server = h2;
    } else {
      server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          void handle({ method: req.method ?? 'GET', path: req.url ?? '/', headers: { ...req.headers }, body: Buffer.concat(chunks) }).then((r) => {
            res.writeHead(r.status, r.headers as http.OutgoingHttpHeaders).end(r.body);
          });
        });
      });
    }
    await new Promise<void>((resolve) => server.listen(l.port, this.config.bind, resolve));
    this.servers.push(server);
    return (server.address() as AddressInfo).port;
  }

  private async attempt(forwarder: Forwarder, req: Request, route: Route | undefined): Promise<Response> {
    const timeout = route?.timeoutMs;
    try {
      return await forwarder.send(req, timeout ? AbortSignal.timeout(timeout) : new AbortController().signal);
    } catch (err) {
      if ((err as Error).name === 'TimeoutError' || (err as Error).name === 'AbortError') {
        return { status: 504, headers: { 'l5d-proxy-error': 'request timed out', 'content-type': 'text/plain' }, body: Buffer.from('request timed out') };
      }
      return { status: 502, headers: { 'l5d-proxy-error': (err as Error).message, 'content-type': 'text/plain' }, body: Buffer.from((err as Error).message) };
    }
  }

  private async proxy(req: Request, kind: SpanKind, forwarder: Forwarder, route: Route | undefined, budget: RetryBudget | undefined): Promise<Response> {
    const ctx = extract(req.headers);
    const traced = ctx?.sampled ? ctx : undefined;
    const spanId = newSpanId();
    if (ctx) inject(req.headers, ctx, spanId);
    const start = process.hrtime.bigint();
    const startNs = BigInt(Date.now()) * 1_000_000n;
    let res: Response;
    budget?.request();
    if (route?.isRetryable && traced) {
      // Each attempt is its own span under this one, and carries its own ID to the next hop.
      for (let n = 1; ; n++) {
        const attemptId = newSpanId();
        const headers = { ...req.headers };
        inject(headers, { ...traced, parentId: spanId }, attemptId);
        const t0 = BigInt(Date.now()) * 1_000_000n;
        const h0 = process.hrtime.bigint();
        res = await this.attempt(forwarder, { ...req, headers }, route);
        this.record(traced, attemptId, spanId, 'client', req, res, t0, process.hrtime.bigint() - h0, { 'linkerd.retry.attempt': n, 'linkerd.route': route.name });
        if (!failed(res) || !budget?.tryRetry()) break;
      }
    } else {
      res = await this.attempt(forwarder, req, route);
    }
    if (traced) this.record(traced, spanId, traced.parentId, kind, req, res, startNs, process.hrtime.bigint() - start, route ? { 'linkerd.route': route.name } : {});
    return res;
  }

  private record(ctx: TraceContext, spanId: string, parentId: string, kind: SpanKind, req: Request, res: Response, startNs: bigint, durNs: bigint, extra: Record<string, string | number>): void {
    const path = req.path.split('?')[0]!;
    const authority = first(req.headers[':authority']) ?? first(req.headers.host) ?? '';
    const [host, port] = authority.split(':');
    const query = req.path.includes('?') ? req.path.slice(req.path.indexOf('?') + 1) : undefined;
    this.reporter.report({
      traceId: ctx.traceId,
      spanId,
      parentSpanId: parentId,
      // linkerd2-proxy names its spans by the request's URI path, with these labels.
      name: path,
      kind,
      startTimeUnixNano: startNs,
      endTimeUnixNano: startNs + durNs,
      attributes: {
        'http.request.method': req.method,
        'url.scheme': 'http',
        'url.path': path,
        ...(query ? { 'url.query': query } : {}),
        ...(host ? { 'server.address': host } : {}),
        ...(port ? { 'server.port': port } : {}),
        'http.response.status_code': String(res.status),
        ...(first(res.trailers?.['grpc-status']) !== undefined ? { 'rpc.grpc.status_code': first(res.trailers?.['grpc-status'])! } : {}),
        ...extra,
      },
      events: [],
      links: [],
      status: failed(res) ? { code: 'error', ...(res.status === 504 ? { message: 'request timed out' } : {}) } : { code: 'unset' },
      resource: this.resource,
      source: 'opencensus',
    });
  }

  async close(): Promise<void> {
    for (const f of this.forwarders) f.close();
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    await this.reporter.close();
  }
}

// Run as a process: SIDECAR_CONFIG holds the JSON config.
if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const sidecar = new Sidecar(JSON.parse(process.env.SIDECAR_CONFIG ?? '{}') as SidecarConfig);
  const ports = await sidecar.start();
  process.stdout.write(`${JSON.stringify({ service: `linkerd-proxy@${JSON.parse(process.env.SIDECAR_CONFIG ?? '{}').pod}`, port: ports.inbound, outbound: ports.outbound })}\n`);
  const stop = () => void sidecar.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
