import { randomFillSync } from 'node:crypto';
import type { Span } from '../../model/span.js';
import { traceKey } from '../../trace/key.js';
import { TraceMemory } from './normalize.js';
import { hexWord, rowsHaveSeen } from './span-ids.js';

// The low 64 bits of the trace ID last given to exactKey (traceKey's part), when it is 16 lowercase
// hex digits: every decoder's form. Such keys are unique per trace, so the table compares numbers.
let KH = 0;
let KL = 0;

function exactKey(traceId: string): boolean {
  const from = traceId.length === 16 ? 0 : 16;
  if (traceId.length - from !== 16) return false;
  KH = hexWord(traceId, from);
  KL = hexWord(traceId, from + 8);
  return KH === KH && KL === KL; // not NaN
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * From node:crypto, which the collector has loaded anyway: the global `crypto` (Web Crypto) loads
 * its own modules at first use, ~4 ms of every start (the join makes this table when it is built).
 */
function randomSeed(): Int32Array {
  return randomFillSync(new Int32Array(2));
}

/** A probe longer than this (keys a sender chose to collide, or bad luck) makes the table take a new seed. */
const MAX_PROBE = 64;

const hex8 = (w: number): string => (w >>> 0).toString(16).padStart(8, '0');

function grown<T extends Int32Array | Float64Array | Uint8Array>(a: T, size: number): T {
  const b = new (a.constructor as new (n: number) => T)(size);
  b.set(a);
  return b;
}

/**
 * The traces the join has released and still remembers (for `late_span_memory`, at most
 * `max_traces`), so late spans join them and retries are dropped: tens of thousands at once, so
 * held in columns instead of an object each. A plain trace is a record of numbers: its trace ID as
 * four int32 words, release time, where its span ID rows sit in a shared chunk, how many were sent.
 * A trace with more (indexed rows, shared spans split) keeps its TraceMemory whole. Records are found
 * through an open-addressing table keyed by the trace ID's low 64 bits, hashed with a random seed
 * (a new one if a probe ever grows long: trace IDs are chosen by senders), so the lookup every
 * received span makes allocates nothing. A trace ID in no decoder's form (not lowercase hex) is
 * looked up through a Map of its key string instead.
 *
 * As a Map of TraceMemory objects keyed by the ID's low half, a remembered trace took ~350 bytes
 * beside its rows; at 10k spans/s, 60 s, the ~50,000 remembered traces cost 25-32 MiB of peak RSS
 * more than this store (README, #10).
 */
export class RememberedTraces {
  private cap = 0;
  private keyHi = new Int32Array(0);
  private keyLo = new Int32Array(0);
  /** The high 64 bits of a 128-bit ID (width 32). */
  private idHi = new Int32Array(0);
  private idLo = new Int32Array(0);
  /** 16 or 32: the trace ID is those hex digits of the words; 0: it is `ids[r]`, kept as given. */
  private width = new Uint8Array(0);
  private base = new Int32Array(0);
  private ints = new Int32Array(0);
  private sent = new Int32Array(0);
  /** Bumped when a record is removed, so entries of `order` naming its earlier use are skipped. */
  private gen = new Int32Array(0);
  private released = new Float64Array(0);
  private readonly ids: (string | undefined)[] = [];
  private readonly chunks: (Int32Array | undefined)[] = [];
  /** A trace kept whole; undefined for a plain record. */
  private readonly whole: (TraceMemory | undefined)[] = [];
  private readonly free: number[] = [];
  private count = 0;
  /** Record number + 1 per slot (0: empty), linear probing, at most half full. */
  private table = new Int32Array(64);
  private linked = 0;
  private seed0: number;
  private seed1: number;
  private linksSinceSeed = 0;
  /** How many times the table took a new seed because a probe grew past MAX_PROBE. */
  reseeds = 0;
  /** Records whose trace ID has no exact key, by traceKey. */
  private readonly odd = new Map<string, number>();
  /** (record, gen) pairs in release order, a ring from `head`, `queued` long. */
  private order = new Int32Array(128);
  private head = 0;
  private queued = 0;

  /** `seed` for tests only: a table whose collisions a test can compute. */
  constructor(seed: Int32Array = randomSeed()) {
    this.seed0 = seed[0]!;
    this.seed1 = seed[1]!;
  }

  get size(): number {
    return this.count;
  }

  /** Whether the remembered trace of this span, if any, has already seen the same span. */
  hasSeen(s: Span): boolean {
    const r = this.find(s.traceId);
    if (r < 0) return false;
    const whole = this.whole[r];
    if (whole) return whole.hasSeen(s);
    const chunk = this.chunks[r];
    return chunk !== undefined && rowsHaveSeen(chunk, this.base[r]!, this.ints[r]!, undefined, s);
  }

  /** Takes out what is remembered of the trace of `traceId` (to release it again), as one object. */
  take(traceId: string): TraceMemory | undefined {
    const r = this.find(traceId);
    if (r < 0) return undefined;
    let mem = this.whole[r];
    if (!mem) {
      mem = new TraceMemory().restorePacked(this.chunks[r], this.base[r]!, this.ints[r]!, this.sent[r]!);
      mem.traceId = this.traceIdOf(r);
      mem.releasedAt = this.released[r]!;
    }
    this.remove(r);
    return mem;
  }

  /** Remembers a trace as just released (`mem.releasedAt`), replacing what was remembered of it. */
  put(mem: TraceMemory): void {
    const id = mem.traceId;
    const old = this.find(id);
    if (old >= 0) this.remove(old);
    mem.compact();
    const r = this.alloc();
    this.released[r] = mem.releasedAt;
    const chunk = mem.packedChunk;
    if (mem.shared || (!chunk && mem.packedInts > 0)) {
      this.whole[r] = mem;
      this.chunks[r] = undefined;
    } else {
      this.whole[r] = undefined;
      this.chunks[r] = chunk;
      this.base[r] = mem.packedBase;
      this.ints[r] = mem.packedInts;
      this.sent[r] = mem.sentCount;
    }
    this.ids[r] = undefined;
    this.width[r] = 0;
    if (exactKey(id)) {
      this.keyHi[r] = KH;
      this.keyLo[r] = KL;
      if (id.length === 16) this.width[r] = 16;
      else {
        const hi = hexWord(id, 0);
        const lo = hexWord(id, 8);
        if (hi === hi && lo === lo) {
          this.idHi[r] = hi;
          this.idLo[r] = lo;
          this.width[r] = 32;
        } else this.ids[r] = id;
      }
      this.link(r);
    } else {
      this.ids[r] = id;
      this.odd.set(traceKey(id), r);
    }
    this.count++;
    this.enqueue(r);
  }

  /** Forgets, oldest release first, what was released `lateMs` ago or more, and what is over `maxTraces`. */
  expire(now: number, lateMs: number, maxTraces: number): void {
    while (this.queued > 0) {
      const r = this.order[this.head]!;
      if (this.gen[r] === this.order[this.head + 1]) {
        if (now - this.released[r]! < lateMs && this.count <= maxTraces) return;
        this.remove(r);
      }
      this.head = (this.head + 2) % this.order.length;
      this.queued--;
    }
  }

  private traceIdOf(r: number): string {
    const w = this.width[r];
    if (w === 0) return this.ids[r]!;
    const low = hex8(this.keyHi[r]!) + hex8(this.keyLo[r]!);
    return w === 16 ? low : hex8(this.idHi[r]!) + hex8(this.idLo[r]!) + low;
  }

  private slot(hi: number, lo: number): number {
    return fmix(fmix(lo ^ this.seed0) ^ hi ^ this.seed1) & (this.table.length - 1);
  }

  private find(traceId: string): number {
    if (!exactKey(traceId)) return this.odd.get(traceKey(traceId)) ?? -1;
    const mask = this.table.length - 1;
    for (let i = this.slot(KH, KL); this.table[i] !== 0; i = (i + 1) & mask) {
      const r = this.table[i]! - 1;
      if (this.keyLo[r] === KL && this.keyHi[r] === KH) return r;
    }
    return -1;
  }

  private alloc(): number {
    const r = this.free.pop();
    if (r !== undefined) return r;
    if (this.count === this.cap) {
      const cap = Math.max(1024, this.cap * 2);
      this.keyHi = grown(this.keyHi, cap);
      this.keyLo = grown(this.keyLo, cap);
      this.idHi = grown(this.idHi, cap);
      this.idLo = grown(this.idLo, cap);
      this.width = grown(this.width, cap);
      this.base = grown(this.base, cap);
      this.ints = grown(this.ints, cap);
      this.sent = grown(this.sent, cap);
      this.gen = grown(this.gen, cap);
      this.released = grown(this.released, cap);
      this.cap = cap;
    }
    // With no record free, every record below `count` is in use: the next new one is `count`.
    return this.count;
  }

  private link(r: number): void {
    if ((this.linked + 1) * 2 > this.table.length) this.rehash(this.table.length * 2);
    const mask = this.table.length - 1;
    let i = this.slot(this.keyHi[r]!, this.keyLo[r]!);
    let probes = 0;
    for (; this.table[i] !== 0; i = (i + 1) & mask) probes++;
    this.table[i] = r + 1;
    this.linked++;
    this.linksSinceSeed++;
    // Linear probing at half load keeps probes short for keys the seed scatters; a long one means
    // keys that collide under this seed. A new seed scatters them (at most once per table's worth of links).
    if (probes > MAX_PROBE && this.linksSinceSeed > this.linked / 2) {
      const seed = randomSeed();
      this.seed0 = seed[0]!;
      this.seed1 = seed[1]!;
      this.linksSinceSeed = 0;
      this.reseeds++;
      this.rehash(this.table.length);
    }
  }

  private rehash(size: number): void {
    const old = this.table;
    this.table = new Int32Array(size);
    const mask = size - 1;
    for (const v of old) {
      if (v === 0) continue;
      let i = this.slot(this.keyHi[v - 1]!, this.keyLo[v - 1]!);
      while (this.table[i] !== 0) i = (i + 1) & mask;
      this.table[i] = v;
    }
  }

  private enqueue(r: number): void {
    if (this.queued * 2 === this.order.length) {
      const order = new Int32Array(this.order.length * 2);
      for (let k = 0; k < this.queued; k++) {
        const from = (this.head + 2 * k) % this.order.length;
        order[2 * k] = this.order[from]!;
        order[2 * k + 1] = this.order[from + 1]!;
      }
      this.order = order;
      this.head = 0;
    }
    const at = (this.head + 2 * this.queued) % this.order.length;
    this.order[at] = r;
    this.order[at + 1] = this.gen[r]!;
    this.queued++;
  }

  private remove(r: number): void {
    const id = this.ids[r];
    if (id !== undefined && !exactKey(id)) this.odd.delete(traceKey(id));
    else this.unlink(r);
    this.gen[r] = (this.gen[r]! + 1) | 0;
    this.ids[r] = undefined;
    this.chunks[r] = undefined;
    this.whole[r] = undefined;
    this.free.push(r);
    this.count--;
  }

  /** Takes record r out of the table, moving back the entries after it that probed past its slot. */
  private unlink(r: number): void {
    const mask = this.table.length - 1;
    let i = this.slot(this.keyHi[r]!, this.keyLo[r]!);
    while (this.table[i] !== r + 1) i = (i + 1) & mask;
    this.table[i] = 0;
    for (let j = (i + 1) & mask; this.table[j] !== 0; j = (j + 1) & mask) {
      const v = this.table[j]!;
      const home = this.slot(this.keyHi[v - 1]!, this.keyLo[v - 1]!);
      // v stays if its home lies cyclically in (i, j]; otherwise it moves into the hole.
      if (i <= j ? home > i && home <= j : home > i || home <= j) continue;
      this.table[i] = v;
      this.table[j] = 0;
      i = j;
    }
    this.linked--;
  }
}
