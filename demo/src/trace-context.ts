/**
 * B3 (multi and single), W3C traceparent and gRPC's grpc-trace-bin, as linkerd2-proxy reads them.
 * The proxy keeps the trace ID and replaces the span ID with its own in every format present, so the
 * next hop, whichever header it reads, continues from the proxy's span.
 */
import { randomBytes } from 'node:crypto';

export interface TraceContext {
  traceId: string;
  parentId: string;
  sampled: boolean;
}

type Headers = Record<string, string | string[] | undefined>;
const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);

export function newSpanId(): string {
  return randomBytes(8).toString('hex');
}

export function extract(h: Headers): TraceContext | undefined {
  const tp = one(h.traceparent);
  const m = tp && /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(tp);
  if (m) return { traceId: m[1]!, parentId: m[2]!, sampled: (parseInt(m[3]!, 16) & 1) === 1 };
  const b3 = one(h.b3);
  if (b3) {
    const [t, s, flag] = b3.split('-');
    if (t && s) return { traceId: t, parentId: s, sampled: flag === '1' || flag === 'd' };
  }
  const t = one(h['x-b3-traceid']);
  const s = one(h['x-b3-spanid']);
  if (t && s) return { traceId: t, parentId: s, sampled: one(h['x-b3-sampled']) === '1' || one(h['x-b3-flags']) === '1' };
  const bin = one(h['grpc-trace-bin']);
  if (bin) {
    const b = Buffer.from(bin, 'base64');
    // version 0 | field 0: trace ID (16) | field 1: span ID (8) | field 2: options (1)
    if (b.length >= 27 && b[0] === 0 && b[1] === 0 && b[18] === 1) {
      const sampled = b.length >= 29 && b[27] === 2 ? (b[28]! & 1) === 1 : true;
      return { traceId: b.subarray(2, 18).toString('hex'), parentId: b.subarray(19, 27).toString('hex'), sampled };
    }
  }
  return undefined;
}

/** Rewrites every context header present so it names `spanId` as the parent of the next hop. */
export function inject(h: Headers, ctx: TraceContext, spanId: string): void {
  if (h.traceparent) h.traceparent = `00-${ctx.traceId.padStart(32, '0')}-${spanId}-${ctx.sampled ? '01' : '00'}`;
  if (h.b3) h.b3 = `${ctx.traceId}-${spanId}-${ctx.sampled ? '1' : '0'}`;
  if (h['x-b3-spanid']) {
    h['x-b3-spanid'] = spanId;
    h['x-b3-parentspanid'] = ctx.parentId;
  }
  const bin = one(h['grpc-trace-bin']);
  if (bin) {
    const b = Buffer.from(bin, 'base64');
    Buffer.from(spanId, 'hex').copy(b, 19);
    h['grpc-trace-bin'] = b.toString('base64');
  }
}
