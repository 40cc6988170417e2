import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { receiverFactory, type Consumer, type CreateContext, type Receiver } from '../../component.js';
import { DecodeError } from '../../model/errors.js';
import type { DecodeResult } from '../../model/decode-result.js';
import { HttpServer, PayloadTooLargeError, readBody, sendJson } from '../../net/http-server.js';
import { endpoint, section } from '../../config/schema-helpers.js';
import { ingest, refuseRequest, rejectedSummary } from '../ingest.js';
import { decodeJaegerThriftBatch } from './decode.js';
import { CaptureWriter, captureConfig } from '../../capture/writer.js';

const thriftHttp = z.strictObject({ endpoint: endpoint('0.0.0.0:14268'), max_request_body_size: z.number().int().positive().default(20 * 1024 * 1024) });

// The OpenTelemetry Collector's jaeger receiver shape; span-relay serves thrift_http.
export const jaegerReceiverConfig = section(
  z
    .strictObject({
      protocols: z.strictObject({ thrift_http: z.preprocess((v) => v ?? {}, thriftHttp).optional() }).optional(),
      capture: captureConfig,
    })
    .transform((c) => ({ ...(c.protocols?.thrift_http ?? thriftHttp.parse({})), capture: c.capture })),
);
type JaegerReceiverConfig = z.output<typeof jaegerReceiverConfig>;

const RECEIVER = 'jaeger';

/** Jaeger collector's HTTP endpoint: POST /api/traces with a Thrift (binary) Batch. */
export class JaegerReceiver implements Receiver {
  private readonly server: HttpServer;
  private next: Consumer | undefined;
  private readonly capture: CaptureWriter | undefined;

  constructor(
    private readonly config: JaegerReceiverConfig,
    private readonly ctx: CreateContext,
  ) {
    if (config.capture?.enabled) this.capture = new CaptureWriter(config.capture, ctx.id, ctx.telemetry);
    this.server = new HttpServer(config.endpoint, (req, res) => this.handle(req, res), (err) => ctx.telemetry.logger.error({ err, receiver: ctx.id }, 'jaeger receiver failed'));
  }

  async start(next: Consumer): Promise<void> {
    this.next = next;
    await this.server.start();
    this.ctx.telemetry.logger.info({ receiver: this.ctx.id, endpoint: this.server.address() }, 'jaeger thrift_http receiver listening');
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
    if (path !== '/api/traces') {
      sendJson(res, 404, { error: `no such endpoint ${path}; POST Thrift batches to /api/traces` });
      return;
    }
    if (req.method !== 'POST') {
      sendJson(res, 405, { error: 'use POST' }, { allow: 'POST' });
      return;
    }
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    let result: DecodeResult;
    try {
      if (type !== 'application/x-thrift' && type !== 'application/vnd.apache.thrift.binary') {
        throw new DecodeError('unsupported_media_type', 'Content-Type', type, 'expected application/x-thrift or application/vnd.apache.thrift.binary');
      }
      const body = await readBody(req, this.config.max_request_body_size);
      this.capture?.record({ protocol: 'jaeger-thrift', path, contentType: type }, body);
      result = decodeJaegerThriftBatch(body);
    } catch (err) {
      if (err instanceof PayloadTooLargeError) {
        this.ctx.telemetry.refusedSpans.inc({ receiver: RECEIVER, transport: 'thrift_http', reason: err.code });
        sendJson(res, 413, { error: err.message });
        return;
      }
      if (err instanceof DecodeError) {
        refuseRequest(this.ctx.telemetry, RECEIVER, 'thrift_http', err);
        sendJson(res, err.code === 'unsupported_media_type' ? 415 : 400, { error: err.message, code: err.code });
        return;
      }
      throw err;
    }
    const outcome = await ingest(result, this.next!, this.ctx.telemetry, RECEIVER, 'thrift_http');
    if (outcome.kind === 'backpressure') sendJson(res, 503, { error: outcome.message }, { 'retry-after': '1' });
    else if (outcome.rejected.length > 0) sendJson(res, 400, { error: `${outcome.rejected.length} span(s) refused, ${outcome.accepted} accepted`, accepted: outcome.accepted, rejected: rejectedSummary(outcome.rejected) });
    else res.writeHead(202).end();
  }
}

export const jaegerReceiverFactory = receiverFactory({
  type: 'jaeger',
  config: jaegerReceiverConfig,
  create: (config, ctx) => new JaegerReceiver(config, ctx),
});
