import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { receiverFactory, type Consumer, type CreateContext, type Receiver } from '../../component.js';
import { DecodeError } from '../../model/errors.js';
import type { DecodeResult } from '../../model/decode-result.js';
import { GrpcUnaryServer, type UnaryMethod } from '../../net/grpc-unary-server.js';
import { unaryIngest } from '../grpc-ingest.js';
import { graceUntil, HttpServer, PayloadTooLargeError, readBody, sendJson } from '../../net/http-server.js';
import { authSettings, endpoint, grpcServerSettings, httpServerSettings, limitsConfig, section, serverTlsSettings } from '../../config/schema-helpers.js';
import { serverTls } from '../../security/server-tls.js';
import { authCheck } from '../../security/auth.js';
import { decodeOtlpJson, decodeOtlpProto } from '../../protocol/otlp/decode.js';
import { protoType } from '../../protocol/proto.js';
import { ingest, refuseRequest, type IngestOutcome } from '../ingest.js';
import { CaptureWriter, captureConfig } from '../../capture/writer.js';

const grpcProtocol = z.strictObject({
  endpoint: endpoint('0.0.0.0:4317'),
  max_recv_msg_size_mib: z.number().positive().default(4),
  ...grpcServerSettings,
  tls: serverTlsSettings.optional(),
  auth: authSettings,
});
const httpProtocol = z.strictObject({
  endpoint: endpoint('0.0.0.0:4318'),
  max_request_body_size: z.number().int().positive().default(20 * 1024 * 1024),
  ...httpServerSettings,
  tls: serverTlsSettings.optional(),
  auth: authSettings,
});

export const otlpReceiverConfig = section(
  z
    .strictObject({
      // A protocol key present with no value means "on, with defaults"; absent means off.
      protocols: z
        .strictObject({
          grpc: z.preprocess((v) => v ?? {}, grpcProtocol).optional(),
          http: z.preprocess((v) => v ?? {}, httpProtocol).optional(),
        })
        .optional(),
      limits: limitsConfig,
      capture: captureConfig,
    })
    .transform((c) => ({ ...(c.protocols ?? { grpc: grpcProtocol.parse({}), http: httpProtocol.parse({}) }), limits: c.limits, capture: c.capture })),
);
export type OtlpReceiverConfig = z.output<typeof otlpReceiverConfig>;

const RECEIVER = 'otlp';
/** ExportTraceServiceResponse with every span accepted: no fields, no bytes (written once, not per request). */
const EMPTY_RESPONSE = Buffer.alloc(0);
export const OTLP_TRACE_EXPORT_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

function partialSuccess(outcome: IngestOutcome): { rejectedSpans: number; errorMessage: string } | undefined {
  if (outcome.rejected.length === 0) return undefined;
  return { rejectedSpans: outcome.rejected.length, errorMessage: outcome.rejected.slice(0, 5).map((e) => e.message).join('; ') };
}

/** OTLP over gRPC (:4317) and HTTP (:4318, /v1/traces, protobuf and JSON). */
export class OtlpReceiver implements Receiver {
  private grpc: GrpcUnaryServer | undefined;
  private http: HttpServer | undefined;
  private next: Consumer | undefined;
  private readonly capture: CaptureWriter | undefined;
  private readonly exportGrpc: UnaryMethod;
  private authorizeHttp: ((authorization: string | undefined) => boolean) | undefined;

  constructor(
    private readonly config: OtlpReceiverConfig,
    private readonly ctx: CreateContext,
  ) {
    this.exportGrpc = unaryIngest(
      ctx,
      RECEIVER,
      () => this.next!,
      (body) => decodeOtlpProto(body, config.limits, { lazy: true }),
      (outcome) => this.responseBytes(outcome),
      (body) => this.capture?.record({ protocol: 'otlp-grpc', contentType: 'application/grpc+proto' }, body),
      authCheck(config.grpc?.auth, ctx),
    );
    if (config.capture?.enabled) this.capture = new CaptureWriter(config.capture, ctx.id, ctx.telemetry);
    if (config.grpc) {
      const tls = serverTls(config.grpc.tls, `receivers.${ctx.id}.protocols.grpc`, config.grpc.endpoint, ctx.telemetry);
      this.grpc = new GrpcUnaryServer(config.grpc.endpoint, { ...config.grpc, tls }, { [OTLP_TRACE_EXPORT_PATH]: this.exportGrpc }, (err) => ctx.telemetry.reportUnexpected(err, `receiver ${ctx.id}`));
    }
    if (config.http) {
      this.http = new HttpServer(config.http.endpoint, (req, res) => this.handleHttp(req, res), (err) => ctx.telemetry.reportUnexpected(err, `receiver ${ctx.id}`), { ...config.http, tls: serverTls(config.http.tls, `receivers.${ctx.id}.protocols.http`, config.http.endpoint, ctx.telemetry) });
      this.authorizeHttp = authCheck(config.http.auth, ctx);
    }
  }

