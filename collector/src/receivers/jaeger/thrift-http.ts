import type { CreateContext } from '../../component.js';
import { DecodeError } from '../../model/errors.js';
import type { DecodeResult } from '../../model/decode-result.js';
import { HttpSpanReceiver, type HttpReceiverSettings } from '../http-receiver.js';
import { decodeJaegerThriftBatch } from '../../protocol/jaeger/decode.js';

/** Jaeger collector's HTTP endpoint (:14268): POST /api/traces with a Thrift (binary) Batch. */
export class JaegerThriftHttpReceiver extends HttpSpanReceiver {
  protected readonly receiver = 'jaeger';
  protected readonly protocol = 'jaeger-thrift';
  protected override readonly announce = false;

  constructor(config: HttpReceiverSettings, ctx: CreateContext) {
    super(config, ctx, { '/api/traces': 'thrift_http' }, '', `receivers.${ctx.id}.protocols.thrift_http`);
  }

  protected decode(_path: string, contentType: string, body: Buffer): DecodeResult {
    if (contentType !== 'application/x-thrift' && contentType !== 'application/vnd.apache.thrift.binary') {
      throw new DecodeError('unsupported_media_type', 'Content-Type', contentType, 'expected application/x-thrift or application/vnd.apache.thrift.binary');
    }
    return decodeJaegerThriftBatch(body, this.limits);
  }
}
