import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CLIENT, LONE_SERVER, SENT, SpanIds } from '../../src/processors/join/span-ids.js';
import { span } from './spans.js';

const BITS = [SENT, CLIENT, LONE_SERVER] as const;

/** What SpanIds must answer, kept the plain way: a key string per span, a Set of IDs per mark. */
class Reference {
  readonly seen = new Set<string>();
  readonly marks = new Map<number, Set<string>>(BITS.map((b) => [b, new Set()]));
  static key(s: ReturnType<typeof span>): string {
    return `${s.spanId}|${s.kind}|${s.parentSpanId ?? ''}|${s.startTimeUnixNano}|${s.endTimeUnixNano}`;
  }
}

describe('SpanIds: the join\'s packed span IDs of one trace', () => {
  it('answers as a Set of key strings and Sets of marked IDs would, scanned (few rows) and indexed (many)', () => {
    // Few distinct IDs so that the same ID comes back with other content, marks and repeats.
    const id = fc.oneof(fc.integer({ min: 1, max: 40 }).map((n) => n.toString(16)), fc.constantFrom('zz', 'not-hex-at-all!', 'ABCDEF0123456789'));
    const op = fc.oneof(
      fc.record({ t: fc.constant('seen' as const), id, kind: fc.constantFrom('client' as const, 'server' as const), start: fc.integer({ min: 0, max: 1 }), parent: fc.option(fc.constant('a')) }),
      fc.record({ t: fc.constant('mark' as const), id, bit: fc.constantFrom(...BITS) }),
    );
    fc.assert(
      fc.property(fc.array(op, { minLength: 100, maxLength: 400 }), (ops) => {
        const ids = new SpanIds();
        const ref = new Reference();
        for (const o of ops) {
          if (o.t === 'seen') {
            const s = span(o.id, o.parent ?? undefined, 'svc', o.start, o.start + 1, { kind: o.kind });
            const key = Reference.key(s);
            expect(ids.hasSeen(s)).toBe(ref.seen.has(key));
            expect(ids.addSeen(s)).toBe(!ref.seen.has(key));
            ref.seen.add(key);
            expect(ids.hasSeen(s)).toBe(true);
          } else {
            const spanId = o.id.padStart(16, '0');
            ids.mark(spanId, o.bit);
            ref.marks.get(o.bit)!.add(spanId);
          }
        }
        ids.compact();
        for (const bit of BITS) {
          for (let n = 1; n <= 40; n++) {
            const spanId = n.toString(16).padStart(16, '0');
            expect(ids.has(spanId, bit)).toBe(ref.marks.get(bit)!.has(spanId));
          }
        }
        expect(ids.sentCount).toBe(ref.marks.get(SENT)!.size);
      }),
      { numRuns: 200 },
    );
  });

  it('keeps a trace of 10,000 spans exact past the index threshold', () => {
    const ids = new SpanIds();
    for (let n = 1; n <= 10_000; n++) expect(ids.addSeen(span(n.toString(16), undefined, 'svc', 0, 1))).toBe(true);
    for (let n = 1; n <= 10_000; n += 97) expect(ids.addSeen(span(n.toString(16), undefined, 'svc', 0, 1))).toBe(false);
    expect(ids.hasSeen(span('10001', undefined, 'svc', 0, 1))).toBe(false);
    ids.mark('0000000000000fff', SENT);
    expect(ids.has('0000000000000fff', SENT)).toBe(true);
    expect(ids.has('0000000000000ffe', SENT)).toBe(false);
  });
});
