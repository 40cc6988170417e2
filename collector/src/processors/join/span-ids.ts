import type { Span, SpanKind } from '../../model/span.js';

const KIND_CODE: Record<SpanKind, number> = { unspecified: 0, internal: 1, server: 2, client: 3, producer: 4, consumer: 5 };
const FNV_PRIME = 0x01000193;

/** 32 bits of what identifies a span besides its ID: kind, parent, start and end. */
export function contentHash(s: Span): number {
  let h = 0x811c9dc5 ^ KIND_CODE[s.kind];
  const p = s.parentSpanId;
  if (p) for (let i = 0; i < p.length; i++) h = Math.imul(h ^ p.charCodeAt(i), FNV_PRIME);
  const start = Number(s.startTimeUnixNano);
  const end = Number(s.endTimeUnixNano);
  h = Math.imul(h ^ (start % 4294967296), FNV_PRIME);
  h = Math.imul(h ^ Math.floor(start / 4294967296), FNV_PRIME);
  h = Math.imul(h ^ (end % 4294967296), FNV_PRIME);
  h = Math.imul(h ^ Math.floor(end / 4294967296), FNV_PRIME);
  return h | 0;
}

/** What a row says about its span ID (bits of its fourth number). */
export const SEEN = 1;
/** Sent on by the join (under this ID, after its renames): a late span may name it as parent. */
export const SENT = 2;
/** A client span sent on: a server half arriving later with this ID is split from it. */
export const CLIENT = 4;
/** A lone server span sent with its own (shared) ID: a late client half gets a new ID. */
export const LONE_SERVER = 8;

const ROW = 4;
/** Past this many rows, lookups go through an index instead of a scan. */
const INDEX_AT = 32;

// The two 32-bit halves of the last ID parsed (no allocation per lookup).
let HI = 0;
let LO = 0;

/** Eight hex digits of `id` from `from` as an int32, or NaN when one is not a lowercase hex digit. */
export function hexWord(id: string, from: number): number {
  let w = 0;
  for (let i = from; i < from + 8; i++) {
    const c = id.charCodeAt(i);
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1;
    if (d < 0) return NaN;
    w = (w << 4) | d;
  }
  return w | 0;
}

function fnv(id: string, seed: number): number {
  let h = seed;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), FNV_PRIME);
  return h | 0;
}

/** A span ID as two int32 halves: exact for 16 lowercase hex digits (every decoder's form), hashed otherwise. */
function parse(id: string): void {
  if (id.length === 16) {
    HI = hexWord(id, 0);
    LO = hexWord(id, 8);
    if (HI === HI && LO === LO) return; // not NaN
  }
  HI = fnv(id, 0x811c9dc5);
  LO = fnv(id, 0x050c5d1f);
}

/** The offset of the next row of ID (hi, lo) after offset `after` in rows [base, base + len), or -1. */
function nextRow(rows: number[] | Int32Array, base: number, len: number, index: Map<number, number[]> | undefined, hi: number, lo: number, after: number): number {
  if (index) {
    const list = index.get(lo);
    if (list) for (const o of list) if (o > after && rows[base + o] === hi) return o;
    return -1;
  }
  for (let o = after + ROW; o < len; o += ROW) if (rows[base + o + 1] === lo && rows[base + o] === hi) return o;
  return -1;
}

/**
 * Whether rows [base, base + len) hold the same span (ID, kind, parent, times): SpanIds.hasSeen,
 * and RememberedTraces' answer for a trace it keeps as rows in a shared chunk alone.
 */
export function rowsHaveSeen(rows: number[] | Int32Array, base: number, len: number, index: Map<number, number[]> | undefined, s: Span): boolean {
  parse(s.spanId);
  const hi = HI;
  const lo = LO;
  let h: number | undefined;
  for (let o = nextRow(rows, base, len, index, hi, lo, -ROW); o >= 0; o = nextRow(rows, base, len, index, hi, lo, o)) {
    if (rows[base + o + 3]! & SEEN && rows[base + o + 2] === (h ??= contentHash(s))) return true;
  }
  return false;
}

/** Ints per chunk of the shared store of remembered rows: 16k rows, 256 KiB. */
const CHUNK_INTS = 64 * 1024;
// The chunk compacted rows are appended to, and how much of it is used. A chunk is no one's to
// free: it goes when the last trace whose rows it holds is forgotten (or grows again and moves
// out), and traces are forgotten in about the order they were released, so chunks empty in turn.
let chunk = new Int32Array(CHUNK_INTS);
let chunkUsed = 0;

/**
 * The span IDs of one trace the join holds or remembers, packed: a row of four small integers per
 * span (ID high and low halves, a 32-bit hash of kind, parent and times, and what the row says) in
 * one array, instead of an entry in a Set or Map per span with the ID string kept as its key. A
 * released trace is remembered for `late_span_memory`, tens of thousands at once: that is where
 * the bytes went (the bench measures bytes per remembered span). Once released (`compact`), a
 * trace's rows move into a chunk shared with the traces released around it (16 bytes a row
 * instead of 32 in an array of its own, and no array per trace); a later change moves them back.
 *
 * Seen rows drop the same span received twice (a retry): two spans are taken for one only when
 * their IDs match and so do their hashes, so a false match needs two different spans with one ID
 * in one trace whose hashes collide (about 1 in 4 billion per such pair).
 */
