import * as grpc from '@grpc/grpc-js';
import { parseEndpoint } from './http-server.js';
import { ListenError } from '../model/errors.js';

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
  max_recv_msg_size_mib: number;
  max_concurrent_streams: number;
  keepalive: {
    server_parameters: { max_connection_idle: number; max_connection_age: number; max_connection_age_grace: number; time: number; timeout: number };
    enforcement_policy: { min_time: number; permit_without_stream: boolean };
  };
}

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
    });
    this.register(server);
    const { host, port } = parseEndpoint(this.endpoint);
    const bindHost = host.includes(':') ? `[${host}]` : host;
    this.port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(`${bindHost}:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(ListenError.from(this.endpoint, err)) : resolve(p)));
    });
    this.server = server;
  }

  address(): string {
    const { host } = parseEndpoint(this.endpoint);
    return `${host}:${this.port}`;
  }

  /** Stops taking calls, lets those in flight finish for up to `graceMs`, then cuts the rest. */
  async shutdown(graceMs = 5000): Promise<void> {
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
