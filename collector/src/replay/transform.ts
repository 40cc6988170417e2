/** Replay's rewrites: pure functions over spans. */
import { randomBytes } from 'node:crypto';
import type { Span } from '../model/span.js';
import { shifted, withChanges } from '../model/lazy-span.js';

/** The low 64 bits name a trace whatever its ID width (as in the join). */
const traceKey = (id: string): string => id.slice(-16);

/** Earliest start per trace, over every input: what --shift-time rebases to "now". */
export function earliestPerTrace(spans: Iterable<Span>): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const s of spans) {
    const k = traceKey(s.traceId);
    const m = out.get(k);
    if (m === undefined || s.startTimeUnixNano < m) out.set(k, s.startTimeUnixNano);
  }
  return out;
}

/**
 * Moves each trace so that it starts at `nowNs`, every span and event of a trace by the same
 * offset (so the trace stays consistent). Per trace, not per input: inputs of different ages must
 * not push each other into the future.
 */
export function shiftTime(spans: Span[], earliest: Map<string, bigint>, nowNs: bigint): Span[] {
  return spans.map((s) => {
    const first = earliest.get(traceKey(s.traceId));
    const offset = first === undefined ? 0n : nowNs - first;
    if (offset === 0n) return s;
    return shifted(s, offset);
  });
}

const fresh = (): string => {
  let h = randomBytes(8).toString('hex');
  while (h === '0000000000000000') h = randomBytes(8).toString('hex');
  return h;
};

/**
 * Consistent new IDs: the same old ID always gets the same new one, across files and loops of one
 * mapper, so parent links, links and shared Zipkin spans stay intact. 128-bit trace IDs map their
 * two halves separately, so a 64-bit ID and a 128-bit ID that share a low half still do.
 */
export class IdMapper {
  private readonly halves = new Map<string, string>();
  private readonly spans = new Map<string, string>();

  private half(h: string): string {
    if (h === '0000000000000000') return h;
    let n = this.halves.get(h);
    if (!n) this.halves.set(h, (n = fresh()));
    return n;
  }

  trace(id: string): string {
    return id.length === 16 ? this.half(id) : this.half(id.slice(0, 16)) + this.half(id.slice(16));
  }

  span(id: string): string {
    let n = this.spans.get(id);
    if (!n) this.spans.set(id, (n = fresh()));
    return n;
  }

  apply(spans: Span[]): Span[] {
    return spans.map((s) =>
      withChanges(s, {
        traceId: this.trace(s.traceId),
        spanId: this.span(s.spanId),
        ...(s.parentSpanId ? { parentSpanId: this.span(s.parentSpanId) } : {}),
        links: s.links.map((l) => ({ ...l, traceId: this.trace(l.traceId), spanId: this.span(l.spanId) })),
      }),
    );
  }
}
