/**
 * An ingress-nginx stand-in with `enable-opentracing` and `zipkin-collector-host`: a reverse proxy
 * whose Zipkin tracer (zipkin-cpp-opentracing) reports like the real one: v1 JSON POSTed to
 * /api/v1/spans, service name "nginx" in an `lc` binary annotation with the endpoint, tags as
 * binary annotations, no core annotations, random 64-bit IDs (128-bit with ZIPKIN_128BIT=true).
 * Per request it makes nginx-opentracing's two spans, the request span and the location span (both
 * named after the location block, "/"), and sends the location span's B3 context upstream.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';

export interface IngressConfig {
  port: number;
  bind: string;
  upstream: string;
  zipkin: string;
  serviceName: string;
  traceId128: boolean;
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const micros = () => Math.round((performance.timeOrigin + performance.now()) * 1000);

interface V1Span {
  traceId: string;
  id: string;
  parentId?: string;
  name: string;
  timestamp: number;
  duration: number;
  annotations: never[];
  binaryAnnotations: { key: string; value: string; endpoint?: { serviceName: string; ipv4: string; port?: number } }[];
}

export class Ingress {
  private server: http.Server | undefined;
  private buffer: V1Span[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly endpoint;

  constructor(private readonly config: IngressConfig) {
    this.endpoint = { serviceName: config.serviceName, ipv4: '127.0.0.1', port: config.port };
  }

  private span(traceId: string, id: string, parentId: string | undefined, start: number, tags: Record<string, string>): V1Span {
    return {
      traceId,
      id,
      ...(parentId ? { parentId } : {}),
      name: '/',
      timestamp: start,
      duration: Math.max(micros() - start, 1),
      annotations: [],
      binaryAnnotations: [{ key: 'lc', value: this.config.serviceName, endpoint: this.endpoint }, ...Object.entries(tags).map(([key, value]) => ({ key, value, endpoint: this.endpoint }))],
    };
  }

  async start(): Promise<number> {
    const [uhost, uport] = this.config.upstream.split(':');
    this.server = http.createServer((req, res) => {
      const start = micros();
      // Continue an incoming B3 trace (ingress-nginx extracts it), else start one.
      const inTrace = req.headers['x-b3-traceid'] as string | undefined;
      const traceId = inTrace ?? hex(this.config.traceId128 ? 16 : 8);
      const parent = inTrace ? (req.headers['x-b3-spanid'] as string | undefined) : undefined;
      const requestSpanId = hex(8);
      const locationSpanId = hex(8);
      const headers = { ...req.headers, 'x-b3-traceid': traceId, 'x-b3-spanid': locationSpanId, 'x-b3-parentspanid': requestSpanId, 'x-b3-sampled': '1', host: req.headers.host ?? 'web' };
      const out = http.request({ host: uhost, port: Number(uport), method: req.method, path: req.url, headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
        up.on('end', () => {
          const status = String(up.statusCode ?? 502);
          const common = { component: 'nginx', 'nginx.worker_pid': String(process.pid), 'http.method': req.method ?? 'GET', 'http.url': `http://${req.headers.host ?? ''}${req.url ?? ''}`, 'http.host': req.headers.host ?? '', 'http.status_code': status };
          this.buffer.push(this.span(traceId, locationSpanId, requestSpanId, start, { ...common, 'upstream.address': this.config.upstream, ...(Number(status) >= 500 ? { error: 'true' } : {}) }));
          this.buffer.push(this.span(traceId, requestSpanId, parent, start, { ...common, 'peer.address': req.socket.remoteAddress ?? '', ...(Number(status) >= 500 ? { error: 'true' } : {}) }));
        });
      });
      out.on('error', () => res.writeHead(502).end('bad gateway'));
      req.pipe(out);
    });
    await new Promise<void>((r) => this.server!.listen(this.config.port, this.config.bind, r));
    this.timer = setInterval(() => void this.flush(), 200);
    this.timer.unref();
    return (this.server.address() as AddressInfo).port;
  }

  async flush(): Promise<void> {
    if (this.buffer.length === 0) return;
    const spans = this.buffer;
    this.buffer = [];
    await fetch(`${this.config.zipkin.replace(/\/$/, '')}/api/v1/spans`, { method: 'POST', body: JSON.stringify(spans), headers: { 'content-type': 'application/json' } })
      .then((r) => r.arrayBuffer())
      .catch(() => {});
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    await this.flush();
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const ingress = new Ingress(JSON.parse(process.env.INGRESS_CONFIG ?? '{}') as IngressConfig);
  const port = await ingress.start();
  process.stdout.write(`${JSON.stringify({ service: 'ingress', port })}\n`);
  const stop = () => void ingress.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
