import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sameTraceId128, traceIdTo128 } from '../src/model/ids.js';

describe('sameTraceId128', () => {
  it('answers traceIdTo128(a) === traceIdTo128(b) for IDs of every length, padded or not', () => {
    // Hex digits weighted towards '0', so that left-padded spellings of one ID come up often.
    const digits = fc.array(fc.constantFrom('0', '0', '0', '1', 'a', 'f'), { maxLength: 40 }).map((d) => d.join(''));
    const pair = fc.oneof(
      fc.tuple(digits, digits),
      digits.map((d) => [d, d.padStart(32, '0')] as const),
      digits.map((d) => [d.replace(/^0+/, ''), d] as const),
    );
    fc.assert(
      fc.property(pair, ([a, b]) => {
        expect(sameTraceId128(a, b)).toBe(traceIdTo128(a) === traceIdTo128(b));
        expect(sameTraceId128(b, a)).toBe(traceIdTo128(a) === traceIdTo128(b));
      }),
      { numRuns: 2000 },
    );
    expect(sameTraceId128('4ed11df465275600', '00000000000000004ed11df465275600')).toBe(true);
    expect(sameTraceId128('4ed11df465275600', '00000000000000014ed11df465275600')).toBe(false);
  });
});
