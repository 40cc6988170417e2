import type { Span } from './span.js';
import { LazySpan } from './lazy-span.js';

/** A rough, cheap size of a span in memory, to bound what the join window and the exporter queues hold. */
export function estimateBytes(s: Span): number {
  let n = 320 + s.name.length * 2;
  // A span still in its wire bytes holds about those (they are kept alive by it) and little else.
  if (s instanceof LazySpan && s.attributesUnread && s.eventsUnread) return n + s.wireSize() + s.links.length * 96;
  for (const k in s.attributes) {
    const v = s.attributes[k];
    n += 48 + k.length * 2 + (typeof v === 'string' ? v.length * 2 : 16);
  }
  n += s.events.length * 96 + s.links.length * 96;
  return n;
}

/**
 * What makes two spans "the same span" for duplicate dropping: IDs, kind and both timestamps. A
 * client's retry of a request is the same span; a span replayed with shifted times, or another
 * span that reuses an ID, is not, and is kept.
 */
