import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { traceKey } from '../../src/trace/key.js';
import { TraceMemory } from '../../src/processors/join/normalize.js';
import { RememberedTraces } from '../../src/processors/join/remembered.js';
import { CLIENT, SENT } from '../../src/processors/join/span-ids.js';
import { span } from './spans.js';

/**
 * What the store must answer, kept the way the join kept it before the store: a Map from the trace
 * key to the TraceMemory object, in release order (a released trace moves to the end).
 */
class Reference {
  readonly map = new Map<string, TraceMemory>();
  put(m: TraceMemory): void {
    this.map.delete(traceKey(m.traceId));
    this.map.set(traceKey(m.traceId), m);
  }
  take(traceId: string): TraceMemory | undefined {
    const m = this.map.get(traceKey(traceId));
    this.map.delete(traceKey(traceId));
    return m;
  }
  expire(now: number, lateMs: number, max: number): void {
    for (const [k, m] of this.map) {
      if (now - m.releasedAt < lateMs && this.map.size <= max) break;
      this.map.delete(k);
    }
  }
}

const spanOf = (traceId: string, n: number) => ({ ...span(n.toString(16), undefined, 'svc', n, n + 1, { kind: n % 2 ? 'client' : 'server' }), traceId });

/** A memory of `spans` spans (1..spans seen, the odd ones marked SENT|CLIENT), with a shared split when asked. */
function memoryOf(traceId: string, spans: number, at: number, shared: boolean): TraceMemory {
  const m = new TraceMemory();
  m.traceId = traceId;
  m.releasedAt = at;
  for (let n = 1; n <= spans; n++) {
    m.addSeen(spanOf(traceId, n));
    if (n % 2) m.mark(n.toString(16).padStart(16, '0'), SENT | CLIENT);
  }
  if (shared) m.shared = new Map([['0000000000000001', { serverSpanId: 'aaaaaaaaaaaaaaaa', serverService: 'svc', serverHost: undefined }]]);
  return m;
}

function expectSame(got: TraceMemory | undefined, want: TraceMemory | undefined, traceId: string): void {
  expect(got === undefined).toBe(want === undefined);
  if (!got || !want) return;
  expect(got.traceId).toBe(want.traceId);
  expect(got.releasedAt).toBe(want.releasedAt);
  expect(got.sentCount).toBe(want.sentCount);
  expect(got.shared).toEqual(want.shared);
  for (let n = 1; n <= 40; n++) {
    expect(got.hasSeen(spanOf(traceId, n))).toBe(want.hasSeen(spanOf(traceId, n)));
    expect(got.has(n.toString(16).padStart(16, '0'), SENT)).toBe(want.has(n.toString(16).padStart(16, '0'), SENT));
  }
}

// Trace IDs in every form a decoder or a hostile sender can produce: 64-bit and 128-bit sharing a
// low half (one trace key), left-padded, upper case and not hex at all (hashed keys), odd lengths.
const LOWS = ['4ed11df465275600', '00000000000000ff', '0123456789abcdef', 'ffffffffffffffff'];
const traceIdArb = fc.oneof(
  fc.constantFrom(...LOWS),
  fc.constantFrom(...LOWS).map((l) => `463ac35c9f6413ad${l}`),
  fc.constantFrom(...LOWS).map((l) => `0000000000000000${l}`),
  fc.constantFrom('4ED11DF465275600', 'not-a-hex-trace!', 'zz', '463ac35c9f6413ad48', ''),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((b) => b.toString(16).padStart(16, '0')),
);

