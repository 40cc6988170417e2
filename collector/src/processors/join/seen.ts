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

/**
 * The spans of one trace already held or sent, to drop the same span received twice (a retry):
 * same span ID, kind, parent and times. Kept per span as its ID (the span's own string, not a
 * copy) and a 32-bit hash of the rest, instead of a key string per span: two spans are taken for
 * one only when their IDs match and so do their hashes, so a false match needs two different
 * spans with one ID in one trace whose hashes collide (about 1 in 4 billion per such pair).
 */
export class SeenSpans {
  private readonly byId = new Map<string, number | number[]>();

  has(s: Span): boolean {
    const v = this.byId.get(s.spanId);
    if (v === undefined) return false;
    const h = contentHash(s);
    return typeof v === 'number' ? v === h : v.includes(h);
  }

  /** Adds the span; false when it was already there. */
  add(s: Span): boolean {
    const h = contentHash(s);
    const v = this.byId.get(s.spanId);
    if (v === undefined) this.byId.set(s.spanId, h);
    else if (typeof v === 'number') {
      if (v === h) return false;
      this.byId.set(s.spanId, [v, h]);
    } else {
      if (v.includes(h)) return false;
      v.push(h);
    }
    return true;
  }
}
