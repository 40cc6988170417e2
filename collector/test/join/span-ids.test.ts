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
      // Released: the rows move to the shared chunk; what follows moves them back out.
      fc.record({ t: fc.constant('compact' as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 400 }), (ops) => {
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
          } else if (o.t === 'compact') {
            ids.compact();
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
  it('keeps every released trace exact in the shared chunks, across chunk ends, and after one grows again', () => {
    // 12,000 traces of 3 spans (12 ints each) released one after another: more than two chunks of
    // 65,536 ints, which 12 does not divide, so some trace meets a chunk's end with room for less.
    const N = 3;
    const id = (t: number, i: number): string => `${t.toString(16)}f${i}`;
    const traces = Array.from({ length: 12_000 }, (_, t) => {
      const ids = new SpanIds();
      for (let i = 0; i < N; i++) {
        ids.addSeen(span(id(t, i), undefined, 'svc', t, t + 1, { kind: 'server' }));
        ids.mark(id(t, i).padStart(16, '0'), SENT | (i === 1 ? CLIENT : 0));
      }
      ids.compact();
      return ids;
    });
    const wrong = (t: number): string | undefined => {
      const ids = traces[t]!;
      if (ids.sentCount !== N) return `trace ${t}: sentCount ${ids.sentCount}`;
      for (let i = 0; i < N; i++) {
        if (!ids.hasSeen(span(id(t, i), undefined, 'svc', t, t + 1, { kind: 'server' }))) return `trace ${t}: span ${i} not seen`;
        if (ids.hasSeen(span(id(t, i), undefined, 'svc', t + 1, t + 2, { kind: 'server' }))) return `trace ${t}: other content seen`;
        if (ids.has(id(t, i).padStart(16, '0'), CLIENT) !== (i === 1)) return `trace ${t}: span ${i} client mark`;
      }
      return ids.has(id(t, N).padStart(16, '0'), SENT) ? `trace ${t}: an ID never marked is` : undefined;
    };
    const all = (): string[] => traces.map((_, t) => wrong(t)).filter((w): w is string => w !== undefined);
    expect(all()).toEqual([]);
    // A late span joins trace 5 after its release: its rows move out, then back into the current chunk.
    const late = traces[5]!;
    expect(late.addSeen(span(id(5, N), undefined, 'svc', 5, 6, { kind: 'server' }))).toBe(true);
    expect(late.addSeen(span(id(5, N), undefined, 'svc', 5, 6, { kind: 'server' }))).toBe(false);
    late.mark(id(5, N).padStart(16, '0'), SENT);
    late.compact();
    expect(late.sentCount).toBe(N + 1);
    expect(late.hasSeen(span(id(5, 0), undefined, 'svc', 5, 6, { kind: 'server' }))).toBe(true);
    expect(late.has(id(5, N).padStart(16, '0'), SENT)).toBe(true);
    expect(all()).toEqual(['trace 5: sentCount 4']);
  });
});
