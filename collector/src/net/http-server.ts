import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { handshakeFailure, secureContextOptions, type ServerTls } from './tls.js';
import type { AddressInfo } from 'node:net';
import { createGunzip, createInflate, createBrotliDecompress } from 'node:zlib';
import type { Readable, Transform } from 'node:stream';
import { DecodeError, ListenError, SpanRelayError } from '../model/errors.js';

export class PayloadTooLargeError extends SpanRelayError {
  constructor(readonly limit: number) {
    super('payload_too_large', `request body is larger than max_request_body_size (${limit} bytes)`);
  }
}

/** Parses `host:port` as the OpenTelemetry Collector writes endpoints. */
export function parseEndpoint(endpoint: string): { host: string; port: number } {
  const i = endpoint.lastIndexOf(':');
  const host = i >= 0 ? endpoint.slice(0, i).replace(/^\[|\]$/g, '') : endpoint;
  const port = i >= 0 ? Number(endpoint.slice(i + 1)) : NaN;
  return { host: host || '0.0.0.0', port };
}

function decompressor(encoding: string | undefined): Transform | undefined {
  switch ((encoding ?? 'identity').toLowerCase()) {
    case 'identity':
    case '':
      return undefined;
    case 'gzip':
    case 'x-gzip':
      return createGunzip();
    case 'deflate':
      return createInflate();
    case 'br':
      return createBrotliDecompress();
    default:
      throw new DecodeError('unsupported_encoding', 'Content-Encoding', encoding, 'expected gzip, deflate, br or identity');
  }
}

/**
 * Reads a request body, decompressing it, and stops as soon as either the wire bytes or the
 * decompressed bytes pass `limit` (a small gzip bomb must not become a large allocation).
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new PayloadTooLargeError(limit);
  const inflate = decompressor(req.headers['content-encoding']);
  const source = inflate ? req.pipe(inflate) : req;
  try {
    return await collect(source, limit);
  } catch (err) {
    req.resume();
    if (err instanceof SpanRelayError) throw err;
    throw new DecodeError('malformed_body', 'body', req.headers['content-encoding'], `cannot read body: ${(err as Error).message}`);
  }
}

/**
 * A stream's bytes, by its 'data' events: a body of one chunk (most, on a local socket) is that
 * chunk, not a copy. Node made each chunk for this stream alone (a socket read, or zlib's output)
 * and never writes to it again. Read through `for await` (an async iterator, its end-of-stream
 * watch and a promise per chunk) and copied into one buffer, the body took 3-5 % of the OTLP HTTP
 * path's CPU. Past `limit` the stream is destroyed, as leaving that loop did.
 */
function collect(source: Readable, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (err: Error | undefined): void => {
      if (settled) return;
      settled = true;
      source.off('data', onData);
      if (err) reject(err);
      else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        settle(new PayloadTooLargeError(limit));
        source.destroy();
        return;
      }
      chunks.push(chunk);
    };
    source.on('data', onData);
    source.on('end', () => settle(undefined));
    source.on('error', (err: Error) => settle(err));
    // Closed before its end (the client went away): what the iterator called a premature close.
    source.on('close', () => settle(new Error('Premature close')));
  });
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendText(res: ServerResponse, status: number, text: string, contentType = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Milliseconds until `deadline` (epoch ms); 5 s when there is none. */
export function graceUntil(deadline: number | undefined): number {
  return Math.max(0, (deadline ?? Date.now() + 5000) - Date.now());
}

/** Deadlines and bounds against slow and idle clients, in milliseconds (config: confighttp's names). */
export interface HttpServerOptions {
  read_header_timeout: number;
  read_timeout: number;
  idle_timeout: number;
  max_connections: number;
  /** HTTPS instead of HTTP, following the certificate files as they change. */
  tls?: ServerTls | undefined;
}
export const DEFAULT_HTTP_SERVER: HttpServerOptions = { read_header_timeout: 10_000, read_timeout: 30_000, idle_timeout: 60_000, max_connections: 4096 };

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** An HTTP server that owns its lifecycle: listen on an endpoint, close with in-flight requests drained. */
export class HttpServer {
  private server: Server | undefined;

  get secure(): boolean {
    return this.options.tls !== undefined;
  }

  constructor(
    private readonly endpoint: string,
    private readonly handler: RequestHandler,
    private readonly onError: (err: unknown) => void,
    private readonly options: HttpServerOptions = DEFAULT_HTTP_SERVER,
  ) {}

  async start(): Promise<void> {
    const { host, port } = parseEndpoint(this.endpoint);
    const o = this.options;
    // Node checks the header and request deadlines on this interval: keep it well under them.
    const checkEvery = Math.max(50, Math.min(1000, Math.floor(Math.min(o.read_header_timeout, o.read_timeout) / 4)));
    const settings = { headersTimeout: o.read_header_timeout, requestTimeout: o.read_timeout, connectionsCheckingInterval: checkEvery };
    const handle = (req: IncomingMessage, res: ServerResponse): void => {
      this.handler(req, res).catch((err: unknown) => {
        this.onError(err);
        if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
        else res.destroy();
      });
    };
    const tls = o.tls;
    let server: Server;
    if (tls) {
      const https: HttpsServer = createHttpsServer({ ...settings, ...secureContextOptions(tls.source.files, tls.source.material), requestCert: tls.requireClientCert, rejectUnauthorized: tls.requireClientCert }, handle);
      // New connections get the new pair; established ones keep theirs.
      tls.source.subscribe((m) => https.setSecureContext(secureContextOptions(tls.source.files, m)));
      https.on('tlsClientError', (err) => tls.onHandshakeError(handshakeFailure(err)));
      server = https as unknown as Server;
    } else server = createServer(settings, handle);
    server.keepAliveTimeout = o.idle_timeout;
    server.maxConnections = o.max_connections;
    await new Promise<void>((resolve, reject) => {
      const fail = (err: unknown) => reject(ListenError.from(this.endpoint, err));
      server.once('error', fail);
      try {
        server.listen(port, host, () => {
          server.off('error', fail);
          resolve();
        });
      } catch (err) {
        fail(err);
      }
    });
    this.server = server;
  }

  address(): string {
    const a = this.server?.address() as AddressInfo | null | undefined;
    return a ? `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}` : '';
  }

  /**
   * Stops accepting, closes idle connections, gives requests in flight up to `graceMs`, then cuts
   * every connection still open (a slow client cannot hold shutdown: Node stops applying its
   * header and request timeouts once the server is closing).
   */
  async shutdown(graceMs = 5000): Promise<void> {
    this.options.tls?.source.stop();
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      server.closeIdleConnections();
    });
  }
}