export class SpanIds {
  /** The rows: an array of this trace's own, or a shared chunk from `base` on (after `compact`). */
  private rows: number[] | Int32Array = [];
  private base = 0;
  /** Ints in use (four per row). */
  private len = 0;
  private index: Map<number, number[]> | undefined;
  /** Rows marked SENT. */
  sentCount = 0;

  /** Adds a span received; false when the same span was already seen. */
  addSeen(s: Span): boolean {
    parse(s.spanId);
    const hi = HI;
    const lo = LO;
    const h = contentHash(s);
    let free = -1;
    for (let o = this.next(hi, lo, -ROW); o >= 0; o = this.next(hi, lo, o)) {
      const flags = this.rows[this.base + o + 3]!;
      if (flags & SEEN) {
        if (this.rows[this.base + o + 2] === h) return false;
      } else if (free < 0) free = o;
    }
    const rows = this.own();
    if (free >= 0) {
      rows[free + 2] = h;
      rows[free + 3] = rows[free + 3]! | SEEN;
    } else this.push(hi, lo, h, SEEN);
    return true;
  }

  /** Whether the same span (ID, kind, parent, times) was already seen. */
  hasSeen(s: Span): boolean {
    return rowsHaveSeen(this.rows, this.base, this.len, this.index, s);
  }

  /** Marks an ID (SENT, CLIENT, LONE_SERVER). */
  mark(id: string, bits: number): void {
    parse(id);
    const o = this.next(HI, LO, -ROW);
    if (o < 0) {
      this.push(HI, LO, 0, bits);
      if (bits & SENT) this.sentCount++;
      return;
    }
    const rows = this.own();
    const flags = rows[o + 3]!;
    if (bits & SENT && !(flags & SENT)) this.sentCount++;
    rows[o + 3] = flags | bits;
  }

  /** Whether some row of this ID carries `bit`. */
  has(id: string, bit: number): boolean {
    parse(id);
    const hi = HI;
    const lo = LO;
    for (let o = this.next(hi, lo, -ROW); o >= 0; o = this.next(hi, lo, o)) if (this.rows[this.base + o + 3]! & bit) return true;
    return false;
  }

  /**
   * For a trace that is now only remembered: its rows move to the shared chunk (an indexed trace,
   * of 32 spans or more, keeps an array of its own, trimmed of the room a growing array keeps).
   */
  compact(): void {
    if (this.index) {
      this.rows = this.own().slice();
      return;
    }
    if (this.len === 0 || !Array.isArray(this.rows)) return;
    if (chunkUsed + this.len > CHUNK_INTS) {
      chunk = new Int32Array(CHUNK_INTS);
      chunkUsed = 0;
    }
    for (let i = 0; i < this.len; i++) chunk[chunkUsed + i] = this.rows[this.base + i]!;
    this.rows = chunk;
    this.base = chunkUsed;
    chunkUsed += this.len;
  }

  /**
   * After `compact`: the shared chunk holding the rows (from `packedBase`, `packedInts` long), or
   * undefined when they are not in one (no rows, or indexed rows kept in an array of their own).
   */
  get packedChunk(): Int32Array | undefined {
    return Array.isArray(this.rows) ? undefined : this.rows;
  }
  get packedBase(): number {
    return this.base;
  }
  get packedInts(): number {
    return this.len;
  }

  /** Takes over rows `compact` left in a shared chunk (a remembered trace brought back whole). */
  restorePacked(chunk: Int32Array | undefined, base: number, len: number, sentCount: number): this {
    this.rows = chunk ?? [];
    this.base = chunk ? base : 0;
    this.len = chunk ? len : 0;
    this.index = undefined;
    this.sentCount = sentCount;
    return this;
  }

  /** The rows as an array of this trace's own, moved out of a shared chunk if they were in one. */
  private own(): number[] {
    if (Array.isArray(this.rows)) return this.rows;
    const rows = Array.from(this.rows.subarray(this.base, this.base + this.len));
    this.rows = rows;
    this.base = 0;
    return rows;
  }

  /** The offset of the next row of ID (hi, lo) after offset `after`, or -1. */
  private next(hi: number, lo: number, after: number): number {
    return nextRow(this.rows, this.base, this.len, this.index, hi, lo, after);
  }

  private push(hi: number, lo: number, hash: number, flags: number): void {
    const rows = this.own();
    const o = this.len;
    rows.push(hi, lo, hash, flags);
    this.len += ROW;
    if (this.index) this.indexRow(rows, o);
    else if (o + ROW >= INDEX_AT * ROW) {
      this.index = new Map();
      for (let r = 0; r < this.len; r += ROW) this.indexRow(rows, r);
    }
  }

  private indexRow(rows: number[], o: number): void {
    const lo = rows[o + 1]!;
    const list = this.index!.get(lo);
    if (list) list.push(o);
    else this.index!.set(lo, [o]);
  }
}
