import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGunzip, createInflate, createBrotliDecompress } from 'node:zlib';
import type { Transform } from 'node:stream';
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
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) throw new PayloadTooLargeError(limit);
      chunks.push(chunk);
    }
  } catch (err) {
    req.resume();
    if (err instanceof SpanRelayError) throw err;
    throw new DecodeError('malformed_body', 'body', req.headers['content-encoding'], `cannot read body: ${(err as Error).message}`);
  }
  return Buffer.concat(chunks, size);
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

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** An HTTP server that owns its lifecycle: listen on an endpoint, close with in-flight requests drained. */
export class HttpServer {
  private server: Server | undefined;

  constructor(
    private readonly endpoint: string,
    private readonly handler: RequestHandler,
    private readonly onError: (err: unknown) => void,
  ) {}

  async start(): Promise<void> {
    const { host, port } = parseEndpoint(this.endpoint);
    const server = createServer((req, res) => {
      this.handler(req, res).catch((err: unknown) => {
        this.onError(err);
        if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
        else res.destroy();
      });
    });
    server.keepAliveTimeout = 65_000;
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

  async shutdown(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
  }
}
