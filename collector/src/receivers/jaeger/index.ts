import { z } from 'zod';
import { receiverFactory, type CreateContext } from '../../component.js';
import { DecodeError } from '../../model/errors.js';
import type { DecodeResult } from '../../model/decode-result.js';
import { endpoint, section } from '../../config/schema-helpers.js';
import { captureConfig } from '../../capture/writer.js';
import { HttpSpanReceiver } from '../http-receiver.js';
import { decodeJaegerThriftBatch } from './decode.js';

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

/** Jaeger collector's HTTP endpoint: POST /api/traces with a Thrift (binary) Batch. */
export class JaegerReceiver extends HttpSpanReceiver {
  protected readonly receiver = 'jaeger';
  protected readonly protocol = 'jaeger-thrift';

  constructor(config: JaegerReceiverConfig, ctx: CreateContext) {
    super(config, ctx, { '/api/traces': 'thrift_http' });
  }

  protected decode(_path: string, contentType: string, body: Buffer): DecodeResult {
    if (contentType !== 'application/x-thrift' && contentType !== 'application/vnd.apache.thrift.binary') {
      throw new DecodeError('unsupported_media_type', 'Content-Type', contentType, 'expected application/x-thrift or application/vnd.apache.thrift.binary');
    }
    return decodeJaegerThriftBatch(body);
  }
}

export const jaegerReceiverFactory = receiverFactory({
  type: 'jaeger',
  config: jaegerReceiverConfig,
  create: (config, ctx) => new JaegerReceiver(config, ctx),
});
