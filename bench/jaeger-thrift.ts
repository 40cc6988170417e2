/**
 * Jaeger Thrift encoding: span-relay's hand-written TBinaryProtocol writer beside thriftrw with
 * jaeger-client's jaeger.thrift, the encoder under @opentelemetry/exporter-jaeger, on the same batches.
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { encodeJaegerThriftBatch } from '../collector/src/protocol/jaeger/encode.js';
import { toJaegerBatches, type JaegerBatch, type JaegerTag } from '../collector/src/protocol/jaeger/model.js';
import { voteTraces } from './join.js';

const require = createRequire(import.meta.url);

interface ThriftType {
  toBufferResult(v: unknown): { err: Error | null; value: Buffer };
}

const i64 = (hex: string) => Buffer.from(hex.padStart(16, '0'), 'hex');
const i64n = (n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(BigInt.asIntN(64, n));
  return b;
};
const TYPES = { string: 'STRING', float64: 'DOUBLE', bool: 'BOOL', int64: 'LONG', binary: 'BINARY' } as const;
const tag = (t: JaegerTag) => ({
  key: t.key,
  vType: TYPES[t.type],
  vStr: t.type === 'string' ? t.value : null,
  vDouble: t.type === 'float64' ? t.value : null,
  vBool: t.type === 'bool' ? t.value : null,
  vLong: t.type === 'int64' ? i64n(t.value) : null,
  vBinary: t.type === 'binary' ? Buffer.from(t.value) : null,
});

/** The object thriftrw encodes, from the same input (the exporter builds one per export too). */
function thriftrwObject(b: JaegerBatch): unknown {
  return {
    process: { serviceName: b.process.serviceName, tags: b.process.tags.map(tag) },
    spans: b.spans.map((s) => ({
      traceIdLow: i64(s.traceIdLow),
      traceIdHigh: i64(s.traceIdHigh),
      spanId: i64(s.spanId),
      parentSpanId: i64(s.parentSpanId),
      operationName: s.operationName,
      references: s.references.map((r) => ({ refType: r.type === 'child_of' ? 'CHILD_OF' : 'FOLLOWS_FROM', traceIdLow: i64(r.traceIdLow), traceIdHigh: i64(r.traceIdHigh), spanId: i64(r.spanId) })),
      flags: s.flags,
      startTime: i64n(s.startNanos / 1000n),
      duration: i64n(s.durationNanos / 1000n),
      tags: s.tags.map(tag),
      logs: s.logs.map((l) => ({ timestamp: i64n(l.timestampNanos / 1000n), fields: l.fields.map(tag) })),
    })),
  };
}

export function jaegerThriftBench(traces: number): { thriftrw: number; handWritten: number; spans: number } {
  const { Thrift } = require('thriftrw') as { Thrift: new (o: { source: string; allowOptionalArguments: boolean }) => { getType(n: string): ThriftType } };
  const idl = join(dirname(require.resolve('jaeger-client/package.json')), 'dist/src/jaeger-idl/thrift/jaeger.thrift');
  const Batch = new Thrift({ source: readFileSync(idl, 'utf8'), allowOptionalArguments: true }).getType('Batch');
  const spans = voteTraces(traces);
  const batches: JaegerBatch[] = [];
  for (let i = 0; i < spans.length; i += 100) batches.push(...toJaegerBatches({ spans: spans.slice(i, i + 100) }));
  const time = (fn: () => void): number => {
    fn();
    const t0 = performance.now();
    for (let r = 0; r < 3; r++) fn();
    return (3 * spans.length) / ((performance.now() - t0) / 1000);
  };
  const thriftrw = time(() => {
    for (const b of batches) {
      const r = Batch.toBufferResult(thriftrwObject(b));
      if (r.err) throw r.err;
    }
  });
  const handWritten = time(() => {
    for (const b of batches) encodeJaegerThriftBatch(b);
  });
  return { thriftrw, handWritten, spans: spans.length };
}
