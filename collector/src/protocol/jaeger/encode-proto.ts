/** Model → Jaeger api_v2 protobuf (the gRPC collector's PostSpansRequest), through Jaeger's span model. */
import { hexToBytes } from '../../model/ids.js';
import { bigIntToLong, nanosToTimestamp } from '../../model/time.js';
import { protoType } from '../proto.js';
import type { JaegerBatch, JaegerTag } from './model.js';

const V_TYPES = { string: 0, bool: 1, int64: 2, float64: 3, binary: 4 } as const;

function protoTag(t: JaegerTag): Record<string, unknown> {
  const kv: Record<string, unknown> = { key: t.key, vType: V_TYPES[t.type] };
  if (t.type === 'string') kv.vStr = t.value;
  else if (t.type === 'bool') kv.vBool = t.value;
  else if (t.type === 'int64') kv.vInt64 = bigIntToLong(t.value);
  else if (t.type === 'float64') kv.vFloat64 = t.value;
  else kv.vBinary = t.value;
  return kv;
}

export function encodePostSpansRequest(b: JaegerBatch): Uint8Array {
  const duration = (n: bigint) => ({ seconds: bigIntToLong(n / 1_000_000_000n), nanos: Number(n % 1_000_000_000n) });
  const batch = {
    process: { serviceName: b.process.serviceName, tags: b.process.tags.map(protoTag) },
    spans: b.spans.map((s) => ({
      traceId: hexToBytes(s.traceIdHigh + s.traceIdLow),
      spanId: hexToBytes(s.spanId),
      operationName: s.operationName,
      references: s.references.map((r) => ({ traceId: hexToBytes(r.traceIdHigh + r.traceIdLow), spanId: hexToBytes(r.spanId), refType: r.type === 'child_of' ? 0 : 1 })),
      flags: s.flags,
      startTime: nanosToTimestamp(s.startNanos),
      duration: duration(s.durationNanos),
      tags: s.tags.map(protoTag),
      logs: s.logs.map((l) => ({ timestamp: nanosToTimestamp(l.timestampNanos), fields: l.fields.map(protoTag) })),
    })),
  };
  return protoType('jaeger', 'jaeger.api_v2.PostSpansRequest').encode({ batch }).finish();
}
