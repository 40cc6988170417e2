import * as grpc from '@grpc/grpc-js';
import { z } from 'zod';
import { receiverFactory, type Consumer, type CreateContext, type Receiver } from '../../component.js';
import { DecodeError } from '../../model/errors.js';
import type { Attributes } from '../../model/span.js';
import { GrpcServer, method, statusError } from '../../net/grpc-server.js';
import { graceUntil } from '../../net/http-server.js';
import { authSettings, endpoint, grpcServerSettings, limitsConfig, section, serverTlsSettings } from '../../config/schema-helpers.js';
import { serverTls } from '../../security/server-tls.js';
import { authCheck } from '../../security/auth.js';
import { metadataAuthorization } from '../grpc-ingest.js';
import type { DecodeLimits } from '../../model/limits.js';
import { protoType } from '../../protocol/proto.js';
import { ingest, refuseRequest } from '../ingest.js';
import { decodeOcRequest, ocRequestToModel, ocResourceAttributes, type OcNode, type OcResource } from '../../protocol/opencensus/decode.js';
import { CaptureWriter, captureConfig } from '../../capture/writer.js';

export const opencensusConfig = section(
  z.strictObject({
    endpoint: endpoint('0.0.0.0:55678'),
    max_recv_msg_size_mib: z.number().positive().default(4),
    ...grpcServerSettings,
    tls: serverTlsSettings.optional(),
    auth: authSettings,
    limits: limitsConfig,
    capture: captureConfig,
  }),
);
export type OpenCensusReceiverConfig = z.output<typeof opencensusConfig>;

const RECEIVER = 'opencensus';
const SERVICE = '/opencensus.proto.agent.trace.v1.TraceService';

/**
 * The OpenCensus agent's trace service, as OpenCensus apps (emojivoto with OC_AGENT_HOST) and
 * linkerd-proxy talk to it: a long-lived Export stream, and a Config stream kept open.
 */
export class OpenCensusReceiver implements Receiver {
  private readonly server: GrpcServer;
  private next: Consumer | undefined;
  private readonly streams = new Set<grpc.ServerDuplexStream<Buffer, Buffer>>();
  private readonly capture: CaptureWriter | undefined;
  private streamCount = 0;
  private readonly limits: DecodeLimits;
  private readonly authorize: ((authorization: string | undefined) => boolean) | undefined;

  constructor(
    config: OpenCensusReceiverConfig,
    private readonly ctx: CreateContext,
  ) {
    this.limits = config.limits;
    if (config.capture?.enabled) this.capture = new CaptureWriter(config.capture, ctx.id, ctx.telemetry);
    this.authorize = authCheck(config.auth, ctx);
    this.server = new GrpcServer(config.endpoint, { ...config, tls: serverTls(config.tls, `receivers.${ctx.id}`, config.endpoint, ctx.telemetry) }, (server) => {
      server.addService(
        { Export: method(`${SERVICE}/Export`, true, true), Config: method(`${SERVICE}/Config`, true, true) },
        { Export: this.export, Config: this.config },
      );
    });
  }

  async start(next: Consumer): Promise<void> {
    this.next = next;
    await this.server.start();
    this.ctx.telemetry.logger.info({ receiver: this.ctx.id, endpoint: this.server.address() }, 'opencensus receiver listening');
  }

  address(): string {
    return this.server.address();
  }

  async shutdown(deadline?: number): Promise<void> {
    for (const s of this.streams) s.end();
    await this.server.shutdown(graceUntil(deadline));
    await this.capture?.close();
  }

  private readonly export: grpc.handleBidiStreamingCall<Buffer, Buffer> = (call) => {
    if (this.authorize && !this.authorize(metadataAuthorization(call.metadata))) {
      this.ctx.telemetry.refusedSpans.inc({ receiver: RECEIVER, transport: 'grpc', reason: 'unauthenticated' });
      call.emit('error', statusError(grpc.status.UNAUTHENTICATED, 'missing or wrong authorization (bearer token)'));
      return;
    }
    this.streams.add(call);
    // A message without node/resource inherits those of the stream's earlier messages.
    let node: OcNode | undefined;
    let resource: OcResource | undefined;
    let resourceAttrs: Attributes = {};
    let chain = Promise.resolve();
    let failed = false;
    // Messages of one stream share node/resource: capture keeps the stream and the order.
    const streamId = `${process.pid}-${++this.streamCount}`;
    let seq = 0;
    const fail = (code: grpc.status, message: string): void => {
      if (failed) return;
      failed = true;
      call.emit('error', statusError(code, message));
    };
    call.on('data', (bytes: Buffer) => {
      if (failed) return;
      this.capture?.record({ protocol: 'opencensus', contentType: 'application/grpc+proto', stream: streamId, seq: seq++ }, bytes);
      let result;
      try {
        const req = decodeOcRequest(bytes);
        if (req.node || req.resource) {
          if (req.node) node = req.node;
          if (req.resource) resource = req.resource;
          resourceAttrs = ocResourceAttributes(node, resource);
        }
        result = ocRequestToModel(req.spans, resourceAttrs, this.limits);
      } catch (err) {
        if (err instanceof DecodeError) {
          refuseRequest(this.ctx.telemetry, RECEIVER, 'grpc', err);
          fail(grpc.status.INVALID_ARGUMENT, err.message);
          return;
        }
        // Never throw from a stream listener: that would take the process down.
        this.ctx.telemetry.reportUnexpected(err, `receiver ${this.ctx.id}`);
        fail(grpc.status.INTERNAL, 'internal error');
        return;
      }
      // One message at a time: a slow pipeline pauses the stream (HTTP/2 flow control pushes back).
      call.pause();
      chain = chain
        .then(() => ingest(result, this.next!, this.ctx.telemetry, RECEIVER, 'grpc'))
        .then(
          (outcome) => {
            if (outcome.kind === 'backpressure') fail(grpc.status.RESOURCE_EXHAUSTED, outcome.message);
            else call.resume();
          },
          (err: unknown) => {
            this.ctx.telemetry.logger.error({ err }, 'opencensus export failed');
            fail(grpc.status.UNAVAILABLE, 'pipeline failed');
          },
        );
    });
    call.on('end', () => {
      void chain.then(() => {
        this.streams.delete(call);
        if (!failed) call.end();
      });
    });
    call.on('error', () => this.streams.delete(call));
    call.on('cancelled', () => this.streams.delete(call));
  };

  /** Echo the library's own config so its sampler stays as it is; keep the stream open. */
  private readonly config: grpc.handleBidiStreamingCall<Buffer, Buffer> = (call) => {
    this.streams.add(call);
    const reqType = protoType('opencensus', 'opencensus.proto.agent.trace.v1.CurrentLibraryConfig');
    const resType = protoType('opencensus', 'opencensus.proto.agent.trace.v1.UpdatedLibraryConfig');
    call.on('data', (bytes: Buffer) => {
      try {
        const current = reqType.decode(bytes) as unknown as { config?: object | null };
        if (current.config) call.write(Buffer.from(resType.encode({ config: current.config }).finish()));
      } catch {
        call.emit('error', statusError(grpc.status.INVALID_ARGUMENT, 'not a CurrentLibraryConfig'));
      }
    });
    call.on('end', () => {
      this.streams.delete(call);
      call.end();
    });
    call.on('error', () => this.streams.delete(call));
    call.on('cancelled', () => this.streams.delete(call));
  };
}

export const opencensusReceiverFactory = receiverFactory({
  type: 'opencensus',
  config: opencensusConfig,
  create: (config, ctx) => new OpenCensusReceiver(config, ctx),
});
