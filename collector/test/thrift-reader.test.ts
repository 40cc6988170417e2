/**
 * The Thrift readers. Strings, read where they lie through protocol/text.ts (short ASCII ones shared
 * from its table): the same text Buffer#toString('utf8') gives, which is what they gave before, for
 * any bytes (not UTF-8, a byte order mark, short or long, repeated, interleaved), in both protocols.
 * Structs, walked in loops (beginStruct/nextField) by the Jaeger decoder: the compact protocol (field
 * ID deltas, bools in field headers) decodes to what the binary one does for the same batch.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeJaegerThriftBatch, readJaegerBatch } from '../src/protocol/jaeger/decode.js';
import { encodeJaegerThriftBatch } from '../src/protocol/jaeger/encode.js';
import type { JaegerBatch, JaegerSpan, JaegerTag } from '../src/protocol/jaeger/model.js';
import { BinaryThriftReader, CompactThriftReader } from '../src/protocol/thrift/reader.js';
import { varint } from './helpers/varint.js';

/** TBinaryProtocol: each string as an i32 length and its bytes. */
function binary(values: readonly Buffer[]): Buffer {
  return Buffer.concat(
    values.flatMap((v) => {
      const len = Buffer.alloc(4);
      len.writeInt32BE(v.length);
      return [len, v];
    }),
  );
}

/** TCompactProtocol: each string as a varint length and its bytes. */
function compact(values: readonly Buffer[]): Buffer {
  return Buffer.concat(values.flatMap((v) => [Buffer.from(varint(v.length)), v]));
}

const value = fc.oneof(
  fc.string({ maxLength: 60 }).map((s) => Buffer.from(s, 'utf8')),
  fc.string({ unit: 'grapheme', maxLength: 20 }).map((s) => Buffer.from(s, 'utf8')),
  fc.constantFrom('http.method', 'span.kind', 'server', '', '\ufeffbom', `\ufeff${'é'.repeat(30)}`).map((s) => Buffer.from(s)),
  fc.uint8Array({ maxLength: 70 }).map((u) => Buffer.from(u)),
);

