import * as grpc from '@grpc/grpc-js';
import { ExportError } from '../model/errors.js';
import { passThrough } from './grpc-server.js';
import type { TlsSource } from './tls.js';

// The codes gRPC clients retry on, as the OTLP exporter specification lists them.
const RETRYABLE = new Set([
  grpc.status.CANCELLED,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.ABORTED,
  grpc.status.OUT_OF_RANGE,
  grpc.status.UNAVAILABLE,
  grpc.status.DATA_LOSS,
  grpc.status.RESOURCE_EXHAUSTED,
]);

export interface GrpcClientOptions {
  endpoint: string;
  insecure: boolean;
  /** TLS without checking the server's certificate (testing only). */
  insecureSkipVerify?: boolean;
  /** A private CA and/or a client certificate (mTLS), followed as the files change. */
  tls?: TlsSource | undefined;
  /** Check the server's certificate against this name instead of the endpoint's host. */
  serverNameOverride?: string | undefined;
  headers: Record<string, string>;
  compression: 'gzip' | 'none';
}

/** A unary gRPC client over raw bytes; encoding stays with the caller. */
export class UnaryGrpcClient {
  private client: grpc.Client;

  constructor(private readonly options: GrpcClientOptions) {
    this.client = this.connect();
    // A rotated client certificate or CA: new connections use it; the old channel drains.
    options.tls?.subscribe(() => {
      const old = this.client;
      this.client = this.connect();
      setTimeout(() => old.close(), 30_000).unref();
    });
  }

  private connect(): grpc.Client {
    const o = this.options;
    const target = o.endpoint.replace(/^(https?|grpc):\/\//, '');
    const m = o.tls?.material;
    const verify: grpc.VerifyOptions = o.insecureSkipVerify ? { rejectUnauthorized: false, checkServerIdentity: () => undefined } : {};
    const creds = o.insecure ? grpc.credentials.createInsecure() : grpc.credentials.createSsl(m?.ca ?? null, m?.key ?? null, m?.cert ?? null, verify);
    return new grpc.Client(target, creds, {
      'grpc.enable_channelz': 0,
      ...(o.compression === 'gzip' ? { 'grpc.default_compression_algorithm': 2 } : {}),
      ...(o.serverNameOverride ? { 'grpc.ssl_target_name_override': o.serverNameOverride, 'grpc.default_authority': o.serverNameOverride } : {}),
    });
  }

  call(path: string, body: Uint8Array, signal: AbortSignal): Promise<Buffer> {
    const metadata = new grpc.Metadata();
    for (const [k, v] of Object.entries(this.options.headers)) metadata.set(k, v);
    return new Promise((resolve, reject) => {
      const call = this.client.makeUnaryRequest(path, passThrough.serialize, passThrough.deserialize, Buffer.from(body.buffer, body.byteOffset, body.byteLength), metadata, {}, (err, res) => {
        signal.removeEventListener('abort', cancel);
        if (err) {
          const retryable = RETRYABLE.has(err.code);
          reject(new ExportError(`grpc_${grpc.status[err.code] ?? err.code}`, `gRPC ${grpc.status[err.code]}: ${err.details}`, retryable));
        } else resolve(res ?? Buffer.alloc(0));
      });
      const cancel = (): void => call.cancel();
      signal.addEventListener('abort', cancel, { once: true });
    });
  }

  close(): void {
    this.options.tls?.stop();
    this.client.close();
  }
}
