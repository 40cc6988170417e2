/**
 * Test backends that speak the real wire protocols span-relay exports to. They decode what they
 * receive with tooling independent of the exporter code: @grpc/proto-loader for gRPC, thriftrw with
 * jaeger-client's own jaeger.thrift for Thrift.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import { PROTO_DIR } from '../../src/paths.js';

const require = createRequire(import.meta.url);

const LOADER_OPTIONS: protoLoader.Options = { keepCase: false, longs: String, enums: String, bytes: String, defaults: false, oneofs: true };

/** Decoded with `bytes: String`, IDs arrive base64; tests want hex. */
export const b64hex = (b64: string | undefined): string => Buffer.from(b64 ?? '', 'base64').toString('hex');

export interface SinkFailure {
  /** How many requests to fail before accepting. */
  times: number;
  grpcCode?: grpc.status;
  httpStatus?: number;
  retryAfter?: string;
}

abstract class Sink<T> {
  readonly requests: T[] = [];
  failure: SinkFailure | undefined;
  attempts = 0;
  private waiters: { n: number; resolve: () => void }[] = [];

  /** Forgets what arrived (between tests). */
  clear(): void {
    this.requests.length = 0;
  }

  protected record(req: T): void {
    this.requests.push(req);
    for (const w of [...this.waiters]) {
      if (this.count() >= w.n) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  }
  protected shouldFail(): SinkFailure | undefined {
    this.attempts++;
    if (this.failure && this.failure.times > 0) {
      this.failure.times--;
      return this.failure;
    }
    return undefined;
  }
  abstract count(): number;

  /** Resolves when at least n spans have arrived; rejects after `ms`. */
  waitForSpans(n: number, ms = 10_000): Promise<void> {
    if (this.count() >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`sink got ${this.count()} spans, expected ${n}`)), ms);
      this.waiters.push({ n, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }
}

// --- OTLP -------------------------------------------------------------------------------------
export interface OtlpKv {
  key: string;
  value: { stringValue?: string; intValue?: string; boolValue?: boolean; doubleValue?: number; value?: string };
}
/** An AnyValue as the sinks decode it (proto-loader, `oneofs: true`: `value` names the case that is set). */
export interface RawAnyValue {
  value?: string;
  stringValue?: string;
  intValue?: string;
  doubleValue?: number;
  boolValue?: boolean;
  bytesValue?: string;
  arrayValue?: { values?: RawAnyValue[] };
  kvlistValue?: { values?: RawKeyValue[] };
}
export interface RawKeyValue {
  key: string;
  value?: RawAnyValue;
}
export interface OtlpSinkSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes?: OtlpKv[];
  events?: { timeUnixNano: string; name: string; attributes?: OtlpKv[] }[];
  links?: { traceId: string; spanId: string }[];
  status?: { code?: string; message?: string };
  traceState?: string;
}
export interface OtlpSinkRequest {
  resourceSpans?: { resource?: { attributes?: OtlpKv[] }; scopeSpans?: { scope?: { name?: string; version?: string }; spans?: OtlpSinkSpan[] }[] }[];
}

/** A span as the sink saw it, flattened with its resource, IDs in hex. */
export interface FlatOtlpSpan extends Omit<OtlpSinkSpan, 'attributes' | 'events'> {
  service: string | undefined;
  resource: Record<string, unknown>;
  attributes: Record<string, unknown>;
  events: { timeUnixNano: string; name: string; attributes: Record<string, unknown> }[];
  scope: { name?: string; version?: string } | undefined;
}

export function kvs(list: OtlpKv[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of list ?? []) {
    const v = kv.value;
    out[kv.key] = v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : undefined) ?? v.boolValue ?? v.doubleValue;
  }
  return out;
}

export function flattenOtlp(requests: OtlpSinkRequest[]): FlatOtlpSpan[] {
  const out: FlatOtlpSpan[] = [];
  for (const req of requests)
    for (const rs of req.resourceSpans ?? []) {
      const resource = kvs(rs.resource?.attributes);
      for (const ss of rs.scopeSpans ?? [])
        for (const s of ss.spans ?? []) {
          const { attributes: _a, events: _e, ...rest } = s;
          out.push({
            ...rest,
            traceId: b64hex(s.traceId),
            spanId: b64hex(s.spanId),
            parentSpanId: s.parentSpanId ? b64hex(s.parentSpanId) : undefined,
            links: (s.links ?? []).map((l) => ({ traceId: b64hex(l.traceId), spanId: b64hex(l.spanId) })),
            service: resource['service.name'] as string | undefined,
            resource,
            attributes: kvs(s.attributes),
            events: (s.events ?? []).map((e) => ({ ...e, attributes: kvs(e.attributes) })),
            scope: ss.scope,
          });
        }
    }
  return out;
}

