/** One sender per protocol: each delivers a request as the original client did and classifies the answer. */
import * as grpc from '@grpc/grpc-js';
import type { CaptureProtocol } from '../capture/format.js';
import { retryAfterMs, type ExportError } from '../exporters/sender.js';
import { UnaryGrpcClient } from '../net/grpc-client.js';
import { passThrough } from '../net/grpc-server.js';
import { protoType } from '../protocol/proto.js';

export interface Outbound {
  protocol: CaptureProtocol;
  body: Buffer;
  contentType: string;
  path?: string;
  /** OpenCensus: which stream it belongs to (messages of one stream share node and resource). */
  stream?: string;
  spans: number;
}

export type SendOutcome =
  | { kind: 'accepted'; refusedSpans?: number; reason?: string }
  | { kind: 'refused'; reason: string }
  | { kind: 'retry'; reason: string; afterMs?: number; /** The connection itself was refused: nothing listens there. */ unreachable?: boolean };

export interface Targets {
  zipkin: string;
  otlpHttp: string;
  otlpGrpc: string;
  opencensus: string;
  jaegerThrift: string;
}

const DEFAULT_PORTS = { zipkin: 9411, otlpHttp: 4318, otlpGrpc: 4317, opencensus: 55678, jaegerThrift: 14268 };

/** `--to host`, `host:port` or a URL: a port given applies to every protocol, else each its standard one. */
export function parseTargets(to: string): Targets {
  const url = new URL(/^[a-z]+:\/\//.test(to) ? to : `http://${to}`);
  const host = url.hostname.includes(':') ? `[${url.hostname}]` : url.hostname;
  const port = (p: number) => url.port || String(p);
  const base = (p: number) => `${url.protocol === 'https:' ? 'https' : 'http'}://${host}:${port(p)}`;
  return {
    zipkin: base(DEFAULT_PORTS.zipkin),
    otlpHttp: base(DEFAULT_PORTS.otlpHttp),
    otlpGrpc: `${host}:${port(DEFAULT_PORTS.otlpGrpc)}`,
    opencensus: `${host}:${port(DEFAULT_PORTS.opencensus)}`,
    jaegerThrift: base(DEFAULT_PORTS.jaegerThrift),
  };
}

const RETRY_HTTP = new Set([429, 502, 503, 504]);
const REFUSED = /ECONNREFUSED/;

async function post(url: string, o: Outbound, signal: AbortSignal): Promise<{ outcome: SendOutcome; res?: Response; bytes?: Uint8Array }> {
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', body: o.body, headers: { 'content-type': o.contentType }, signal });
  } catch (err) {
    const cause = (err as Error).cause as NodeJS.ErrnoException | undefined;
    return { outcome: { kind: 'retry', reason: `connection: ${cause?.message ?? (err as Error).message}`, unreachable: cause?.code === 'ECONNREFUSED' } };
  }
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (res.ok) return { outcome: { kind: 'accepted' }, res, bytes };
  if (RETRY_HTTP.has(res.status)) return { outcome: { kind: 'retry', reason: `http_${res.status}`, afterMs: retryAfterMs(res.headers.get('retry-after')) } };
  return { outcome: { kind: 'refused', reason: `http_${res.status}` } };
}

function partialSuccess(bytes: Uint8Array | undefined, json: boolean): number {
  if (!bytes || bytes.length === 0) return 0;
  try {
    const ps = json
      ? (JSON.parse(Buffer.from(bytes).toString('utf8')) as { partialSuccess?: { rejectedSpans?: number | string } }).partialSuccess
      : (protoType('otlp', 'opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse').toObject(
          protoType('otlp', 'opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse').decode(bytes),
          { longs: Number },
        ) as { partialSuccess?: { rejectedSpans?: number } }).partialSuccess;
    return Number(ps?.rejectedSpans ?? 0);
  } catch {
    return 0;
  }
}

export class Senders {
  private grpcClient: UnaryGrpcClient | undefined;
  private ocClient: grpc.Client | undefined;
  private readonly ocStreams = new Map<string, { stream: grpc.ClientDuplexStream<Buffer, Buffer>; error?: grpc.ServiceError; done: Promise<void> }>();
  private readonly abort = new AbortController();
  /** Spans refused on OpenCensus streams that failed after their messages were written. */
  streamFailures: { stream: string; reason: string }[] = [];

