/**
 * Copies of a span with some fields changed, for every stage, whether the span is a plain object or
 * a LazySpan: a decoder's span that keeps its attributes and events as the bytes they arrived in and
 * reads them only when a stage asks. The join holds seconds of traffic and most spans leave as they
 * came, so most attributes are never read at all: the OTLP encoder copies their bytes.
 *
 * A LazySpan's `attributes` and `events` are accessors on its prototype, so an object spread
 * (`{ ...span }`) would drop them: stages copy spans through these functions instead.
 */
import { sameTraceId128 } from './ids.js';
import type { AttributeValue, Attributes, InstrumentationScope, Resource, Span, SpanAck, SpanEvent, SpanKind, SpanLink, SpanSource, SpanStatus } from './span.js';
import { copyAttributes } from './span.js';

/**
 * The fields most spans never set, kept in an object of their own made when one is: the join holds
 * seconds of spans, and ten empty slots on each were 80 bytes a span. LazySpan's accessors for
 * them are defined below the class, one per key.
 */
interface RareFields {
  traceState?: string;
  shared?: boolean;
  ack?: SpanAck;
  droppedAttributesCount?: number;
  droppedEventsCount?: number;
  droppedLinksCount?: number;
  readAttrs?: Attributes;
  readEvents?: SpanEvent[];
  extraAttributes?: Attributes;
  eventShift?: bigint;
}
const RARE_KEYS = ['traceState', 'shared', 'ack', 'droppedAttributesCount', 'droppedEventsCount', 'droppedLinksCount', 'readAttrs', 'readEvents', 'extraAttributes', 'eventShift'] as const;
// A key added to RareFields and not listed here fails to compile.
const _allRare: Record<Exclude<keyof RareFields, (typeof RARE_KEYS)[number]>, never> = {};

export abstract class LazySpan implements Span {
  declare traceId: string;
  declare spanId: string;
  declare parentSpanId?: string;
  declare flags?: number;
  declare name: string;
  declare kind: SpanKind;
  declare startTimeUnixNano: bigint;
  declare endTimeUnixNano: bigint;
  declare links: SpanLink[];
  declare status: SpanStatus;
  declare resource: Resource;
  declare scope?: InstrumentationScope;
  declare source: SpanSource;
  /**
   * Every field the span's own bytes hold is as it arrived: stages changed only what an encoder
   * writes outside the span's message (BYTE_NEUTRAL) or added attributes (extraAttributes), so an
   * encoder of the same format may copy the message whole and write the added attributes after it.
   */
  declare asArrived: boolean;
  /** Where the RARE_KEYS live; accessors on the prototype read and write them. */
  rare: RareFields | undefined = undefined;

  declare traceState?: string;
  declare shared?: boolean;
  declare ack?: SpanAck;
  declare droppedAttributesCount?: number;
  declare droppedEventsCount?: number;
  declare droppedLinksCount?: number;
  /** Set once read (or replaced): from then on the object is the truth, not the bytes. */
  declare protected readAttrs?: Attributes;
  declare protected readEvents?: SpanEvent[];
  /** Attributes stages added without reading the span's own: written after them. */
  declare extraAttributes?: Attributes;
  /** Nanoseconds stages moved the span's events by without reading them. */
  declare eventShift?: bigint;

  /** The span's own attributes, read from its bytes. */
  protected abstract decodeAttributes(): Attributes;
  /** The span's own events, read from its bytes. */
  protected abstract decodeEvents(): SpanEvent[];
  /** One of the span's own attributes, found without reading the others. */
  protected abstract findAttribute(key: string): AttributeValue | undefined;
  /** Bytes of the wire message this span reads from (what holding it costs, beside the object). */
  abstract wireSize(): number;
  /** A new instance of the same class with every field of this one (the bytes shared). */
  protected abstract clone(): LazySpan;

  get attributes(): Attributes {
    let a = this.readAttrs;
    if (a === undefined) {
      a = this.decodeAttributes();
      if (this.extraAttributes) a = merged(a, this.extraAttributes);
      this.readAttrs = a;
    }
    return a;
  }

  set attributes(value: Attributes) {
    this.readAttrs = value;
  }

  get events(): SpanEvent[] {
    let e = this.readEvents;
    if (e === undefined) {
      e = this.decodeEvents();
      const d = this.eventShift;
      if (d) e = shiftEvents(e, d);
      this.readEvents = e;
    }
    return e;
  }

  set events(value: SpanEvent[]) {
    this.readEvents = value;
  }

  /** Still as it arrived: the attributes (and added ones) can be written from the bytes. */
  get attributesUnread(): boolean {
    return this.readAttrs === undefined;
  }

  get eventsUnread(): boolean {
    return this.readEvents === undefined;
  }

  attribute(key: string): AttributeValue | undefined {
    if (this.readAttrs !== undefined) return this.readAttrs[key];
    if (this.extraAttributes && Object.hasOwn(this.extraAttributes, key)) return this.extraAttributes[key];
    return this.findAttribute(key);
  }

