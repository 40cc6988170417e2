import * as grpc from '@grpc/grpc-js';
import { parseEndpoint } from './http-server.js';
import { ListenError } from '../model/errors.js';
import { handshakeFailure, type ServerTls, type TlsSource } from './tls.js';

/** Raw bytes in, so the handler decodes (and can answer INVALID_ARGUMENT) itself. */
export const passThrough = {
  serialize: (b: Buffer): Buffer => b,
  deserialize: (b: Buffer): Buffer => b,
};

export function method(path: string, requestStream: boolean, responseStream: boolean): grpc.MethodDefinition<Buffer, Buffer> {
  return {
    path,
    requestStream,
    responseStream,
    requestSerialize: passThrough.serialize,
    requestDeserialize: passThrough.deserialize,
    responseSerialize: passThrough.serialize,
    responseDeserialize: passThrough.deserialize,
  };
}

/** Message size, stream and keepalive bounds, durations in milliseconds (config: configgrpc's names). */
export interface GrpcServerOptions {
  /** TLS, following the certificate files as they change. */
  tls?: ServerTls | undefined;
  max_recv_msg_size_mib: number;
  max_concurrent_streams: number;
  keepalive: {
    server_parameters: { max_connection_idle: number; max_connection_age: number; max_connection_age_grace: number; time: number; timeout: number };
    enforcement_policy: { min_time: number; permit_without_stream: boolean };
  };
}

/**
 * grpc-js's server, for the streaming receiver (OpenCensus's bidirectional Export). Unary receivers
 * (OTLP, Jaeger PostSpans) use `GrpcUnaryServer` on node:http2 with the same options (issue #31).
 */
export class GrpcServer {
  private server: grpc.Server | undefined;
  private port = 0;

  constructor(
    private readonly endpoint: string,
    private readonly options: GrpcServerOptions,
    private readonly register: (server: grpc.Server) => void,
  ) {}

  async start(): Promise<void> {
    const k = this.options.keepalive;
    const server = new grpc.Server({
      'grpc.max_receive_message_length': Math.round(this.options.max_recv_msg_size_mib * 1024 * 1024),
      'grpc.max_concurrent_streams': this.options.max_concurrent_streams,
      'grpc.max_connection_idle_ms': k.server_parameters.max_connection_idle,
      'grpc.max_connection_age_ms': k.server_parameters.max_connection_age,
      'grpc.max_connection_age_grace_ms': k.server_parameters.max_connection_age_grace,
      'grpc.keepalive_time_ms': k.server_parameters.time,
      'grpc.keepalive_timeout_ms': k.server_parameters.timeout,
      'grpc.http2.min_ping_interval_without_data_ms': k.enforcement_policy.min_time,
      'grpc.keepalive_permit_without_calls': k.enforcement_policy.permit_without_stream ? 1 : 0,
      // channelz (grpc-js's per-call statistics for its debug service) is served by nothing here.
      'grpc.enable_channelz': 0,
    });
    this.register(server);
    const { host, port } = parseEndpoint(this.endpoint);
    const bindHost = host.includes(':') ? `[${host}]` : host;
    this.port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(`${bindHost}:${port}`, this.credentials(), (err, p) => (err ? reject(ListenError.from(this.endpoint, err)) : resolve(p)));
    });
    this.server = server;
    this.watchHandshakes(server);
  }

  private credentials(): grpc.ServerCredentials {
    const tls = this.options.tls;
    if (!tls) return grpc.ServerCredentials.createInsecure();
    const identity = new SourceCertificateProvider(tls.source, 'identity');
    const ca = tls.requireClientCert ? new SourceCertificateProvider(tls.source, 'ca') : null;
    // grpc-js names its parameters the other way round: the first provider is the identity.
    return grpc.experimental.createCertificateProviderServerCredentials(identity, ca as unknown as grpc.experimental.CertificateProvider, tls.requireClientCert);
  }

  /**
   * grpc-js has no event for a failed TLS handshake; its listening sockets are Node TLS servers
   * that have one. Reached through an internal field, so it is best effort: absent, nothing is logged.
   */
  private watchHandshakes(server: grpc.Server): void {
    const tls = this.options.tls;
    const servers = (server as unknown as { http2Servers?: Map<{ on?: (e: string, l: (err: Error) => void) => void }, unknown> }).http2Servers;
    if (!tls || !(servers instanceof Map)) return;
    for (const s of servers.keys()) s.on?.('tlsClientError', (err) => tls.onHandshakeError(handshakeFailure(err)));
  }

  address(): string {
    const { host } = parseEndpoint(this.endpoint);
    return `${host}:${this.port}`;
  }

  /** Stops taking calls, lets those in flight finish for up to `graceMs`, then cuts the rest. */
  async shutdown(graceMs = 5000): Promise<void> {
    this.options.tls?.source.stop();
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, graceMs);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

export function statusError(code: grpc.status, details: string): grpc.ServiceError {
  return Object.assign(new Error(details), { code, details, metadata: new grpc.Metadata() });
}

/** A TlsSource as grpc-js's certificate provider: the current pair at once, then every new one. */
class SourceCertificateProvider implements grpc.experimental.CertificateProvider {
  private readonly identity = new Set<grpc.experimental.IdentityCertificateUpdateListener>();
  private readonly ca = new Set<grpc.experimental.CaCertificateUpdateListener>();

  constructor(
    private readonly source: TlsSource,
    private readonly role: 'identity' | 'ca',
  ) {
    source.subscribe(() => this.notify());
  }

  private notify(): void {
    const m = this.source.material;
    if (this.role === 'identity' && m.cert && m.key) for (const l of this.identity) l({ certificate: m.cert, privateKey: m.key });
    if (this.role === 'ca' && m.ca) for (const l of this.ca) l({ caCertificate: m.ca });
  }

  // The first pair is handed over on the next turn: grpc-js registers its own watcher only after
  // it has added these listeners, and an answer given at once would reach nobody.
  addCaCertificateListener(listener: grpc.experimental.CaCertificateUpdateListener): void {
    this.ca.add(listener);
    queueMicrotask(() => {
      if (this.ca.has(listener) && this.source.material.ca) listener({ caCertificate: this.source.material.ca });
    });
  }
  removeCaCertificateListener(listener: grpc.experimental.CaCertificateUpdateListener): void {
    this.ca.delete(listener);
  }
  addIdentityCertificateListener(listener: grpc.experimental.IdentityCertificateUpdateListener): void {
    this.identity.add(listener);
    queueMicrotask(() => {
      const m = this.source.material;
      if (this.identity.has(listener) && m.cert && m.key) listener({ certificate: m.cert, privateKey: m.key });
    });
  }
  removeIdentityCertificateListener(listener: grpc.experimental.IdentityCertificateUpdateListener): void {
    this.identity.delete(listener);
  }
}
