import fc from 'fast-check';

/** Byte-level damage for the fuzz tests: a valid encoding with bytes changed, cut short, a piece of it repeated, or junk spliced in. */
export function mutate(bytes: Uint8Array): fc.Arbitrary<Buffer> {
  const b = Buffer.from(bytes);
  return fc.oneof(
    fc.array(fc.tuple(fc.nat(Math.max(0, b.length - 1)), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }).map((flips) => {
      const c = Buffer.from(b);
      for (const [i, v] of flips) if (c.length) c[i] = v;
      return c;
    }),
    fc.nat(b.length).map((n) => b.subarray(0, n)),
    fc.tuple(fc.nat(b.length), fc.nat(b.length), fc.integer({ min: 1, max: 50 })).map(([from, to, times]) => {
      const piece = b.subarray(Math.min(from, to), Math.max(from, to));
      return Buffer.concat([b, ...Array.from({ length: times }, () => piece)]);
    }),
    fc.tuple(fc.nat(b.length), fc.uint8Array({ maxLength: 64 })).map(([at, junk]) => Buffer.concat([b.subarray(0, at), junk, b.subarray(at)])),
  );
}
