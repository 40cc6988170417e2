/**
 * HttpPoster over kept-alive connections: a connection the server closes as a request is being
 * written (its idle timeout firing) is retried once on a new connection, not failed.
 */
import { createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpPoster } from '../src/net/http-client.js';

const closers: (() => void)[] = [];
afterEach(() => closers.splice(0).forEach((c) => c()));

describe('HttpPoster', () => {
  it('sends a request again when the kept-alive connection it reused was reset, and only then', async () => {
    let connections = 0;
    let requests = 0;
    // Answers the first request of each connection; resets a connection that brings a second one.
    const server = createServer((socket: Socket) => {
      connections++;
      let seen = 0;
      socket.on('data', (d) => {
        if (!d.toString('latin1').includes('\r\n\r\n')) return;
        if (seen++ > 0) return void socket.resetAndDestroy();
        requests++;
        socket.write('HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => server.close());
    const port = (server.address() as { port: number }).port;
    const poster = new HttpPoster();
    closers.push(() => poster.close());
    const url = new URL(`http://127.0.0.1:${port}/`);
    expect((await poster.post(url, Buffer.from('a'), {})).status).toBe(204);
    // The kept-alive connection is reused, reset by the server, and the request goes again on a new one.
    expect((await poster.post(url, Buffer.from('b'), {})).status).toBe(204);
    expect(connections).toBe(2);
    expect(requests).toBe(2);
  });

  it('does not send again when a fresh connection fails', async () => {
    const server = createServer((socket: Socket) => socket.on('data', () => socket.resetAndDestroy()));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => server.close());
    let connections = 0;
    server.on('connection', () => connections++);
    const poster = new HttpPoster();
    closers.push(() => poster.close());
    await expect(poster.post(new URL(`http://127.0.0.1:${(server.address() as { port: number }).port}/`), Buffer.from('a'), {})).rejects.toThrow(/ECONNRESET|socket hang up/);
    expect(connections).toBe(1);
  });
});
