/**
 * Unary gRPC on node:http2 alone, for the receivers whose every call is one request and one answer
 * (OTLP Export, Jaeger PostSpans). grpc-js's server-side call machinery (interceptors, metadata
 * objects, a decoder stream, per-call filters) was a measured share of those receivers' CPU (issue
 * #31); this keeps what the protocol (grpc/grpc doc/PROTOCOL-HTTP2.md) and the options of
 * `GrpcServer` require: length-prefixed messages, request compression, deadlines, status trailers,
 * the content-type check, the message size limit read from the prefix, max concurrent streams,
 * keepalive (server pings, idle and age limits, grpc-go's ping enforcement), TLS from a rotating
 * source with mTLS, and graceful shutdown. Streaming calls stay on grpc-js (`GrpcServer`).
 */
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { gunzip, inflate, type InputType, type ZlibOptions } from 'node:zlib';
import { ListenError } from '../model/errors.js';
import { parseEndpoint } from './http-server.js';
import { handshakeFailure, secureContextOptions } from './tls.js';
import type { GrpcServerOptions } from './grpc-server.js';

/** The status codes a unary receiver answers with (grpc/grpc doc/statuscodes.md). */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;
export type GrpcStatusCode = (typeof GrpcStatus)[keyof typeof GrpcStatus];

/** A call's failure, as the client will see it: grpc-status and grpc-message. */
export class GrpcStatusError extends Error {
  constructor(
    readonly code: GrpcStatusCode,
    readonly details: string,
  ) {
    super(details);
  }
}

export interface UnaryRequest {
  /** The request message, decompressed, not decoded. */
  message: Buffer;
  /** The `authorization` metadata, when the client sent it. */
  authorization: string | undefined;
}

/** The response message (not yet framed), or the status to end the call with. */
export type UnaryAnswer = Buffer | GrpcStatusError;
export type UnaryMethod = (request: UnaryRequest) => Promise<UnaryAnswer>;

const { HTTP2_HEADER_STATUS, HTTP2_HEADER_CONTENT_TYPE, HTTP2_HEADER_METHOD, HTTP2_HEADER_PATH, NGHTTP2_NO_ERROR, NGHTTP2_ENHANCE_YOUR_CALM } = http2.constants;
const ACCEPT_ENCODING = 'identity,deflate,gzip';
/** GOAWAY's last stream id for "every stream opened so far may finish" (2^31 - 1). */
const ALL_STREAMS = 0x7fffffff;
/** grpc-go's: a third ping too soon closes the connection. */
const MAX_PING_STRIKES = 2;
/** grpc-go's window for pings on a connection with no calls when permit_without_stream is off. */
const PING_WITHOUT_STREAM_MS = 2 * 60 * 60 * 1000;
const MAX_AGE = Buffer.from('max_age');
const IDLE = Buffer.from('max_idle');
const TOO_MANY_PINGS = Buffer.from('too_many_pings');
const TIMEOUT_UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000_001 };
const TIMEOUT = /^(\d{1,8})([HMSmun])$/;
const noop = (): void => undefined;

