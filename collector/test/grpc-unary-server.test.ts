/**
 * The unary gRPC server on node:http2 (issue #31), on its own: grpc-js as the client where it can
 * produce the case, raw node:http2 where it cannot (a deadline the server must enforce, a wrong
 * content-type, an unknown encoding, a size prefix larger than the limit with the body still coming,
 * a ping flood, a reset mid-request), and TLS rotation on a running server.
 */
import * as http2 from 'node:http2';
import { connect as tlsConnect } from 'node:tls';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { GrpcStatus, GrpcStatusError, GrpcUnaryServer, type UnaryMethod, type UnaryRequest } from '../src/net/grpc-unary-server.js';
import type { GrpcServerOptions } from '../src/net/grpc-server.js';
import { TlsSource } from '../src/net/tls.js';
import { TestCA } from './helpers/certs.js';
import { eventually } from './helpers/collector.js';

const ECHO = '/test.Echo/Echo';
const HANG = '/test.Echo/Hang';
const raw = (b: Buffer): Buffer => b;

function options(over: Partial<GrpcServerOptions['keepalive']['server_parameters']> = {}, policy: Partial<GrpcServerOptions['keepalive']['enforcement_policy']> = {}, mib = 4): GrpcServerOptions {
  return {
    max_recv_msg_size_mib: mib,
    max_concurrent_streams: 100,
    keepalive: {
      server_parameters: { max_connection_idle: 300_000, max_connection_age: 1_800_000, max_connection_age_grace: 30_000, time: 120_000, timeout: 20_000, ...over },
      enforcement_policy: { min_time: 10_000, permit_without_stream: true, ...policy },
    },
  };
}

let servers: GrpcUnaryServer[] = [];
let seen: UnaryRequest[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.shutdown(100)));
  servers = [];
  seen = [];
});

const echo: UnaryMethod = async (req) => {
  seen.push(req);
  if (req.message.toString() === 'fail') return new GrpcStatusError(GrpcStatus.INVALID_ARGUMENT, 'naïve 100% wrong\nsecond line');
  return req.message;
};
const hang: UnaryMethod = (req) => {
  seen.push(req);
  return new Promise(() => undefined);
};

async function serve(o: GrpcServerOptions = options(), tls?: GrpcServerOptions['tls']): Promise<GrpcUnaryServer> {
  const s = new GrpcUnaryServer('127.0.0.1:0', { ...o, tls }, { [ECHO]: echo, [HANG]: hang });
  await s.start();
  servers.push(s);
  return s;
}

function unary(client: grpc.Client, path: string, body: Buffer, md = new grpc.Metadata()): Promise<{ err: grpc.ServiceError | null; value?: Buffer }> {
  return new Promise((resolve) => client.makeUnaryRequest(path, raw, raw, body, md, (err, value) => resolve({ err, ...(value ? { value } : {}) })));
}

function frame(message: Buffer, compressed = false): Buffer {
  const head = Buffer.alloc(5);
  head[0] = compressed ? 1 : 0;
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

interface RawAnswer {
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders;
  body: Buffer;
}

/** One raw HTTP/2 request; resolves with the response headers, trailers and body once the stream closes. */
function rawCall(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: Buffer, end = true): { stream: http2.ClientHttp2Stream; answer: Promise<RawAnswer> } {
  const stream = session.request({ ':method': 'POST', ':path': ECHO, 'content-type': 'application/grpc', te: 'trailers', ...headers }, { endStream: false });
  if (body) stream.write(body);
  if (end) stream.end();
  const answer = new Promise<RawAnswer>((resolve) => {
    let h: http2.IncomingHttpHeaders = {};
    let t: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (x) => (h = x));
    stream.on('trailers', (x) => (t = x));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', () => undefined);
    stream.on('close', () => resolve({ headers: h, trailers: t, body: Buffer.concat(chunks) }));
  });
  return { stream, answer };
}

const statusOf = (a: RawAnswer): string | undefined => String(a.trailers['grpc-status'] ?? a.headers['grpc-status'] ?? '') || undefined;