describe('RememberedTraces: the join\'s memory of released traces, in columns', () => {
  it('answers as a Map of TraceMemory objects in release order would: put, take, hasSeen, expire', () => {
    const op = fc.oneof(
      fc.record({ t: fc.constant('put' as const), id: traceIdArb, spans: fc.oneof(fc.integer({ min: 0, max: 6 }), fc.constant(40)), shared: fc.boolean() }),
      fc.record({ t: fc.constant('take' as const), id: traceIdArb }),
      fc.record({ t: fc.constant('seen' as const), id: traceIdArb, n: fc.integer({ min: 1, max: 41 }) }),
      fc.record({ t: fc.constant('expire' as const), late: fc.integer({ min: 0, max: 50 }), max: fc.integer({ min: 0, max: 6 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 200 }), (ops) => {
        const store = new RememberedTraces();
        const ref = new Reference();
        let now = 1_000;
        for (const o of ops) {
          now += 3;
          if (o.t === 'put') {
            // Each side gets its own copy: the store compacts what it is given.
            store.put(memoryOf(o.id, o.spans, now, o.shared));
            ref.put(memoryOf(o.id, o.spans, now, o.shared));
          } else if (o.t === 'take') expectSame(store.take(o.id), ref.take(o.id), o.id);
          else if (o.t === 'seen') expect(store.hasSeen(spanOf(o.id, o.n))).toBe(ref.map.get(traceKey(o.id))?.hasSeen(spanOf(o.id, o.n)) ?? false);
          else {
            store.expire(now, o.late, o.max);
            ref.expire(now, o.late, o.max);
          }
          expect(store.size).toBe(ref.map.size);
        }
        for (const [, m] of ref.map) expectSame(store.take(m.traceId), m, m.traceId);
        expect(store.size).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps 100,000 traces exact through growth, removals that shift probed entries back, and expiry in release order', () => {
    const store = new RememberedTraces();
    const id = (t: number) => `463ac35c9f6413ad${(t * 0x9e3779b1 >>> 0).toString(16).padStart(8, '0')}${t.toString(16).padStart(8, '0')}`;
    for (let t = 0; t < 100_000; t++) store.put(memoryOf(id(t), 2, t, false));
    // Take every third out (each removal moves entries that probed past it) and release it again later.
    for (let t = 0; t < 100_000; t += 3) {
      const m = store.take(id(t))!;
      expect(m.traceId).toBe(id(t));
      expect(m.hasSeen(spanOf(id(t), 2))).toBe(true);
      m.releasedAt = 100_000 + t;
      store.put(m);
    }
    expect(store.size).toBe(100_000);
    for (let t = 1; t < 100_000; t += 7) expect(store.hasSeen(spanOf(id(t), 1))).toBe(true);
    expect(store.hasSeen(spanOf(id(100_001), 1))).toBe(false);
    // Everything released before 100,000 goes: the traces never taken out.
    store.expire(100_000, 1, 1_000_000);
    expect(store.size).toBe(Math.ceil(100_000 / 3));
    for (let t = 0; t < 30; t++) expect(store.take(id(t)) !== undefined).toBe(t % 3 === 0);
    // The bound on traces holds whatever their age: the oldest go first.
    store.expire(0, 1_000_000, 5);
    expect(store.size).toBe(5);
    expect(store.take(id(99_999))!.releasedAt).toBe(199_999);
  });

  it('takes a new seed when a sender picks trace IDs that all hash to one slot, and still finds every one', () => {
    // The table's hash, as the store computes it, for a seed fixed here: every low half below gets
    // the high half that makes the value hashed before the last mix one constant, so all 300 IDs
    // land in one slot under this seed, whatever the table's size.
    const fmix = (h: number): number => {
      h ^= h >>> 16;
      h = Math.imul(h, 0x85ebca6b);
      h ^= h >>> 13;
      h = Math.imul(h, 0xc2b2ae35);
      return (h ^ (h >>> 16)) >>> 0;
    };
    const seed = new Int32Array([0x12345678, -0x6543210]);
    const hex8 = (w: number) => (w >>> 0).toString(16).padStart(8, '0');
    const ids = Array.from({ length: 300 }, (_, n) => {
      const lo = n * 7919;
      const hi = 0x5bd1e995 ^ fmix(lo ^ seed[0]!) ^ seed[1]!;
      return `463ac35c9f6413ad${hex8(hi)}${hex8(lo)}`;
    });
    const store = new RememberedTraces(seed);
    for (const [t, id] of ids.entries()) store.put(memoryOf(id, 1, t, false));
    expect(store.reseeds).toBe(1);
    for (const id of ids) expect(store.hasSeen(spanOf(id, 1))).toBe(true);
    for (const id of ids.slice(0, 150)) expect(store.take(id)!.traceId).toBe(id);
    for (const id of ids.slice(150)) expect(store.take(id)!.traceId).toBe(id);
    expect(store.size).toBe(0);
  });
});
