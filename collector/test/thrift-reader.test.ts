/**
 * The Thrift readers' strings, read where they lie through protocol/text.ts (short ASCII ones shared
 * from its table): the same text Buffer#toString('utf8') gives, which is what they gave before, for
 * any bytes (not UTF-8, a byte order mark, short or long, repeated, interleaved), in both protocols.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
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