export function loadService(file: string, pkg: string[]): grpc.GrpcObject {
  let obj: grpc.GrpcObject = grpc.loadPackageDefinition(protoLoader.loadSync(join(PROTO_DIR, file), LOADER_OPTIONS));
  for (const p of pkg) obj = obj[p] as grpc.GrpcObject;
  return obj;
}

async function bindGrpc(server: grpc.Server, tls?: { key: Buffer; cert: Buffer; clientCa?: Buffer }): Promise<string> {
  const creds = tls ? grpc.ServerCredentials.createSsl(tls.clientCa ?? null, [{ private_key: tls.key, cert_chain: tls.cert }], tls.clientCa !== undefined) : grpc.ServerCredentials.createInsecure();
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', creds, (err, p) => (err ? reject(err) : resolve(p))));
  return `127.0.0.1:${port}`;
}

/**
 * tryShutdown, then forceShutdown after a grace: grpc-js's tryShutdown waits on every session's
 * close callback, and node never calls it for a session already destroyed (a client gone with its
 * socket half-closed), so a graceful stop alone can hang a test's afterAll.
 */
function shutdownGrpc(server: grpc.Server, graceMs = 2000): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
}

export class OtlpGrpcSink extends Sink<OtlpSinkRequest> {
  private server = new grpc.Server();
  endpoint = '';
  /** Partial success to answer with, as a backend that refuses some spans would. */
  partialSuccess: { rejectedSpans: string; errorMessage: string } | undefined;
  metadata: grpc.Metadata[] = [];
  /** A backend that takes requests and never answers (a hung Jaeger). */
  hang = false;
  /** A slow backend: each answer this much later. */
  delayMs = 0;

  /** The requests flattened so far: polled by tests with 100k+ spans, so each request is flattened once. */
  private flat: FlatOtlpSpan[] = [];
  private flattened = 0;
  private flatten(): FlatOtlpSpan[] {
    while (this.flattened < this.requests.length) for (const s of flattenOtlp([this.requests[this.flattened++]!])) this.flat.push(s);
    return this.flat;
  }
  override clear(): void {
    super.clear();
    this.flat = [];
    this.flattened = 0;
  }
  count(): number {
    return this.flatten().length;
  }
  spans(): FlatOtlpSpan[] {
    return this.flatten().slice();
  }
  /** `tls`: serve TLS with this key and certificate (a self-signed one, in tests). */
  async start(tls?: { key: Buffer; cert: Buffer; clientCa?: Buffer }): Promise<this> {
    const svc = loadService('otlp.proto', ['opentelemetry', 'proto', 'collector', 'trace', 'v1', 'TraceService']) as unknown as { service: grpc.ServiceDefinition };
    this.server.addService(svc.service, {
      Export: (call: grpc.ServerUnaryCall<OtlpSinkRequest, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        if (this.hang) return;
        const f = this.shouldFail();
        if (f) {
          cb({ code: f.grpcCode ?? grpc.status.UNAVAILABLE, details: 'sink told to fail' });
          return;
        }
        const answer = () => {
          this.metadata.push(call.metadata);
          this.record(call.request);
          cb(null, this.partialSuccess ? { partialSuccess: this.partialSuccess } : {});
        };
        if (this.delayMs > 0) setTimeout(answer, this.delayMs);
        else answer();
      },
    });
    this.endpoint = await bindGrpc(this.server, tls);
    return this;
  }
  stop(): Promise<void> {
    if (this.hang) {
      this.server.forceShutdown();
      return Promise.resolve();
    }
    return shutdownGrpc(this.server);
  }
}

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const body = Buffer.concat(chunks);
  return req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body;
}

