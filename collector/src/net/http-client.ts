/**
 * POST over HTTP or HTTPS with node:http(s), for exporters that need TLS settings fetch cannot
 * take (a private CA, a client certificate, a server name override, skip-verify for testing).
 * The agent follows its TlsSource: a rotated client certificate is used for new connections.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { secureContextOptions, type TlsSource } from './tls.js';

export interface HttpClientTls {
  source?: TlsSource | undefined;
  skipVerify: boolean;
  serverName?: string | undefined;
}

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export class HttpPoster {
  private https: HttpsAgent | undefined;
  private readonly http = new HttpAgent({ keepAlive: true });

  constructor(private readonly tls: HttpClientTls = { skipVerify: false }) {
    this.https = this.agent();
    tls.source?.subscribe(() => {
      const old = this.https;
      this.https = this.agent();
      setTimeout(() => old?.destroy(), 30_000).unref();
    });
  }

  private agent(): HttpsAgent {
    const m = this.tls.source?.material;
    return new HttpsAgent({
      keepAlive: true,
      ...(m && this.tls.source ? secureContextOptions(this.tls.source.files, m) : {}),
      rejectUnauthorized: !this.tls.skipVerify,
      ...(this.tls.serverName ? { servername: this.tls.serverName } : {}),
    });
  }

  post(url: URL, body: Uint8Array, headers: Record<string, string>, signal?: AbortSignal): Promise<HttpAnswer> {
    return this.attempt(url, body, headers, signal).catch((err: NodeJS.ErrnoException & { reusedSocket?: boolean }) => {
      // A kept-alive connection the server closed while this request was being written: the
      // request never reached it, so it is sent once more on a new connection.
      if (err.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) return this.attempt(url, body, headers, signal);
      throw err;
    });
  }

  private attempt(url: URL, body: Uint8Array, headers: Record<string, string>, signal?: AbortSignal): Promise<HttpAnswer> {
    const secure = url.protocol === 'https:';
    return new Promise((resolve, reject) => {
      const req = (secure ? httpsRequest : httpRequest)(
        url,
        {
          method: 'POST',
          agent: secure ? this.https : this.http,
          ...(signal ? { signal } : {}),
          headers: { ...headers, 'content-length': String(body.length) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      req.on('error', (err: NodeJS.ErrnoException & { reusedSocket?: boolean }) => {
        err.reusedSocket = req.reusedSocket;
        reject(err);
      });
      req.end(body);
    });
  }

  close(): void {
    this.https?.destroy();
    this.http.destroy();
    this.tls.source?.stop();
  }
}

export function headerValue(v: string | string[] | undefined): string | null {
  return Array.isArray(v) ? (v[0] ?? null) : (v ?? null);
}
