import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { receiverFactory, type Consumer, type CreateContext, type Receiver } from '../../component.js';
import { DecodeError } from '../../model/errors.js';
import type { DecodeResult } from '../../model/decode-result.js';
import { HttpServer, PayloadTooLargeError, readBody, sendJson } from '../../net/http-server.js';
import { endpoint, section } from '../../config/schema-helpers.js';
import { ingest, refuseRequest, rejectedSummary } from '../ingest.js';
import { CaptureWriter, captureConfig } from '../../capture/writer.js';
import { decodeZipkinProto, decodeZipkinV1Json, decodeZipkinV2Json } from './decode.js';

export const zipkinConfig = section(
  z.strictObject({
    endpoint: endpoint('0.0.0.0:9411'),
    max_request_body_size: z.number().int().positive().default(20 * 1024 * 1024),
    capture: captureConfig,
  }),
);
export type ZipkinReceiverConfig = z.output<typeof zipkinConfig>;

const RECEIVER = 'zipkin';

/** Zipkin's HTTP API: POST /api/v2/spans (JSON or proto3) and /api/v1/spans (v1 JSON). */
export class ZipkinReceiver implements Receiver {
  private readonly server: HttpServer;
  private next: Consumer | undefined;
  private readonly capture: CaptureWriter | undefined;

  constructor(
    private readonly config: ZipkinReceiverConfig,
    private readonly ctx: CreateContext,
  ) {
    if (config.capture?.enabled) this.capture = new CaptureWriter(config.capture, ctx.id, ctx.telemetry);
    this.server = new HttpServer(config.endpoint, (req, res) => this.handle(req, res), (err) => ctx.telemetry.logger.error({ err, receiver: ctx.id }, 'zipkin receiver failed'));
  }

  async start(next: Consumer): Promise<void> {
    this.next = next;
    await this.server.start();
    this.ctx.telemetry.logger.info({ receiver: this.ctx.id, endpoint: this.server.address() }, 'zipkin receiver listening');
  }

  address(): string {
    return this.server.address();
  }

  async shutdown(): Promise<void> {
    await this.server.shutdown();
    await this.capture?.close();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/api/v2/spans' && path !== '/api/v1/spans') {
      sendJson(res, 404, { error: `no such endpoint ${path}; POST spans to /api/v2/spans or /api/v1/spans` });
      return;
    }
    if (req.method !== 'POST') {
      sendJson(res, 405, { error: 'use POST' }, { allow: 'POST' });
      return;
    }
    const transport = path === '/api/v1/spans' ? 'http_v1' : 'http_v2';
    const contentType = (req.headers['content-type'] ?? 'application/json').split(';')[0]!.trim().toLowerCase();
    let result: DecodeResult;
    try {
      const body = await readBody(req, this.config.max_request_body_size);
      this.capture?.record({ protocol: 'zipkin', path, contentType }, body);
      result = this.decode(path, contentType, body);
    } catch (err) {
      if (err instanceof PayloadTooLargeError) {
        this.ctx.telemetry.refusedSpans.inc({ receiver: RECEIVER, transport, reason: err.code });
        sendJson(res, 413, { error: err.message });
        return;
      }
      if (err instanceof DecodeError) {
        refuseRequest(this.ctx.telemetry, RECEIVER, transport, err);
        sendJson(res, err.code === 'unsupported_media_type' ? 415 : 400, { error: err.message, code: err.code, field: err.field });
        return;
      }
      throw err;
    }
    const outcome = await ingest(result, this.next!, this.ctx.telemetry, RECEIVER, transport);
    if (outcome.kind === 'backpressure') {
      sendJson(res, 503, { error: outcome.message }, { 'retry-after': '1' });
    } else if (outcome.rejected.length > 0) {
      sendJson(res, 400, {
        error: `${outcome.rejected.length} span(s) refused, ${outcome.accepted} accepted: ${outcome.rejected[0]!.message}`,
        accepted: outcome.accepted,
        rejected: rejectedSummary(outcome.rejected),
      });
    } else {
      res.writeHead(202).end();
    }
  }

  private decode(path: string, contentType: string, body: Buffer): DecodeResult {
    if (path === '/api/v1/spans') {
      if (contentType !== 'application/json') {
        throw new DecodeError('unsupported_media_type', 'Content-Type', contentType, 'v1 accepts application/json (Thrift is not supported)');
      }
      return decodeZipkinV1Json(body);
    }
    if (contentType === 'application/json') return decodeZipkinV2Json(body);
    if (contentType === 'application/x-protobuf' || contentType === 'application/protobuf') return decodeZipkinProto(body);
    throw new DecodeError('unsupported_media_type', 'Content-Type', contentType, 'expected application/json or application/x-protobuf');
  }
}

export const zipkinReceiverFactory = receiverFactory({
  type: 'zipkin',
  config: zipkinConfig,
  create: (config, ctx) => new ZipkinReceiver(config, ctx),
});