  async start(next: Consumer): Promise<void> {
    this.next = next;
    await this.grpc?.start();
    await this.http?.start();
    this.ctx.telemetry.logger.info({ receiver: this.ctx.id, grpc: this.grpc?.address(), http: this.http?.address() }, 'otlp receiver listening');
  }

  addresses(): { grpc?: string; http?: string } {
    return { ...(this.grpc ? { grpc: this.grpc.address() } : {}), ...(this.http ? { http: this.http.address() } : {}) };
  }

  async shutdown(deadline?: number): Promise<void> {
    await Promise.all([this.grpc?.shutdown(graceUntil(deadline)), this.http?.shutdown(graceUntil(deadline))]);
    await this.capture?.close();
  }

  /** The ExportTraceServiceResponse in protobuf: the empty message when every span was accepted. */
  private responseBytes(outcome: IngestOutcome): Buffer {
    const ps = partialSuccess(outcome);
    if (!ps) return EMPTY_RESPONSE;
    return Buffer.from(protoType('otlp', 'opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse').encode({ partialSuccess: ps }).finish());
  }

  private async handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/v1/traces') {
      sendJson(res, 404, { code: 5, message: `no such endpoint ${path}; POST traces to /v1/traces` });
      return;
    }
    if (req.method !== 'POST') {
      sendJson(res, 405, { code: 12, message: 'use POST' }, { allow: 'POST' });
      return;
    }
    if (this.authorizeHttp && !this.authorizeHttp(req.headers.authorization)) {
      this.ctx.telemetry.refusedSpans.inc({ receiver: RECEIVER, transport: 'http', reason: 'unauthenticated' });
      sendJson(res, 401, { code: 16, message: 'missing or wrong authorization (bearer token)' }, { 'www-authenticate': 'Bearer', connection: 'close' });
      return;
    }
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const json = contentType === 'application/json';
    let result: DecodeResult;
    try {
      if (!json && contentType !== 'application/x-protobuf' && contentType !== 'application/protobuf') {
        throw new DecodeError('unsupported_media_type', 'Content-Type', contentType, 'expected application/x-protobuf or application/json');
      }
      const body = await readBody(req, this.config.http!.max_request_body_size);
      this.capture?.record({ protocol: 'otlp-http', path, contentType }, body);
      result = json ? decodeOtlpJson(body, this.config.limits) : decodeOtlpProto(body, this.config.limits, { lazy: true });
    } catch (err) {
      if (err instanceof PayloadTooLargeError) {
        this.ctx.telemetry.refusedSpans.inc({ receiver: RECEIVER, transport: 'http', reason: err.code });
        sendJson(res, 413, { code: 8, message: err.message }, { connection: 'close' });
        return;
      }
      if (err instanceof DecodeError) {
        refuseRequest(this.ctx.telemetry, RECEIVER, 'http', err);
        sendJson(res, err.code === 'unsupported_media_type' ? 415 : err.code === 'limit_exceeded' ? 413 : 400, { code: 3, message: err.message });
        return;
      }
      throw err;
    }
    const outcome = await ingest(result, this.next!, this.ctx.telemetry, RECEIVER, 'http');
    if (outcome.kind === 'backpressure') {
      sendJson(res, 503, { code: 14, message: outcome.message }, { 'retry-after': '1' });
      return;
    }
    // Success answers in the request's encoding; errors are JSON Status objects.
    if (json) {
      const ps = partialSuccess(outcome);
      sendJson(res, 200, ps ? { partialSuccess: ps } : {});
      return;
    }
    const bytes = this.responseBytes(outcome);
    res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': bytes.length });
    res.end(bytes);
  }
}

export const otlpReceiverFactory = receiverFactory({
  type: 'otlp',
  config: otlpReceiverConfig,
  create: (config, ctx) => new OtlpReceiver(config, ctx),
});
