/**
 * The api_v2 decoder span-relay ran until 2026-12, kept for the tests and the bench: protobufjs decodes
 * `PostSpansRequest` into message objects, which are then mapped as Thrift is. The hand-written
 * decoder (src/protocol/jaeger/decode-proto.ts) must give what this gives, request for request.
 */
import { DecodeError } from '../../src/model/errors.js';
import { emptyResult, type DecodeResult } from '../../src/model/decode-result.js';
import { bytesToHex } from '../../src/model/ids.js';
import type { AttributeValue, Attributes, Resource } from '../../src/model/span.js';
import { longToBigInt, longToBigIntSigned, maxPlausibleNanos } from '../../src/model/time.js';
import { protoType } from '../../src/protocol/proto.js';
import { checkPerSpan, checkSpanCount, DEFAULT_LIMITS, LimitExceededError, type DecodeLimits } from '../../src/model/limits.js';
import { jaegerSpanToModel, type RawJaegerSpan, type Tag } from '../../src/protocol/jaeger/decode.js';

interface Long {
  low: number;
  high: number;
}
interface PbKeyValue {
  key?: string;
  vType?: number;
  vStr?: string;
  vBool?: boolean;
  vInt64?: Long;
  vFloat64?: number;
  vBinary?: Uint8Array;
}
interface PbTimestamp {
  seconds?: Long;
  nanos?: number;
}
interface PbProcess {
  serviceName?: string;
  tags?: PbKeyValue[];
}
interface PbSpan {
  traceId?: Uint8Array;
  spanId?: Uint8Array;
  operationName?: string;
  references?: { traceId?: Uint8Array; spanId?: Uint8Array; refType?: number }[];
  flags?: number;
  startTime?: PbTimestamp;
  duration?: PbTimestamp;
  tags?: PbKeyValue[];
  logs?: { timestamp?: PbTimestamp; fields?: PbKeyValue[] }[];
  process?: PbProcess;
}
interface PbPostSpansRequest {
  batch?: { spans?: PbSpan[]; process?: PbProcess };
}

function tag(kv: PbKeyValue): Tag {
  let value: AttributeValue;
  switch (kv.vType ?? 0) {
    case 1:
      value = kv.vBool ?? false;
      break;
    case 2: {
      const v = kv.vInt64 ? longToBigIntSigned(kv.vInt64) : 0n;
      value = v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
      break;
    }
    case 3:
      value = kv.vFloat64 ?? 0;
      break;
    case 4:
      value = new Uint8Array(kv.vBinary ?? []);
      break;
    default:
      value = kv.vStr ?? '';
  }
  return { key: kv.key ?? '', value };
}

function nanos(t: PbTimestamp | undefined): bigint {
  if (!t) return 0n;
  return (t.seconds ? longToBigInt(t.seconds) : 0n) * 1_000_000_000n + BigInt(t.nanos ?? 0);
}

/** 16 bytes as high and low hex halves; an 8-byte ID is a 64-bit one. */
function traceHalves(b: Uint8Array | undefined): { traceIdHigh: string; traceIdLow: string } {
  const hex = b ? bytesToHex(b) : '';
  if (hex.length === 32) return { traceIdHigh: hex.slice(0, 16), traceIdLow: hex.slice(16) };
  return { traceIdHigh: '0000000000000000', traceIdLow: hex.length === 16 ? hex : '' };
}

function resourceOf(p: PbProcess | undefined): Resource {
  const out: Attributes = {};
  if (p?.serviceName) out['service.name'] = p.serviceName;
  for (const kv of p?.tags ?? []) {
    const t = tag(kv);
    out[t.key] = t.value;
  }
  return { attributes: out };
}

export function decodeJaegerPostSpansProtobufjs(body: Uint8Array, limits: DecodeLimits = DEFAULT_LIMITS): DecodeResult {
  let req: PbPostSpansRequest;
  try {
    req = protoType('jaeger', 'jaeger.api_v2.PostSpansRequest').decode(body) as unknown as PbPostSpansRequest;
  } catch (err) {
    throw new DecodeError('malformed_protobuf', 'body', bytesToHex(body.subarray(0, 16)), `not a jaeger.api_v2.PostSpansRequest: ${(err as Error).message}`);
  }
  checkSpanCount(req.batch?.spans?.length ?? 0, limits, 'batch.spans');
  if ((req.batch?.process?.tags?.length ?? 0) > limits.maxAttributesPerSpan) {
    throw new LimitExceededError('batch.process.tags', req.batch!.process!.tags!.length, 'max_attributes_per_span', limits.maxAttributesPerSpan);
  }
  const batchResource = resourceOf(req.batch?.process);
  const result = emptyResult();
  const max = maxPlausibleNanos();
  (req.batch?.spans ?? []).forEach((p, i) => {
    const field = `batch.spans[${i}]`;
    try {
      checkPerSpan(field, p.tags?.length ?? 0, p.logs?.length ?? 0, p.references?.length ?? 0, limits);
      if ((p.process?.tags?.length ?? 0) > limits.maxAttributesPerSpan) throw new LimitExceededError(`${field}.process.tags`, p.process!.tags!.length, 'max_attributes_per_span', limits.maxAttributesPerSpan);
      const spanId = p.spanId ? bytesToHex(p.spanId) : '';
      if (spanId.length !== 16) throw new DecodeError('invalid_span_id', `${field}.spanId`, spanId, `expected 8 bytes, got ${p.spanId?.length ?? 0}`);
      const raw: RawJaegerSpan = {
        ...traceHalves(p.traceId),
        spanId,
        parentSpanId: '0000000000000000',
        operationName: p.operationName ?? '',
        refs: (p.references ?? []).map((r) => ({ type: r.refType ?? 0, ...traceHalves(r.traceId), spanId: r.spanId ? bytesToHex(r.spanId) : '0000000000000000' })),
        flags: p.flags ?? 0,
        startNanos: nanos(p.startTime),
        durationNanos: nanos(p.duration),
        tags: (p.tags ?? []).map(tag),
        logs: (p.logs ?? []).map((l) => ({ timestampNanos: nanos(l.timestamp), fields: (l.fields ?? []).map(tag) })),
      };
      // A span may carry its own process (the batch's is then empty), as Jaeger's model allows.
      result.spans.push(jaegerSpanToModel(raw, p.process ? resourceOf(p.process) : batchResource, field, max, result));
    } catch (err) {
      if (err instanceof DecodeError) result.rejected.push(err);
      else throw err;
    }
  });
  return result;
}