  constructor(private readonly targets: Targets) {}

  async send(o: Outbound): Promise<SendOutcome> {
    const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(30_000)]);
    switch (o.protocol) {
      case 'zipkin': {
        const r = await post(`${this.targets.zipkin}${o.path ?? '/api/v2/spans'}`, o, signal);
        return r.outcome;
      }
      case 'otlp-http': {
        const r = await post(`${this.targets.otlpHttp}${o.path ?? '/v1/traces'}`, o, signal);
        if (r.outcome.kind !== 'accepted') return r.outcome;
        const rejected = partialSuccess(r.bytes, (r.res?.headers.get('content-type') ?? '').includes('json'));
        return rejected > 0 ? { kind: 'accepted', refusedSpans: rejected, reason: 'partial_success' } : r.outcome;
      }
      case 'jaeger-thrift':
        return (await post(`${this.targets.jaegerThrift}${o.path ?? '/api/traces'}`, o, signal)).outcome;
      case 'otlp-grpc': {
        this.grpcClient ??= new UnaryGrpcClient({ endpoint: this.targets.otlpGrpc, insecure: true, headers: {}, compression: 'none' });
        try {
          const res = await this.grpcClient.call('/opentelemetry.proto.collector.trace.v1.TraceService/Export', o.body, signal);
          const rejected = partialSuccess(res, false);
          return rejected > 0 ? { kind: 'accepted', refusedSpans: rejected, reason: 'partial_success' } : { kind: 'accepted' };
        } catch (err) {
          const e = err as ExportError;
          return e.retryable ? { kind: 'retry', reason: e.code, unreachable: REFUSED.test(e.message) } : { kind: 'refused', reason: e.code };
        }
      }
      case 'opencensus':
        return this.sendOc(o);
    }
  }

  private ocStream(key: string) {
    let s = this.ocStreams.get(key);
    if (s && !s.error) return s;
    this.ocClient ??= new grpc.Client(this.targets.opencensus, grpc.credentials.createInsecure());
    const stream = this.ocClient.makeBidiStreamRequest('/opencensus.proto.agent.trace.v1.TraceService/Export', passThrough.serialize, passThrough.deserialize);
    const entry: { stream: typeof stream; error?: grpc.ServiceError; done: Promise<void> } = {
      stream,
      done: new Promise<void>((resolve) => {
        stream.on('status', () => resolve());
        stream.on('error', (err: grpc.ServiceError) => {
          entry.error = err;
          resolve();
        });
      }),
    };
    stream.on('data', () => {});
    this.ocStreams.set(key, entry);
    s = entry;
    return s;
  }

  private async sendOc(o: Outbound): Promise<SendOutcome> {
    const entry = this.ocStream(o.stream ?? 'default');
    if (entry.error) return this.ocOutcome(entry.error);
    const written = await new Promise<Error | null | undefined>((resolve) => entry.stream.write(o.body, (err: Error | null | undefined) => resolve(err)));
    // An error the agent answers with arrives asynchronously; give it a turn to land.
    await new Promise((r) => setImmediate(r));
    if (entry.error) return this.ocOutcome(entry.error);
    if (written) return { kind: 'retry', reason: `stream: ${written.message}` };
    return { kind: 'accepted' };
  }

  private ocOutcome(err: grpc.ServiceError): SendOutcome {
    const name = `grpc_${grpc.status[err.code] ?? err.code}`;
    return err.code === grpc.status.RESOURCE_EXHAUSTED || err.code === grpc.status.UNAVAILABLE ? { kind: 'retry', reason: name, unreachable: REFUSED.test(err.details ?? '') } : { kind: 'refused', reason: name };
  }

  async close(): Promise<void> {
    for (const [key, s] of this.ocStreams) {
      s.stream.end();
      await Promise.race([s.done, new Promise((r) => setTimeout(r, 5000))]);
      if (s.error && s.error.code !== grpc.status.OK) this.streamFailures.push({ stream: key, reason: `grpc_${grpc.status[s.error.code]}` });
    }
    this.ocClient?.close();
    this.grpcClient?.close();
    this.abort.abort();
  }
}

