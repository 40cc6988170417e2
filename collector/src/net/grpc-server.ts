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

export class GrpcServer {
  private server: grpc.Server | undefined;
  private port = 0;

  constructor(
    private readonly endpoint: string,
    private readonly maxRecvMsgSizeMiB: number,
    private readonly register: (server: grpc.Server) => void,
  ) {}

  async start(): Promise<void> {
    const server = new grpc.Server({
      'grpc.max_receive_message_length': Math.round(this.maxRecvMsgSizeMiB * 1024 * 1024),
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

  async shutdown(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, 5000);
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
