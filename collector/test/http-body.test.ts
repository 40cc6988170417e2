/**
 * readBody (net/http-server.ts) over a real socket: a body is the bytes sent, whether it came in
 * one chunk or many, plain or gzip; past the limit it is a PayloadTooLargeError, whether the wire or
 * the inflated bytes pass it; a client that goes away mid-body is a malformed_body, not a hang.
 */
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PayloadTooLargeError, readBody } from '../src/net/http-server.js';
import { DecodeError } from '../src/model/errors.js';

const LIMIT = 256 * 1024;
let server: Server;
let port = 0;
/** What readBody gave for each request, by the request's x-id. */
const outcomes = new Map<string, Promise<Buffer>>();

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res) => {
    const read = readBody(req, LIMIT);
    outcomes.set(String(req.headers['x-id']), read);
    read.then(
      (body) => res.writeHead(200, { 'content-length': body.length }).end(body),
      (err: Error) => res.writeHead(err instanceof PayloadTooLargeError ? 413 : 400, { connection: 'close' }).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** POSTs `parts` as separate writes (chunked transfer encoding unless `length` is given); resolves with the status and the echoed body. */
function send(id: string, parts: Buffer[], headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/', headers: { 'x-id': id, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    let i = 0;
    // One write per event-loop turn, so the server sees them as separate chunks.
    const next = (): void => {
      if (i === parts.length) return void req.end();
      req.write(parts[i++]);
      setImmediate(next);
    };
    next();
  });
}

const split = (buf: Buffer, n: number): Buffer[] => Array.from({ length: n }, (_, i) => buf.subarray(Math.floor((i * buf.length) / n), Math.floor(((i + 1) * buf.length) / n)));

describe('readBody', () => {
  it('is the bytes sent, in one chunk or many, plain or gzip', async () => {
    const body = randomBytes(100_000);
    for (const [id, parts, headers] of [
      ['one', [body], { 'content-length': String(body.length) }],
      ['many', split(body, 40), {}],
      ['gzip', split(gzipSync(body), 7), { 'content-encoding': 'gzip' }],
      ['empty', [], { 'content-length': '0' }],
    ] as const) {
      const res = await send(id, [...parts], headers);
      expect(res.status, id).toBe(200);
      expect(res.body.equals(id === 'empty' ? Buffer.alloc(0) : body), id).toBe(true);
    }
  });

  it('refuses past the limit, on the wire or inflated', async () => {
    const big = randomBytes(LIMIT + 1);
    expect((await send('declared', [big], { 'content-length': String(big.length) })).status).toBe(413);
    // Chunked, no length declared: the count stops it. The socket may be cut before the answer.
    const chunked = send('chunked', split(big, 20)).catch(() => undefined);
    await expect(waitFor('chunked')).rejects.toBeInstanceOf(PayloadTooLargeError);
    await chunked;
    const bomb = gzipSync(Buffer.alloc(LIMIT * 8));
    expect((await send('bomb', [bomb], { 'content-encoding': 'gzip', 'content-length': String(bomb.length) })).status).toBe(413);
    await expect(waitFor('bomb')).rejects.toBeInstanceOf(PayloadTooLargeError);
  });

  it('is a malformed_body when the client goes away mid-body, or the gzip is broken', async () => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/', headers: { 'x-id': 'gone', 'content-length': '1000' } });
    req.on('error', () => undefined);
    req.write(Buffer.alloc(10));
    const read = waitFor('gone');
    await new Promise((r) => setTimeout(r, 50));
    req.destroy();
    await expect(read).rejects.toMatchObject({ code: 'malformed_body' });
    const broken = Buffer.from('not gzip at all');
    expect((await send('broken', [broken], { 'content-encoding': 'gzip', 'content-length': String(broken.length) })).status).toBe(400);
    await expect(waitFor('broken')).rejects.toBeInstanceOf(DecodeError);
  });
});

/** readBody's outcome for request `id`, once the server has it. */
async function waitFor(id: string): Promise<Buffer> {
  for (let i = 0; i < 200 && !outcomes.has(id); i++) await new Promise((r) => setTimeout(r, 10));
  return outcomes.get(id)!;
}