describe('Thrift strings', () => {
  it('read as Buffer#toString reads them, in the binary and the compact protocol', () => {
    fc.assert(
      fc.property(fc.array(value, { maxLength: 30 }), (values) => {
        const all = [...values, ...values];
        const expected = all.map((v) => v.toString('utf8'));
        const b = new BinaryThriftReader(binary(all));
        expect(all.map(() => b.string())).toEqual(expected);
        const c = new CompactThriftReader(compact(all));
        expect(all.map(() => c.string())).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('binary() still gives the bytes themselves, and a length past the end is refused', () => {
    const r = new BinaryThriftReader(binary([Buffer.from([0xff, 0x00, 0x61])]));
    expect([...r.binary()]).toEqual([0xff, 0x00, 0x61]);
    const short = binary([Buffer.from('abcdef')]).subarray(0, 7);
    expect(() => new BinaryThriftReader(short).string()).toThrow(/truncated/);
    expect(() => new CompactThriftReader(compact([Buffer.from('abcdef')]).subarray(0, 4)).string()).toThrow(/truncated/);
  });
});

/** A TBinaryProtocol struct → the same struct in TCompactProtocol (every type a Jaeger Batch uses). */
function binaryToCompact(b: Buffer): Buffer {
  let p = 0;
  const out: number[] = [];
  const zigzag = (n: bigint) => {
    let u = BigInt.asUintN(64, (n << 1n) ^ (n >> 63n));
    while (u >= 0x80n) {
      out.push(Number(u & 0x7fn) | 0x80);
      u >>= 7n;
    }
    out.push(Number(u));
  };
  // Binary type → compact type (a bool field's compact type is its value: 1 true, 2 false).
  const COMPACT: Record<number, number> = { 3: 3, 4: 7, 6: 4, 8: 5, 10: 6, 11: 8, 12: 12, 15: 9 };
  const value = (t: number, inList: boolean): void => {
    if (t === 2) {
      const v = b[p++]!;
      if (inList) out.push(v ? 1 : 2);
    } else if (t === 3) out.push(b[p++]!);
    else if (t === 6) zigzag(BigInt(b.readInt16BE((p += 2) - 2)));
    else if (t === 8) zigzag(BigInt(b.readInt32BE((p += 4) - 4)));
    else if (t === 10) zigzag(b.readBigInt64BE((p += 8) - 8));
    else if (t === 4) {
      const d = Buffer.alloc(8);
      d.writeDoubleLE(b.readDoubleBE((p += 8) - 8));
      out.push(...d);
    } else if (t === 11) {
      const n = b.readInt32BE((p += 4) - 4);
      out.push(...varint(n), ...b.subarray(p, (p += n)));
    } else if (t === 15) {
      const et = b[p++]!;
      const n = b.readInt32BE((p += 4) - 4);
      const ct = et === 2 ? 1 : COMPACT[et]!;
      out.push(...(n < 15 ? [(n << 4) | ct] : [0xf0 | ct, ...varint(n)]));
      for (let i = 0; i < n; i++) value(et, true);
    } else if (t === 12) struct();
    else throw new Error(`binaryToCompact: type ${t}`);
  };
  const struct = (): void => {
    let last = 0;
    for (let t = b[p++]!; t !== 0; t = b[p++]!) {
      const id = b.readInt16BE((p += 2) - 2);
      const ct = t === 2 ? (b[p] ? 1 : 2) : COMPACT[t]!;
      if (id > last && id - last <= 15) out.push(((id - last) << 4) | ct);
      else {
        out.push(ct);
        zigzag(BigInt(id));
      }
      last = id;
      value(t, false);
    }
    out.push(0);
  };
  struct();
  return Buffer.from(out);
}

const hex = (n: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`));
const tag: fc.Arbitrary<JaegerTag> = fc.oneof(
  fc.record({ key: fc.string({ maxLength: 8 }), type: fc.constant('string' as const), value: fc.string({ maxLength: 12 }) }),
  fc.record({ key: fc.string({ maxLength: 8 }), type: fc.constant('bool' as const), value: fc.boolean() }),
  fc.record({ key: fc.string({ maxLength: 8 }), type: fc.constant('int64' as const), value: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }) }),
  fc.record({ key: fc.string({ maxLength: 8 }), type: fc.constant('float64' as const), value: fc.double() }),
  fc.record({ key: fc.string({ maxLength: 8 }), type: fc.constant('binary' as const), value: fc.uint8Array({ maxLength: 4 }) }),
);
const nanos = fc.bigInt({ min: 1_700_000_000_000_000n, max: 1_700_001_000_000_000n }).map((us) => us * 1000n);
const jaegerSpan: fc.Arbitrary<JaegerSpan> = fc.record({
  traceIdHigh: hex(16),
  traceIdLow: hex(16),
  spanId: hex(16),
  parentSpanId: hex(16),
  operationName: fc.string({ maxLength: 12 }),
  references: fc.array(fc.record({ type: fc.constantFrom('child_of' as const, 'follows_from' as const), traceIdHigh: hex(16), traceIdLow: hex(16), spanId: hex(16) }), { maxLength: 2 }),
  flags: fc.integer({ min: 0, max: 3 }),
  startNanos: nanos,
  durationNanos: fc.bigInt({ min: 0n, max: 10n ** 9n }).map((us) => us * 1000n),
  tags: fc.array(tag, { maxLength: 8 }),
  logs: fc.array(fc.record({ timestampNanos: nanos, fields: fc.array(tag, { maxLength: 3 }) }), { maxLength: 3 }),
});
const batch: fc.Arbitrary<JaegerBatch> = fc.record({ process: fc.record({ serviceName: fc.string({ maxLength: 8 }), tags: fc.array(tag, { maxLength: 3 }) }), spans: fc.array(jaegerSpan, { minLength: 1, maxLength: 5 }) });

describe('Thrift structs', () => {
  it('a Jaeger Batch in the compact protocol decodes to what it does in the binary protocol', () => {
    fc.assert(
      fc.property(batch, (b) => {
        const binaryBatch = Buffer.from(encodeJaegerThriftBatch(b));
        const fromBinary = decodeJaegerThriftBatch(binaryBatch);
        expect(fromBinary.spans.length + fromBinary.rejected.length).toBe(b.spans.length);
        expect(readJaegerBatch(new CompactThriftReader(binaryToCompact(binaryBatch)))).toEqual(fromBinary);
      }),
      { numRuns: 300 },
    );
  });
});