describe('GrpcUnaryServer with grpc-js as the client', () => {
  it('answers a call with its message; unknown methods are UNIMPLEMENTED; a status carries a percent-encoded message intact; authorization reaches the method', async () => {
    const s = await serve();
    const client = new grpc.Client(s.address(), grpc.credentials.createInsecure());
    const md = new grpc.Metadata();
    md.set('authorization', 'Bearer abc');
    const ok = await unary(client, ECHO, Buffer.from('hello'), md);
    expect(ok.err).toBeNull();
    expect(ok.value?.toString()).toBe('hello');
    expect(seen[0]!.authorization).toBe('Bearer abc');
    expect((await unary(client, ECHO, Buffer.alloc(0))).value?.length).toBe(0);

    const unknown = await unary(client, '/test.Echo/Nope', Buffer.from('x'));
    expect(unknown.err?.code).toBe(grpc.status.UNIMPLEMENTED);
    expect(unknown.err?.details).toContain('/test.Echo/Nope');

    const failed = await unary(client, ECHO, Buffer.from('fail'));
    expect(failed.err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(failed.err?.details).toBe('naïve 100% wrong\nsecond line');
    client.close();
  });

  it('a gzip-compressed request is decompressed before the method sees it; deflate too', async () => {
    const s = await serve();
    for (const algorithm of [2, 1]) {
      // grpc-js: 1 = deflate, 2 = gzip.
      const client = new grpc.Client(s.address(), grpc.credentials.createInsecure(), { 'grpc.default_compression_algorithm': algorithm });
      const body = Buffer.from('span '.repeat(2000));
      const r = await unary(client, ECHO, body);
      expect(r.err).toBeNull();
      expect(r.value?.equals(body)).toBe(true);
      client.close();
    }
    expect(seen.map((r) => r.message.length)).toEqual([10_000, 10_000]);
  });

  it('a message over max_recv_msg_size is RESOURCE_EXHAUSTED, the method never called, and the connection keeps serving', async () => {
    const s = await serve(options({}, {}, 0.01));
    const client = new grpc.Client(s.address(), grpc.credentials.createInsecure());
    const big = await unary(client, ECHO, Buffer.alloc(200_000, 1));
    expect(big.err?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(big.err?.details).toMatch(/larger than max \(200000 vs\. 10486\)/);
    expect(seen).toHaveLength(0);
    expect((await unary(client, ECHO, Buffer.from('small'))).value?.toString()).toBe('small');
    client.close();
  });
});

describe('GrpcUnaryServer with raw HTTP/2', () => {
  let session: http2.ClientHttp2Session | undefined;
  afterEach(() => session?.destroy());

  it('grpc-timeout: a method that does not answer in time ends DEADLINE_EXCEEDED from the server; a malformed timeout is INTERNAL', async () => {
    const s = await serve();
    session = http2.connect(`http://${s.address()}`);
    const started = Date.now();
    const late = await rawCall(session, { ':path': HANG, 'grpc-timeout': '150m' }, frame(Buffer.from('x'))).answer;
    expect(statusOf(late)).toBe(String(GrpcStatus.DEADLINE_EXCEEDED));
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(seen).toHaveLength(1);
    const bad = await rawCall(session, { 'grpc-timeout': 'soon' }, frame(Buffer.from('x'))).answer;
    expect(statusOf(bad)).toBe(String(GrpcStatus.INTERNAL));
  });

  it('a content-type that is not application/grpc is HTTP 415; GET is 405', async () => {
    const s = await serve();
    session = http2.connect(`http://${s.address()}`);
    const json = await rawCall(session, { 'content-type': 'application/json' }, Buffer.from('{}')).answer;
    expect(json.headers[':status']).toBe(415);
    const get = session.request({ ':method': 'GET', ':path': ECHO });
    const status = await new Promise<number | undefined>((resolve) => get.on('response', (h) => resolve(h[':status'])));
    expect(status).toBe(405);
    expect(seen).toHaveLength(0);
  });

  it('an unknown grpc-encoding is UNIMPLEMENTED naming it, with grpc-accept-encoding; a compressed flag with no encoding is INTERNAL; a gzip bomb is RESOURCE_EXHAUSTED', async () => {
    const s = await serve(options({}, {}, 0.01));
    session = http2.connect(`http://${s.address()}`);
    const br = await rawCall(session, { 'grpc-encoding': 'br' }, frame(Buffer.from('x'), true)).answer;
    expect(statusOf(br)).toBe(String(GrpcStatus.UNIMPLEMENTED));
    expect(decodeURIComponent(String(br.headers['grpc-message']))).toContain('"br"');
    expect(String(br.headers['grpc-accept-encoding'])).toContain('gzip');
    const flagOnly = await rawCall(session, {}, frame(gzipSync(Buffer.from('x')), true)).answer;
    expect(statusOf(flagOnly)).toBe(String(GrpcStatus.INTERNAL));
    const bomb = await rawCall(session, { 'grpc-encoding': 'gzip' }, frame(gzipSync(Buffer.alloc(5_000_000)), true)).answer;
    expect(statusOf(bomb)).toBe(String(GrpcStatus.RESOURCE_EXHAUSTED));
    const truncated = await rawCall(session, {}, frame(Buffer.from('abcdef')).subarray(0, 8)).answer;
    expect(statusOf(truncated)).toBe(String(GrpcStatus.UNIMPLEMENTED));
    expect(seen).toHaveLength(0);
  });

  it('a size prefix over the limit is refused at once, before the body is sent, and the stream is reset so the rest is never read', async () => {
    const s = await serve(options({}, {}, 1));
    session = http2.connect(`http://${s.address()}`);
    const head = Buffer.alloc(5);
    head.writeUInt32BE(100 * 1024 * 1024, 1);
    // The prefix and a little of the body, and no end: the server must answer without waiting for 100 MiB.
    const { answer } = rawCall(session, {}, Buffer.concat([head, Buffer.alloc(1000)]), false);
    const a = await answer;
    expect(statusOf(a)).toBe(String(GrpcStatus.RESOURCE_EXHAUSTED));
    expect(seen).toHaveLength(0);
  });

  it('a stream reset mid-request is dropped: the method is never called, the connection serves on, and counts as idle again (max_connection_idle GOAWAY)', async () => {
    const s = await serve(options({ max_connection_idle: 400 }));
    session = http2.connect(`http://${s.address()}`);
    const goaway = new Promise<Buffer | undefined>((resolve) => session!.once('goaway', (_code: number, _last: number, data?: Buffer) => resolve(data)));
    const { stream, answer } = rawCall(session, {}, frame(Buffer.from('whole message')).subarray(0, 8), false);
    await new Promise((r) => setTimeout(r, 50));
    stream.close(http2.constants.NGHTTP2_CANCEL);
    await answer;
    const next = await rawCall(session, {}, frame(Buffer.from('again'))).answer;
    expect(statusOf(next)).toBe('0');
    expect(next.body.subarray(5).toString()).toBe('again');
    expect(seen.map((r) => r.message.toString())).toEqual(['again']);
    expect((await goaway)?.toString()).toBe('max_idle');
  });

  it('pings closer than min_time: the third strike is GOAWAY ENHANCE_YOUR_CALM "too_many_pings"; pings at a permitted rate are fine', async () => {
    const s = await serve(options({}, { min_time: 60_000 }));
    session = http2.connect(`http://${s.address()}`);
    // The client session errors on a GOAWAY with a code: that is the case looked for here.
    session.on('error', () => undefined);
    await new Promise<void>((resolve) => session!.once('connect', () => resolve()));
    const goaway = new Promise<{ code: number; data: string }>((resolve) => session!.once('goaway', (code: number, _last: number, data?: Buffer) => resolve({ code, data: data?.toString() ?? '' })));
    for (let i = 0; i < 5 && !session.closed && !session.destroyed; i++) {
      await new Promise<void>((resolve) => session!.ping(() => resolve()));
    }
    expect(await goaway).toEqual({ code: http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, data: 'too_many_pings' });

    const relaxed = await serve(options({}, { min_time: 0 }));
    const calm = http2.connect(`http://${relaxed.address()}`);
    let sentAway = false;
    calm.on('goaway', () => (sentAway = true));
    for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => calm.ping(() => resolve()));
    expect(statusOf(await rawCall(calm, {}, frame(Buffer.from('still here'))).answer)).toBe('0');
    expect(sentAway).toBe(false);
    calm.destroy();
  });

  it('keepalive: the server pings every `time`; max_connection_age ends the connection with GOAWAY "max_age"', async () => {
    const s = await serve(options({ time: 100, timeout: 1000, max_connection_age: 500, max_connection_age_grace: 200 }));
    session = http2.connect(`http://${s.address()}`);
    let pings = 0;
    session.on('ping', () => pings++);
    const goaway = new Promise<string>((resolve) => session!.once('goaway', (_c: number, _l: number, data?: Buffer) => resolve(data?.toString() ?? '')));
    expect(await goaway).toBe('max_age');
    expect(pings).toBeGreaterThanOrEqual(2);
  });

  it('shutdown lets a call in flight finish within the grace period', async () => {
    let release: (() => void) | undefined;
    const slow: UnaryMethod = () => new Promise((resolve) => (release = () => resolve(Buffer.from('done'))));
    const s = new GrpcUnaryServer('127.0.0.1:0', options(), { [ECHO]: slow });
    await s.start();
    session = http2.connect(`http://${s.address()}`);
    const { answer } = rawCall(session, {}, frame(Buffer.from('x')));
    await eventually(() => release !== undefined, 'call started');
    const stopped = s.shutdown(5000);
    setTimeout(() => release!(), 100);
    const a = await answer;
    expect(statusOf(a)).toBe('0');
    expect(a.body.subarray(5).toString()).toBe('done');
    await stopped;
  });
});

describe('GrpcUnaryServer over TLS', () => {
  it('serves grpc-js over TLS, and after the certificate files change new connections get the new certificate', async () => {
    const ca = new TestCA('unary test CA');
    const first = ca.issue('relay');
    const dir = mkdtempSync(join(tmpdir(), 'unary-tls-'));
    copyFileSync(first.cert, join(dir, 'tls.crt'));
    copyFileSync(first.key, join(dir, 'tls.key'));
    const source = new TlsSource({ cert_file: join(dir, 'tls.crt'), key_file: join(dir, 'tls.key'), min_version: '1.2', reload_interval: 0 });
    const failures: string[] = [];
    const s = await serve(options(), { source, requireClientCert: false, onHandshakeError: (r) => failures.push(r) });
    const caPem = Buffer.from(ca.pair.certPem);
    const serial = (): Promise<string> =>
      new Promise((resolve, reject) => {
        const [host, port] = s.address().split(':') as [string, string];
        const c = tlsConnect({ host, port: Number(port), ca: caPem, servername: 'relay', ALPNProtocols: ['h2'] }, () => {
          resolve(c.getPeerCertificate().serialNumber);
          c.end();
        });
        c.on('error', reject);
      });
    const call = async (): Promise<grpc.ServiceError | null> => {
      const client = new grpc.Client(s.address(), grpc.credentials.createSsl(caPem), { 'grpc.ssl_target_name_override': 'relay' });
      const r = await unary(client, ECHO, Buffer.from('tls'));
      client.close();
      return r.err;
    };
    expect(await call()).toBeNull();
    expect(await serial()).toBe(first.serial);

    const renewed = ca.issue('relay');
    copyFileSync(renewed.cert, join(dir, 'tls.crt'));
    copyFileSync(renewed.key, join(dir, 'tls.key'));
    source.reload();
    expect(await serial()).toBe(renewed.serial);
    expect(await call()).toBeNull();

    // A plaintext client on the TLS port: refused, and said so.
    const plain = new grpc.Client(s.address(), grpc.credentials.createInsecure());
    expect((await unary(plain, ECHO, Buffer.from('x'))).err?.code).toBe(grpc.status.UNAVAILABLE);
    plain.close();
    await eventually(() => failures.includes('a plaintext client on a TLS port'), 'handshake failure reported');
  }, 20_000);
});
