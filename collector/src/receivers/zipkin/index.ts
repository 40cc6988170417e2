import { z } from 'zod';
import { receiverFactory, type CreateContext } from '../../component.js';
import { DecodeError } from '../../model/errors.js';
import type { DecodeResult } from '../../model/decode-result.js';
import { authSettings, endpoint, httpServerSettings, limitsConfig, section, serverTlsSettings } from '../../config/schema-helpers.js';
import { captureConfig } from '../../capture/writer.js';
import { HttpSpanReceiver } from '../http-receiver.js';
import { decodeZipkinProto, decodeZipkinV1Json, decodeZipkinV1Thrift, decodeZipkinV2Json } from '../../protocol/zipkin/decode.js';

export const zipkinConfig = section(
  z.strictObject({
    endpoint: endpoint('0.0.0.0:9411'),
    max_request_body_size: z.number().int().positive().default(20 * 1024 * 1024),
    ...httpServerSettings,
    tls: serverTlsSettings.optional(),
    auth: authSettings,
    limits: limitsConfig,
    capture: captureConfig,
  }),
);
export type ZipkinReceiverConfig = z.output<typeof zipkinConfig>;

/** Zipkin's HTTP API: POST /api/v2/spans (JSON or proto3) and /api/v1/spans (v1 JSON or Thrift). */
export class ZipkinReceiver extends HttpSpanReceiver {
  protected readonly receiver = 'zipkin';
  protected readonly protocol = 'zipkin';

  constructor(config: ZipkinReceiverConfig, ctx: CreateContext) {
    super(config, ctx, { '/api/v2/spans': 'http_v2', '/api/v1/spans': 'http_v1' }, 'application/json');
  }

  protected decode(path: string, contentType: string, body: Buffer): DecodeResult {
    if (path === '/api/v1/spans') {
      if (contentType === 'application/json') return decodeZipkinV1Json(body, this.limits);
      if (contentType === 'application/x-thrift' || contentType === 'application/vnd.apache.thrift.binary') return decodeZipkinV1Thrift(body, this.limits);
      throw new DecodeError('unsupported_media_type', 'Content-Type', contentType, 'v1 accepts application/json or application/x-thrift');
    }
    if (contentType === 'application/json') return decodeZipkinV2Json(body, this.limits);
    if (contentType === 'application/x-protobuf' || contentType === 'application/protobuf') return decodeZipkinProto(body, this.limits);
    throw new DecodeError('unsupported_media_type', 'Content-Type', contentType, 'expected application/json or application/x-protobuf');
  }
}

export const zipkinReceiverFactory = receiverFactory({
  type: 'zipkin',
  config: zipkinConfig,
  create: (config, ctx) => new ZipkinReceiver(config, ctx),
});