abstract class HttpSink<T> extends Sink<T> {
  private server: Server | undefined;
  url = '';
  headers: IncomingMessage['headers'][] = [];
  protected abstract decode(body: Buffer, req: IncomingMessage): T;
  protected okBody(): { type: string; body: Buffer | string } {
    return { type: 'application/json', body: '{}' };
  }
  /** `tls`: serve HTTPS with this pair (and require client certificates from `clientCa`). */
  async start(tls?: { key: Buffer; cert: Buffer; clientCa?: Buffer }): Promise<this> {
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      void readAll(req).then((body) => {
        const f = this.shouldFail();
        if (f) {
          res.writeHead(f.httpStatus ?? 503, f.retryAfter ? { 'retry-after': f.retryAfter } : {}).end('sink told to fail');
          return;
        }
        this.headers.push(req.headers);
        this.record(this.decode(body, req));
        const ok = this.okBody();
        res.writeHead(200, { 'content-type': ok.type }).end(ok.body);
      });
    };
    this.server = tls
      ? (createHttpsServer({ key: tls.key, cert: tls.cert, ...(tls.clientCa ? { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true } : {}) }, handler) as unknown as Server)
      : createServer(handler);
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `${tls ? 'https' : 'http'}://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }
  stop(): Promise<void> {
    return new Promise((resolve) => {
      this.server?.close(() => resolve());
      this.server?.closeAllConnections();
    });
  }
}

export class OtlpHttpSink extends HttpSink<OtlpSinkRequest> {
  private type = protobuf.loadSync(join(PROTO_DIR, 'otlp.proto')).lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
  count(): number {
    return flattenOtlp(this.requests).length;
  }
  spans(): FlatOtlpSpan[] {
    return flattenOtlp(this.requests);
  }
  protected decode(body: Buffer): OtlpSinkRequest {
    return this.type.toObject(this.type.decode(body), { longs: String, enums: String, bytes: String, oneofs: true }) as OtlpSinkRequest;
  }
  protected override okBody(): { type: string; body: Buffer } {
    return { type: 'application/x-protobuf', body: Buffer.alloc(0) };
  }
}

// --- Jaeger -----------------------------------------------------------------------------------
export interface JaegerProtoKv {
  key: string;
  vType?: string;
  vStr?: string;
  vBool?: boolean;
  vInt64?: string;
  vFloat64?: number;
}
export interface JaegerProtoSpan {
  traceId: string;
  spanId: string;
  operationName: string;
  references?: { traceId: string; spanId: string; refType?: string }[];
  flags?: number;
  startTime: { seconds: string; nanos?: number };
  duration: { seconds?: string; nanos?: number };
  tags?: JaegerProtoKv[];
  logs?: { timestamp: { seconds: string; nanos?: number }; fields: JaegerProtoKv[] }[];
}
export interface JaegerProtoBatch {
  batch: { process: { serviceName: string; tags?: JaegerProtoKv[] }; spans: JaegerProtoSpan[] };
}

export class JaegerGrpcSink extends Sink<JaegerProtoBatch> {
  private server = new grpc.Server();
  endpoint = '';
  count(): number {
    return this.requests.reduce((n, r) => n + r.batch.spans.length, 0);
  }
  async start(): Promise<this> {
    const svc = loadService('jaeger.proto', ['jaeger', 'api_v2', 'CollectorService']) as unknown as { service: grpc.ServiceDefinition };
    this.server.addService(svc.service, {
      PostSpans: (call: grpc.ServerUnaryCall<JaegerProtoBatch, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        const f = this.shouldFail();
        if (f) {
          cb({ code: f.grpcCode ?? grpc.status.UNAVAILABLE, details: 'sink told to fail' });
          return;
        }
        this.record(call.request);
        cb(null, {});
      },
    });
    this.endpoint = await bindGrpc(this.server);
    return this;
  }
  stop(): Promise<void> {
    return shutdownGrpc(this.server);
  }
}

export interface ThriftTag {
  key: string;
  vType: string;
  vStr?: string | null;
  vDouble?: number | null;
  vBool?: boolean | null;
  vLong?: Buffer | null;
  vBinary?: Buffer | null;
}
export interface ThriftSpan {
  traceIdLow: Buffer;
  traceIdHigh: Buffer;
  spanId: Buffer;
  parentSpanId: Buffer;
  operationName: string;
  references: { refType: string; traceIdLow: Buffer; traceIdHigh: Buffer; spanId: Buffer }[] | null;
  flags: number;
  startTime: Buffer;
  duration: Buffer;
  tags: ThriftTag[] | null;
  logs: { timestamp: Buffer; fields: ThriftTag[] }[] | null;
}
export interface ThriftBatch {
  process: { serviceName: string; tags: ThriftTag[] | null };
  spans: ThriftSpan[];
}

interface ThriftRW {
  getType(name: string): { fromBufferResult(b: Buffer): { err: Error | null; value: unknown } };
}

/** Jaeger's collector HTTP endpoint: POST /api/traces, TBinaryProtocol Batch. */
export class JaegerThriftSink extends HttpSink<ThriftBatch> {
  private readonly thrift: ThriftRW;
  paths: string[] = [];
  constructor() {
    super();
    const { Thrift } = require('thriftrw') as { Thrift: new (o: { source: string; allowOptionalArguments: boolean }) => ThriftRW };
    const idl = join(dirname(require.resolve('jaeger-client/package.json')), 'dist/src/jaeger-idl/thrift/jaeger.thrift');
    this.thrift = new Thrift({ source: readFileSync(idl, 'utf8'), allowOptionalArguments: true });
  }
  count(): number {
    return this.requests.reduce((n, r) => n + r.spans.length, 0);
  }
  protected decode(body: Buffer, req: IncomingMessage): ThriftBatch {
    this.paths.push(req.url ?? '');
    const result = this.thrift.getType('Batch').fromBufferResult(body);
    if (result.err) throw result.err;
    return result.value as ThriftBatch;
  }
}

/** Big-endian 8-byte buffer (thriftrw's i64) as hex / bigint. */
export const i64hex = (b: Buffer): string => b.toString('hex');
export const i64 = (b: Buffer): bigint => b.readBigInt64BE(0);