  /** A copy of the same class, sharing the bytes; `changes` set through the accessors. */
  copyWith(changes: Partial<Span>, extra?: Attributes, shift?: bigint): LazySpan {
    const copy = this.clone();
    if (copy.asArrived && (shift || !byteNeutral(this, changes))) copy.asArrived = false;
    if (extra) {
      if (copy.readAttrs !== undefined) copy.readAttrs = merged(copy.readAttrs, extra);
      else copy.extraAttributes = copy.extraAttributes ? merged(copy.extraAttributes, extra) : extra;
    }
    if (shift) {
      if (copy.readEvents !== undefined) copy.readEvents = shiftEvents(copy.readEvents, shift);
      else copy.eventShift = (copy.eventShift ?? 0n) + shift;
    }
    return Object.assign(copy, changes);
  }

  /** Copies the fields every LazySpan has onto `copy` (a subclass's clone()). */
  protected copyFieldsTo<T extends LazySpan>(copy: T): T {
    copy.parentSpanId = this.parentSpanId;
    copy.flags = this.flags;
    copy.scope = this.scope;
    copy.rare = this.rare && { ...this.rare };
    copy.asArrived = this.asArrived;
    return copy;
  }

  /** What JSON.stringify writes (the join's log): the span as a plain object, every part read. */
  toJSON(): Span {
    const out: Record<string, unknown> = {};
    for (const key of SPAN_FIELDS) {
      const v = this[key];
      if (v !== undefined) out[key] = v;
    }
    return out as unknown as Span;
  }
}

for (const key of RARE_KEYS) {
  Object.defineProperty(LazySpan.prototype, key, {
    get(this: LazySpan) {
      return this.rare?.[key];
    },
    set(this: LazySpan, value: unknown) {
      if (value !== undefined) ((this.rare ??= {}) as Record<string, unknown>)[key] = value;
      else if (this.rare) delete this.rare[key];
    },
  });
}

/**
 * Fields no span message holds: the resource and scope are written around it (OTLP groups spans by
 * them), span-relay's own (ack, source, shared) are not OTLP. Changing them keeps `asArrived`.
 */
const BYTE_NEUTRAL: ReadonlySet<string> = new Set(['ack', 'resource', 'scope', 'source', 'shared'] satisfies (keyof Span)[]);

/**
 * `changes` leave the span's message as it is: only BYTE_NEUTRAL fields, or a trace ID spelt another
 * way for the same 16 bytes (the join writes a left-padded 64-bit ID as its bare 64 bits).
 */
function byteNeutral(span: Span, changes: Partial<Span>): boolean {
  for (const key in changes) {
    if (BYTE_NEUTRAL.has(key)) continue;
    if (key === 'traceId' && changes.traceId !== undefined && sameTraceId128(changes.traceId, span.traceId)) continue;
    return false;
  }
  return true;
}

/** Every field of a Span, in the order decoders write them: what a LazySpan is as plain data. */
const SPAN_FIELDS = ['traceId', 'spanId', 'parentSpanId', 'traceState', 'flags', 'name', 'kind', 'startTimeUnixNano', 'endTimeUnixNano', 'attributes', 'events', 'links', 'status', 'resource', 'scope', 'shared', 'source', 'ack', 'droppedAttributesCount', 'droppedEventsCount', 'droppedLinksCount'] as const satisfies readonly (keyof Span)[];
// A field added to Span and not listed here fails to compile.
const _allFields: Record<Exclude<keyof Span, (typeof SPAN_FIELDS)[number]>, never> = {};

/** `s` with `changes`; a LazySpan stays one, reading nothing. */
export function withChanges(s: Span, changes: Partial<Span>): Span {
  return s instanceof LazySpan ? s.copyWith(changes) : { ...s, ...changes };
}

/** `a` with `b`'s attributes added (a later key wins); an attribute named `__proto__` stays one. */
function merged(a: Attributes, b: Attributes): Attributes {
  const out: Attributes = {};
  copyAttributes(out, a);
  copyAttributes(out, b);
  return out;
}

/** `s` with attributes added (a later key wins) and `changes`; a LazySpan reads none of its own. */
export function withAttributes(s: Span, extra: Attributes, changes: Partial<Span> = {}): Span {
  return s instanceof LazySpan ? s.copyWith(changes, extra) : { ...s, ...changes, attributes: { ...s.attributes, ...extra } };
}

function shiftEvents(events: readonly SpanEvent[], d: bigint): SpanEvent[] {
  return events.map((e) => ({ ...e, timeUnixNano: e.timeUnixNano + d }));
}

/** `s` moved in time by `d` nanoseconds, its events with it, attributes `extra` added. */
export function shifted(s: Span, d: bigint, extra?: Attributes): Span {
  const times = { startTimeUnixNano: s.startTimeUnixNano + d, endTimeUnixNano: s.endTimeUnixNano + d };
  if (s instanceof LazySpan) return s.copyWith(times, extra, d);
  return { ...s, ...times, events: shiftEvents(s.events, d), ...(extra ? { attributes: { ...s.attributes, ...extra } } : {}) };
}

/** One attribute of `s`; a LazySpan finds it without reading the rest. */
export function attributeOf(s: Span, key: string): AttributeValue | undefined {
  return s instanceof LazySpan ? s.attribute(key) : s.attributes[key];
}
