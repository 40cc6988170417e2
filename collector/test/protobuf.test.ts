/**
 * The hand-written protobuf reader and writer where they take shortcuts: ProtoReader.string keeps
 * short ASCII strings in a table whose slot comes from a string's length and three of its bytes
 * (strings that share a slot, and every other string, must still read back exactly), and both
 * read and write fixed64 through a BigUint64Array; the writer spells hex IDs as bytes by hand; int64
 * gives a number below 2^53 without BigInts; nanosOf makes a time in nanoseconds in 32-bit words.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtoReader, ProtoWriter } from '../src/protocol/protobuf.js';
import { nanosOf } from '../src/model/time.js';
import { varint } from './helpers/varint.js';

/** Field 1 (length-delimited) once per string, one message. */
function message(values: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const v of values) parts.push(Buffer.from([(1 << 3) | 2, ...varint(v.length)]), v);
  return Buffer.concat(parts);
}

function readAll(buf: Buffer): string[] {
  const r = new ProtoReader(buf);
  const out: string[] = [];
  while (!r.done) {
    expect(r.uint32()).toBe((1 << 3) | 2);
    out.push(r.string());
  }
  return out;
}

// ignoreBOM: a leading U+FEFF stays in the text, as protobuf's own decoders and Buffer#toString keep it.
const decode = (b: Buffer) => new TextDecoder('utf-8', { ignoreBOM: true }).decode(b);

// Same length, same first, middle and last byte: the same slot, told apart only by the comparison.
const sameSlot = fc
  .tuple(fc.integer({ min: 3, max: 48 }), fc.array(fc.integer({ min: 0x20, max: 0x7e }), { minLength: 48, maxLength: 48 }), fc.integer({ min: 0x20, max: 0x7e }))
  .map(([n, bytes, other]) => {
    const a = Buffer.from(bytes.slice(0, n));
    const b = Buffer.from(a);
    // Change a byte that is not the first, the middle or the last (n >= 3: index 1 unless it is the middle).
    const at = n >> 1 === 1 ? (n > 3 ? 2 : -1) : 1;
    if (at >= 0) b[at] = other;
    return [a, b];
  });

describe('ProtoReader.string', () => {
  it('reads back every string, ASCII or not, short or long, repeated or sharing a slot, in any order', () => {
    const value = fc.oneof(
      fc.string({ maxLength: 60 }).map((s) => Buffer.from(s, 'utf8')),
      fc.string({ unit: 'grapheme', maxLength: 20 }).map((s) => Buffer.from(s, 'utf8')),
      fc.constantFrom('http.method', 'GET', 'PUT', 'service-1', 'service-2', '', 'a').map((s) => Buffer.from(s)),
      sameSlot.map(([a]) => a!),
      fc.uint8Array({ maxLength: 50 }).map((u) => Buffer.from(u)),
    );
    fc.assert(
      fc.property(fc.array(value, { maxLength: 40 }), sameSlot, (values, pair) => {
        // Each twice, and the pair that shares a slot interleaved, so that entries are found and replaced.
        const all = [...values, ...pair, ...values, ...pair.reverse(), ...pair];
        expect(readAll(message(all))).toEqual(all.map(decode));
      }),
      { numRuns: 300 },
    );
  });

  it('a byte order mark at the start is kept, short or long', () => {
    const short = Buffer.from('\ufeffé');
    const long = Buffer.from(`\ufeff${'é'.repeat(40)}`);
    expect(readAll(message([short, long]))).toEqual(['\ufeffé', `\ufeff${'é'.repeat(40)}`]);
  });

  it('bytes that are not UTF-8 read as the replacement character, also when an ASCII string shares their slot', () => {
    const ascii = Buffer.from('abc');
    const bad = Buffer.from([0x61, 0xff, 0x63]);
    expect(readAll(message([ascii, bad, ascii, bad]))).toEqual(['abc', 'a\ufffdc', 'abc', 'a\ufffdc']);
  });
});