const RESPONSE_HEADERS: http2.OutgoingHttpHeaders = { [HTTP2_HEADER_STATUS]: 200, [HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc', 'grpc-accept-encoding': ACCEPT_ENCODING };
const OK_TRAILERS: http2.OutgoingHttpHeaders = { 'grpc-status': '0' };
const RESPOND = { waitForTrailers: true, sendDate: false } as const;
const RESPOND_AND_END = { endStream: true, sendDate: false } as const;
/** An empty response message, framed: not compressed, length 0. */
const EMPTY_FRAME = Buffer.alloc(5);

/** grpc-message is percent-encoded: printable ASCII but '%' passes, every other byte is %XX. */
export function encodeGrpcMessage(text: string): string {
  if (/^[\x20-\x24\x26-\x7e]*$/.test(text)) return text;
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

/** A grpc-timeout value in milliseconds, or undefined when it does not parse. */
export function parseGrpcTimeout(value: string): number | undefined {
  const m = TIMEOUT.exec(value);
  return m ? Number(m[1]) * TIMEOUT_UNIT_MS[m[2]!]! : undefined;
}

/** One connection's keepalive bookkeeping. */
class Connection {
  active = 0;
  idleSince = Date.now();
  /** grpc-go's ping policy: strikes, reset whenever the server sends headers or data. */
  pingStrikes = 0;
  resetPingStrikes = false;
  lastPingAt = 0;
  /** Pending timers only: one that fired or was cancelled is gone, so a long connection holds a few. */
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(readonly session: http2.ServerHttp2Session) {}

  timer(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    t.unref();
    this.timers.add(t);
    return t;
  }

  cancel(t: NodeJS.Timeout): void {
    clearTimeout(t);
    this.timers.delete(t);
  }

  /** GOAWAY with `code`, then close once the calls in flight end, and cut what is left after `graceMs`. */
  goaway(code: number, debug: Buffer, graceMs: number): void {
    const s = this.session;
    if (s.closed || s.destroyed) return;
    try {
      s.goaway(code, ALL_STREAMS, debug);
      s.close();
    } catch {
      s.destroy();
      return;
    }
    if (Number.isFinite(graceMs)) this.timer(graceMs, () => s.destroy());
  }

  clear(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}

/** One call in flight: its frame bytes so far, its deadline, whether it has been answered. */
class Call {
  private chunks: Buffer[] = [];
  private received = 0;
  /** The declared message length, once the 5-byte prefix is in. */
  private length = -1;
  private done = false;
  private deadline: NodeJS.Timeout | undefined;

  constructor(
    private readonly server: GrpcUnaryServer,
    private readonly stream: http2.ServerHttp2Stream,
    private readonly connection: Connection | undefined,
    private readonly method: UnaryMethod,
    private readonly encoding: 'identity' | 'gzip' | 'deflate',
    private readonly authorization: string | undefined,
    timeoutMs: number | undefined,
  ) {
    if (timeoutMs !== undefined) {
      this.deadline = setTimeout(() => this.fail(GrpcStatus.DEADLINE_EXCEEDED, 'Deadline exceeded'), timeoutMs);
      this.deadline.unref();
    }
    stream.on('data', (chunk: Buffer) => this.onData(chunk));
    stream.once('end', () => this.onEnd());
    // A reset by the client (RST_STREAM) or a cut connection: drop what was read; the answer, if it comes, goes nowhere.
    stream.once('close', () => this.finish());
  }

  private onData(chunk: Buffer): void {
    if (this.done) return;
    this.received += chunk.length;
    this.chunks.push(chunk);
    if (this.length < 0 && this.received >= 5) {
      const head = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
      this.chunks = [head];
      this.length = head.readUInt32BE(1);
      const max = this.server.maxMessageBytes;
      if (this.length > max) {
        this.fail(GrpcStatus.RESOURCE_EXHAUSTED, `Received message larger than max (${this.length} vs. ${max})`);
        return;
      }
    }
    if (this.length >= 0 && this.received > 5 + this.length) this.fail(GrpcStatus.UNIMPLEMENTED, 'Received a second request message for unary method');
  }

  private onEnd(): void {
    if (this.done) return;
    if (this.received < 5 || this.received < 5 + this.length) {
      this.fail(GrpcStatus.UNIMPLEMENTED, this.received === 0 ? 'Received no request message for unary method' : 'Received a truncated request message');
      return;
    }
    const frame = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.received);
    this.chunks = [];
    const compressed = frame[0] !== 0;
    const body = frame.subarray(5);
    if (!compressed) {
      this.call(body);
      return;
    }
    if (this.encoding === 'identity') {
      this.fail(GrpcStatus.INTERNAL, 'Received a compressed message but grpc-encoding is identity or absent');
      return;
    }
    const max = this.server.maxMessageBytes;
    const unzip: (b: InputType, o: ZlibOptions, cb: (err: Error | null, out: Buffer) => void) => void = this.encoding === 'gzip' ? gunzip : inflate;
    unzip(body, { maxOutputLength: max }, (err, out) => {
      if (this.done) return;
      if (!err) this.call(out);
      else if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') this.fail(GrpcStatus.RESOURCE_EXHAUSTED, `Received message that decompresses to a size larger than ${max}`);
      else this.fail(GrpcStatus.INTERNAL, 'Failed to decompress message');
    });
  }

  private call(message: Buffer): void {
    let answer: Promise<UnaryAnswer>;
    try {
      answer = this.method({ message, authorization: this.authorization });
    } catch (err) {
      answer = Promise.reject(err);
    }
    answer.then(
      (a) => (Buffer.isBuffer(a) ? this.reply(a) : this.fail(a.code, a.details)),
      (err: unknown) => {
        this.server.onError(err);
        this.fail(GrpcStatus.INTERNAL, 'internal error');
      },
    );
  }

  private reply(message: Buffer): void {
    const stream = this.stream;
    if (!this.finish() || stream.destroyed) return;
    if (this.connection) this.connection.resetPingStrikes = true;
    stream.respond(RESPONSE_HEADERS, RESPOND);
    stream.once('wantTrailers', () => stream.sendTrailers(OK_TRAILERS));
    if (message.length === 0) {
      stream.end(EMPTY_FRAME);
      return;
    }
    const prefix = Buffer.allocUnsafe(5);
    prefix[0] = 0;
    prefix.writeUInt32BE(message.length, 1);
    stream.write(prefix);
    stream.end(message);
  }

  /** Ends the call with a status: trailers-only when nothing was sent yet; stops reading what the client still sends. */
  fail(code: GrpcStatusCode, details: string): void {
    const stream = this.stream;
    if (!this.finish() || stream.destroyed) return;
    if (this.connection) this.connection.resetPingStrikes = true;
    endWithStatus(stream, code, details);
  }

  /** Marks the call answered (false if it already was) and lets go of its timer and bytes. */
  private finish(): boolean {
    if (this.done) return false;
    this.done = true;
    this.chunks = [];
    if (this.deadline) clearTimeout(this.deadline);
    const c = this.connection;
    if (c && --c.active === 0) c.idleSince = Date.now();
    return true;
  }
}

/**
 * Ends a call with a status, trailers-only, and stops reading: the client may still be sending (an
 * oversize message, or a call refused at its headers), so RST_STREAM NO_ERROR once the status is out.
 */
function endWithStatus(stream: http2.ServerHttp2Stream, code: GrpcStatusCode, details: string): void {
  if (!stream.destroyed && !stream.closed) stream.respond({ ...RESPONSE_HEADERS, 'grpc-status': String(code), 'grpc-message': encodeGrpcMessage(details) }, RESPOND_AND_END);
  if (!stream.readableEnded) stream.close(NGHTTP2_NO_ERROR);
}

/** A gRPC server for unary methods on node:http2, with `GrpcServer`'s options and behaviour. */
export class GrpcUnaryServer {
  private server: http2.Http2Server | http2.Http2SecureServer | undefined;
  private readonly connections = new Map<http2.Http2Session, Connection>();
  private port = 0;
  readonly maxMessageBytes: number;

  constructor(
    private readonly endpoint: string,
    private readonly options: GrpcServerOptions,
    private readonly methods: Record<string, UnaryMethod>,
    /** A handler that threw or rejected: a bug, reported (the client sees INTERNAL). */
    readonly onError: (err: unknown) => void = noop,
  ) {
    this.maxMessageBytes = Math.round(options.max_recv_msg_size_mib * 1024 * 1024);
  }

  async start(): Promise<void> {
    const settings: http2.ServerOptions = {
      settings: { maxConcurrentStreams: this.options.max_concurrent_streams },
      // What bounds memory here is the message size limit per stream and the stream limit; node's own
      // session memory cap refuses streams in ways a client cannot tell from overload (grpc-js lifts it too).
      maxSessionMemory: Number.MAX_SAFE_INTEGER,
    };
    const tls = this.options.tls;
    let server: http2.Http2Server | http2.Http2SecureServer;
    if (tls) {
      const secure = http2.createSecureServer({ ...settings, ...secureContextOptions(tls.source.files, tls.source.material), requestCert: tls.requireClientCert, rejectUnauthorized: tls.requireClientCert });
      // New connections get the new pair; established ones keep theirs.
      tls.source.subscribe((m) => secure.setSecureContext(secureContextOptions(tls.source.files, m)));
      secure.on('tlsClientError', (err) => tls.onHandshakeError(handshakeFailure(err)));
      server = secure;
    } else server = http2.createServer(settings);
    server.on('session', (session) => this.onSession(session));
    server.on('stream', (stream, headers) => this.onStream(stream, headers));
    const { host, port } = parseEndpoint(this.endpoint);
    await new Promise<void>((resolve, reject) => {
      const fail = (err: unknown): void => reject(ListenError.from(this.endpoint, err));
      server.once('error', fail);
      server.listen(port, host, () => {
        server.off('error', fail);
        resolve();
      });
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  address(): string {
    const { host } = parseEndpoint(this.endpoint);
    return `${host}:${this.port}`;
  }

  private onSession(session: http2.ServerHttp2Session): void {
    const c = new Connection(session);
    this.connections.set(session, c);
    session.on('error', noop);
    session.once('close', () => {
      c.clear();
      this.connections.delete(session);
    });
    const { server_parameters: sp, enforcement_policy: ep } = this.options.keepalive;
    session.on('ping', () => this.onPing(c, ep.min_time, ep.permit_without_stream));
    if (sp.time > 0 && Number.isFinite(sp.time)) this.keepalive(c, sp.time, sp.timeout);
    if (sp.max_connection_idle > 0 && Number.isFinite(sp.max_connection_idle)) this.idle(c, sp.max_connection_idle, sp.max_connection_idle);
    if (sp.max_connection_age > 0 && Number.isFinite(sp.max_connection_age)) {
      // grpc-go and grpc-js spread connection ends by ±10 % so clients do not all reconnect at once.
      const age = sp.max_connection_age * (0.9 + Math.random() * 0.2);
      c.timer(age, () => c.goaway(NGHTTP2_NO_ERROR, MAX_AGE, sp.max_connection_age_grace));
    }
  }

  /** Pings every `time`; no answer within `timeout` cuts the connection. */
  private keepalive(c: Connection, time: number, timeout: number): void {
    c.timer(time, () => {
      const s = c.session;
      if (s.closed || s.destroyed) return;
      const cut = c.timer(timeout, () => s.destroy());
      try {
        s.ping((err) => {
          c.cancel(cut);
          if (!err) this.keepalive(c, time, timeout);
        });
      } catch {
        s.destroy();
      }
    });
  }

  /** GOAWAY once the connection has had no call for `idle` ms (looked at lazily, not per call). */
  private idle(c: Connection, idle: number, wait: number): void {
    c.timer(wait, () => {
      const quiet = Date.now() - c.idleSince;
      if (c.active > 0) this.idle(c, idle, idle);
      else if (quiet < idle) this.idle(c, idle, idle - quiet);
      else c.goaway(NGHTTP2_NO_ERROR, IDLE, this.options.keepalive.server_parameters.max_connection_age_grace);
    });
  }

  /** grpc-go's enforcement: pings closer than min_time (2 h without calls, unless permitted) strike; a third strike is GOAWAY ENHANCE_YOUR_CALM "too_many_pings". */
  private onPing(c: Connection, minTime: number, permitWithoutStream: boolean): void {
    const now = Date.now();
    const last = c.lastPingAt;
    c.lastPingAt = now;
    if (c.resetPingStrikes) {
      c.resetPingStrikes = false;
      c.pingStrikes = 0;
      return;
    }
    const window = c.active < 1 && !permitWithoutStream ? PING_WITHOUT_STREAM_MS : minTime;
    if (last + window > now) c.pingStrikes++;
    if (c.pingStrikes > MAX_PING_STRIKES) c.goaway(NGHTTP2_ENHANCE_YOUR_CALM, TOO_MANY_PINGS, 1000);
  }

  private onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    stream.on('error', noop);
    const contentType = headers[HTTP2_HEADER_CONTENT_TYPE];
    if (headers[HTTP2_HEADER_METHOD] !== 'POST' || typeof contentType !== 'string' || !contentType.startsWith('application/grpc')) {
      // PROTOCOL-HTTP2.md: a request that is not gRPC gets an HTTP status, not a gRPC one.
      if (!stream.destroyed) stream.respond({ [HTTP2_HEADER_STATUS]: headers[HTTP2_HEADER_METHOD] !== 'POST' ? 405 : 415 }, RESPOND_AND_END);
      stream.resume();
      return;
    }
    const path = String(headers[HTTP2_HEADER_PATH] ?? '');
    const method = this.methods[path];
    if (!method) return endWithStatus(stream, GrpcStatus.UNIMPLEMENTED, `The server does not implement the method ${path}`);
    const encodingHeader = headers['grpc-encoding'];
    const encoding = encodingHeader === undefined ? 'identity' : String(encodingHeader).toLowerCase();
    if (encoding !== 'identity' && encoding !== 'gzip' && encoding !== 'deflate') return endWithStatus(stream, GrpcStatus.UNIMPLEMENTED, `Received message compressed with unsupported encoding "${encoding}"`);
    let timeoutMs: number | undefined;
    const timeout = headers['grpc-timeout'];
    if (timeout !== undefined) {
      timeoutMs = parseGrpcTimeout(String(timeout));
      if (timeoutMs === undefined) return endWithStatus(stream, GrpcStatus.INTERNAL, `Invalid grpc-timeout value "${String(timeout)}"`);
    }
    const connection = this.connections.get(stream.session!);
    if (connection) connection.active++;
    const auth = headers.authorization;
    new Call(this, stream, connection, method, encoding, typeof auth === 'string' ? auth : undefined, timeoutMs);
  }

  /** Stops taking connections and calls, lets those in flight finish for up to `graceMs`, then cuts the rest. */
  async shutdown(graceMs = 5000): Promise<void> {
    this.options.tls?.source.stop();
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const c of this.connections.values()) c.goaway(NGHTTP2_NO_ERROR, Buffer.alloc(0), Infinity);
    let timer: NodeJS.Timeout | undefined;
    const cut = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        for (const c of this.connections.values()) c.session.destroy();
        resolve();
      }, graceMs);
    });
    await Promise.race([closed, cut]);
    clearTimeout(timer);
  }
}
