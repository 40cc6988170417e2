import * as grpc from '@grpc/grpc-js';
import { ExportError } from '../exporters/sender.js';
import { passThrough } from './grpc-server.js';

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
  headers: Record<string, string>;
  compression: 'gzip' | 'none';
}

/** A unary gRPC client over raw bytes; encoding stays with the caller. */
export class UnaryGrpcClient {
  private readonly client: grpc.Client;

  constructor(private readonly options: GrpcClientOptions) {
    const target = options.endpoint.replace(/^(https?|grpc):\/\//, '');
    const creds = options.insecure
      ? grpc.credentials.createInsecure()
      : grpc.credentials.createSsl(null, null, null, options.insecureSkipVerify ? { rejectUnauthorized: false, checkServerIdentity: () => undefined } : {});
    this.client = new grpc.Client(target, creds, {
      ...(options.compression === 'gzip' ? { 'grpc.default_compression_algorithm': 2 } : {}),
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
    this.client.close();
  }
}