describe('fixed64', () => {
  it('writes what Buffer#writeBigUInt64LE writes, modulo 2^64 as BigInt.asUintN(64) takes it, and reads it back', () => {
    const edges = [0n, 1n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 63n, 2n ** 64n - 1n, 2n ** 64n, 2n ** 64n + 5n, -1n, -(2n ** 63n), 1_700_000_000_123_456_789n];
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constantFrom(...edges), fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n })), { maxLength: 20 }), (values) => {
        const w = new ProtoWriter(4);
        for (const v of values) w.fixed64(v);
        const expected = Buffer.alloc(8 * values.length);
        values.forEach((v, i) => expected.writeBigUInt64LE(BigInt.asUintN(64, v), 8 * i));
        expect(w.finish()).toEqual(expected);
        const r = new ProtoReader(w.finish());
        for (const v of values) expect(r.fixed64()).toBe(BigInt.asUintN(64, v));
      }),
      { numRuns: 200 },
    );
  });
});

describe('hexBytes', () => {
  it("writes the bytes Buffer.from(hex, 'hex') spells, left-padded with zero bytes to the width asked for", () => {
    const hexId = (bytes: number) => fc.uint8Array({ minLength: 1, maxLength: bytes }).map((b) => Buffer.from(b).toString('hex'));
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.tuple(hexId(16), fc.constant(16)), fc.tuple(hexId(8), fc.constant(undefined))), { maxLength: 12 }), fc.boolean(), (ids, upper) => {
        const w = new ProtoWriter(4);
        const expected: Buffer[] = [];
        ids.forEach(([hex, width], i) => {
          w.hexBytes(i + 1, upper ? hex.toUpperCase() : hex, width);
          const bytes = Buffer.from(hex, 'hex');
          const field = Buffer.concat([Buffer.alloc((width ?? bytes.length) - bytes.length), bytes]);
          expected.push(Buffer.from([((i + 1) << 3) | 2, field.length]), field);
        });
        expect(w.finish()).toEqual(Buffer.concat(expected));
      }),
      { numRuns: 300 },
    );
  });
});

describe('int64', () => {
  it('reads every 64-bit value back as BigInt.asIntN(64) gives it: a number when it is safe, a bigint when not', () => {
    const edges = [0n, 1n, 127n, 128n, 2n ** 28n - 1n, 2n ** 28n, 2n ** 31n, 1_700_000_000n, 999_999_999n, 2n ** 32n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n];
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constantFrom(...edges), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.bigInt({ min: 0n, max: 2n ** 40n })), { maxLength: 20 }), (values) => {
        const bytes: number[] = [];
        for (let u of values) {
          while (u > 0x7fn) {
            bytes.push(Number(u & 0x7fn) | 0x80);
            u >>= 7n;
          }
          bytes.push(Number(u));
        }
        const r = new ProtoReader(Buffer.from(bytes));
        for (const v of values) {
          const signed = BigInt.asIntN(64, v);
          const safe = signed >= BigInt(Number.MIN_SAFE_INTEGER) && signed <= BigInt(Number.MAX_SAFE_INTEGER);
          expect(r.int64()).toBe(safe ? Number(signed) : signed);
        }
        expect(r.done).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('nanosOf', () => {
  it('is count * unit + plus exactly, as BigInt arithmetic gives it, in and out of its fast range', () => {
    const count = fc.oneof(
      fc.integer({ min: 0, max: 2 ** 34 }),
      fc.constantFrom(0, 1, 2 ** 21 - 1, 2 ** 21, 2 ** 34 - 1, 2 ** 34, 1_700_000_000, 1_700_000_000_123_456, Number.MAX_SAFE_INTEGER, -1, 2.5),
      fc.maxSafeNat(),
      fc.bigInt({ min: 0n, max: 2n ** 40n }),
    );
    const unit = fc.oneof(fc.constantFrom(1, 1000, 1_000_000_000, 2 ** 31 - 1), fc.integer({ min: 1, max: 2 ** 31 - 1 }));
    const plus = fc.oneof(fc.constantFrom(0, 999_999_999, 2 ** 31 - 1, 2 ** 31, -1), fc.integer({ min: 0, max: 2 ** 31 - 1 }));
    fc.assert(
      fc.property(count, unit, plus, (c, u, p) => {
        let expected: bigint | Error;
        try {
          expected = BigInt(c) * BigInt(u) + BigInt(p);
        } catch (err) {
          expected = err as Error;
        }
        if (expected instanceof Error) expect(() => nanosOf(c, u, p)).toThrow(expected.constructor as new () => Error);
        else expect(nanosOf(c, u, p)).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });
});
