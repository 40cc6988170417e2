/**
 * An OTLP span that keeps its attributes and events as the protobuf bytes of its request (checked
 * when the request arrived) and reads them only when a stage asks; the OTLP encoder copies the
 * bytes of whatever was never read. A span that crosses span-relay unchanged (OTLP in, OTLP out, the
 * join holding it seconds in between) is then never turned into attribute objects at all: less
 * work per span, and held spans that are mostly bytes instead of object graphs the GC must trace.
 */
import { LazySpan } from '../../model/lazy-span.js';
import { NO_LIMITS } from '../../model/limits.js';
import type { AttributeValue, Attributes, Resource, SpanEvent, SpanKind, SpanLink, SpanSource, SpanStatus } from '../../model/span.js';
import { LEN, ProtoReader } from '../protobuf.js';
import { findWireAttribute, wireAttributes, wireEvent } from './wire-values.js';

/** Events were checked against the clock when their request arrived; later reads keep them all. */
const ANY_TIME = 2n ** 64n;
/** Field names for errors: none can arise here, the bytes were checked when they arrived. */
const SPAN_FIELD = (): string => 'span';

export class OtlpWireSpan extends LazySpan {
  /**
   * `wire` is the whole request; the span's KeyValues (field 9) are [attrStart, attrEnd) of it and
   * its Events (field 11) [eventStart, eventEnd), each run of fields contiguous as encoders write them.
   * `asArrived`: [spanStart, spanEnd) holds only fields this decoder reads as OTLP (none of
   * span-relay's internal ones, none unknown) and no links (whose bytes may hide fields of their
   * own), so the whole message may be copied while the span is unchanged.
   */
  constructor(
    traceId: string,
    spanId: string,
    name: string,
    kind: SpanKind,
    start: bigint,
    end: bigint,
    links: SpanLink[],
    status: SpanStatus,
    resource: Resource,
    source: SpanSource,
    readonly wire: Buffer,
    readonly spanStart: number,
    readonly spanEnd: number,
    readonly attrStart: number,
    readonly attrEnd: number,
    readonly eventStart: number,
    readonly eventEnd: number,
    asArrived: boolean,
  ) {
    super();
    this.asArrived = asArrived;
    this.traceId = traceId;
    this.spanId = spanId;
    this.name = name;
    this.kind = kind;
    this.startTimeUnixNano = start;
    this.endTimeUnixNano = end;
    this.links = links;
    this.status = status;
    this.resource = resource;
    this.source = source;
    // One shape for every instance: the optional fields exist from the start (the rarely set ones
    // are accessors over LazySpan's own object for them).
    this.parentSpanId = undefined;
    this.flags = undefined;
    this.scope = undefined;
  }

  protected clone(): OtlpWireSpan {
    const c = new OtlpWireSpan(this.traceId, this.spanId, this.name, this.kind, this.startTimeUnixNano, this.endTimeUnixNano, this.links, this.status, this.resource, this.source, this.wire, this.spanStart, this.spanEnd, this.attrStart, this.attrEnd, this.eventStart, this.eventEnd, this.asArrived);
    return this.copyFieldsTo(c);
  }

  protected decodeAttributes(): Attributes {
    if (this.attrStart === this.attrEnd) return {};
    const r = new ProtoReader(this.wire, this.attrStart, this.attrEnd);
    return wireAttributes(r, this.attrEnd, 9, NO_LIMITS, Infinity, SPAN_FIELD);
  }

  protected decodeEvents(): SpanEvent[] {
    const out: SpanEvent[] = [];
    if (this.eventStart === this.eventEnd) return out;
    const r = new ProtoReader(this.wire, this.eventStart, this.eventEnd);
    while (r.more(this.eventEnd)) {
      const tag = r.uint32();
      if (tag !== ((11 << 3) | LEN)) {
        r.skip(tag & 7);
        continue;
      }
      const end = r.delimited();
      const e = wireEvent(r, end, NO_LIMITS, ANY_TIME, SPAN_FIELD);
      if (e) out.push(e);
      r.pos = end;
    }
    return out;
  }

  protected findAttribute(key: string): AttributeValue | undefined {
    return findWireAttribute(this.wire, this.attrStart, this.attrEnd, 9, key, NO_LIMITS);
  }

  wireSize(): number {
    return this.spanEnd - this.spanStart;
  }
}
