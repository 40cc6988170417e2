/**
 * OTLP's attribute values and events, read from protobuf bytes (field numbers from
 * opentelemetry/proto/common/v1/common.proto and trace/v1/trace.proto) — and checked without being
 * read: `scan*` walks the same bytes as `wire*`, applies the same limits in the same order and
 * throws the same errors, but builds nothing. A lazy span (wire-span.ts) is scanned when its request
 * arrives, so a bad one is refused at the door, and read only if a stage asks.
 */
import { LimitExceededError, type DecodeLimits } from '../../model/limits.js';
import { isPlausible } from '../../model/time.js';
import { NO_ATTRIBUTES, setAttribute, type AttributeValue, type Attributes, type SpanEvent } from '../../model/span.js';
import { isUtf8 } from 'node:buffer';
import { I64, LEN, ProtoReader, VARINT } from '../protobuf.js';

/** `field` is built only when a limit is hit: naming every attribute's path up front costs more than the decode. */
export type FieldName = string | (() => string);
export const nameOf = (f: FieldName): string => (typeof f === 'string' ? f : f());

/** `parent` and `key` name the value only when a limit is hit (no closure per attribute). */
function childName(parent: FieldName, key: string | number): string {
  return typeof key === 'number' ? `${nameOf(parent)}[${key}]` : `${nameOf(parent)}.${key}`;
}

export function wireAnyValue(r: ProtoReader, end: number, limits: DecodeLimits, parent: FieldName, key: string | number, depth: number): AttributeValue {
  let value: AttributeValue = '';
  while (r.more(end)) {
    const tag = r.uint32();
    switch (tag) {
      case (1 << 3) | LEN:
        value = r.string();
        break;
      case (2 << 3) | VARINT:
        value = r.bool();
        break;
      case (3 << 3) | VARINT:
        value = r.int64();
        break;
      case (4 << 3) | I64:
        value = r.double();
        break;
      case (5 << 3) | LEN: {
        if (depth >= limits.maxValueDepth) throw new LimitExceededError(childName(parent, key), depth + 1, 'max_value_depth', limits.maxValueDepth);
        const field = (): string => childName(parent, key);
        const arrEnd = r.delimited();
        const values: AttributeValue[] = [];
        while (r.more(arrEnd)) {
          const t = r.uint32();
          if (t !== ((1 << 3) | LEN)) {
            r.skip(t & 7);
            continue;
          }
          if (values.length === limits.maxArrayElements) throw new LimitExceededError(field(), values.length + 1, 'max_array_elements', limits.maxArrayElements);
          values.push(wireAnyValue(r, r.delimited(), limits, field, values.length, depth + 1));
        }
        value = values;
        break;
      }
      case (6 << 3) | LEN: {
        if (depth >= limits.maxValueDepth) throw new LimitExceededError(childName(parent, key), depth + 1, 'max_value_depth', limits.maxValueDepth);
        const field = (): string => childName(parent, key);
        const listEnd = r.delimited();
        const out: Attributes = {};
        let n = 0;
        while (r.more(listEnd)) {
          const t = r.uint32();
          if (t !== ((1 << 3) | LEN)) {
            r.skip(t & 7);
            continue;
          }
          if (++n > limits.maxArrayElements) throw new LimitExceededError(field(), n, 'max_array_elements', limits.maxArrayElements);
          wireKeyValue(r, r.delimited(), out, limits, field, depth + 1);
        }
        value = out;
        break;
      }
      case (7 << 3) | LEN:
        // A copy: the request's buffer is not kept alive by one attribute.
        value = Buffer.from(r.bytes());
        break;
      default:
        r.skip(tag & 7);
    }
  }
  return value;
}

/** One KeyValue into `out` (a later duplicate key wins, as in the object path). */
export function wireKeyValue(r: ProtoReader, end: number, out: Attributes, limits: DecodeLimits, field: FieldName, depth: number): void {
  let key: string | undefined;
  let value: AttributeValue = '';
  while (r.more(end)) {
    const tag = r.uint32();
    if (tag === ((1 << 3) | LEN)) key = r.string();
    else if (tag === ((2 << 3) | LEN)) {
      const vEnd = r.delimited();
      value = wireAnyValue(r, vEnd, limits, field, key ?? '?', depth);
      r.pos = vEnd;
    } else r.skip(tag & 7);
  }
  if (key !== undefined) setAttribute(out, key, value);
}

/** Repeated KeyValue field `fieldNo` of the message in [r.pos, end). */
export function wireAttributes(r: ProtoReader, end: number, fieldNo: number, limits: DecodeLimits, max: number, field: () => string): Attributes {
  const out: Attributes = {};
  let n = 0;
  const want = (fieldNo << 3) | LEN;
  while (r.more(end)) {
    const tag = r.uint32();
    if (tag !== want) {
      r.skip(tag & 7);
      continue;
    }
    if (++n > max) throw new LimitExceededError(field(), n, 'max_attributes_per_span', max);
    wireKeyValue(r, r.delimited(), out, limits, field, 0);
  }
  return n === 0 ? NO_ATTRIBUTES : out;
}

export function wireEvent(r: ProtoReader, end: number, limits: DecodeLimits, max: bigint, field: () => string): SpanEvent | undefined {
  let at = 0n;
  let name = '';
  let attrsAt = -1;
  while (r.more(end)) {
    const tag = r.uint32();
    if (tag === ((1 << 3) | I64)) at = r.fixed64();
    else if (tag === ((2 << 3) | LEN)) name = r.string();
    else {
      if (tag === ((3 << 3) | LEN) && attrsAt < 0) attrsAt = r.pos - 1;
      r.skip(tag & 7);
    }
  }
  if (!isPlausible(at, max)) return undefined;
  let attributes = NO_ATTRIBUTES;
  if (attrsAt >= 0) {
    r.pos = attrsAt;
    attributes = wireAttributes(r, end, 3, limits, limits.maxAttributesPerSpan, () => `${field()}.attributes`);
  }
  return { timeUnixNano: at, name, attributes };
}

// ---------------------------------------------------------------------------------------------
// Checked, not read.

const KEY = (1 << 3) | LEN;
const VALUE = (2 << 3) | LEN;
const STRING = (1 << 3) | LEN;
const ARRAY = (5 << 3) | LEN;
const KVLIST = (6 << 3) | LEN;

/**
 * Whether [start, end) is valid UTF-8, as a protobuf string must be. A reader replaces what is not
 * (U+FFFD); bytes copied as they came would pass it on, and a strict reader downstream refuses the
 * whole request for it. So a span holding such a string is read whole, not kept as its bytes.
 */
function validUtf8(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (buf[i]! >= 0x80) return isUtf8(buf.subarray(start, end));
  return true;
}

/** The length-delimited field at r.pos (its tag read) is valid UTF-8; r.pos is left where it was. */
export function stringIsUtf8(r: ProtoReader): boolean {
  const at = r.pos;
  const end = r.delimited();
  const ok = validUtf8(r.buf, r.pos, end);
  r.pos = at;
  return ok;
}

/** The name wireAnyValue gives a value: an array's element by index, a KeyValue's by its key ('?' when the key comes after the value). */
function valueName(parent: FieldName, buf: Buffer, keyStart: number, keyEnd: number): string {
  if (keyEnd < 0) return childName(parent, keyStart);
  return childName(parent, keyStart < 0 ? '?' : buf.toString('utf8', keyStart, keyEnd));
}

/**
 * The name of an array or kvlist value, made only for one: a closure inside scanAnyValue would make
 * V8 allocate a context for the variables it captures on every call, list or not (~650 B a span).
 */
function listName(parent: FieldName, buf: Buffer, keyStart: number, keyEnd: number): () => string {
  return () => valueName(parent, buf, keyStart, keyEnd);
}

/**
 * One AnyValue in [r.pos, end), as wireAnyValue would read it: false when a string in it is not
 * valid UTF-8. `keyEnd` < 0: `keyStart` is an array index.
 */
function scanAnyValue(r: ProtoReader, end: number, limits: DecodeLimits, parent: FieldName, keyStart: number, keyEnd: number, depth: number): boolean {
  let ok = true;
  while (r.more(end)) {
    const tag = r.uint32();
    if (tag === STRING) {
      ok = stringIsUtf8(r) && ok;
      r.skip(LEN);
      continue;
    }
    if (tag !== ARRAY && tag !== KVLIST) {
      r.skip(tag & 7);
      continue;
    }
    const field = listName(parent, r.buf, keyStart, keyEnd);
    if (depth >= limits.maxValueDepth) throw new LimitExceededError(field(), depth + 1, 'max_value_depth', limits.maxValueDepth);
    const listEnd = r.delimited();
    let n = 0;
    while (r.more(listEnd)) {
      const t = r.uint32();
      if (t !== KEY) {
        r.skip(t & 7);
        continue;
      }
      if (++n > limits.maxArrayElements) throw new LimitExceededError(field(), n, 'max_array_elements', limits.maxArrayElements);
      const itemEnd = r.delimited();
      ok = (tag === ARRAY ? scanAnyValue(r, itemEnd, limits, field, n - 1, -1, depth + 1) : scanKeyValue(r, itemEnd, limits, field, depth + 1)) && ok;
    }
  }
  return ok;
}

/** One KeyValue in [r.pos, end), as wireKeyValue would read it: false when a string in it is not valid UTF-8. */
export function scanKeyValue(r: ProtoReader, end: number, limits: DecodeLimits, parent: FieldName, depth: number): boolean {
  let keyStart = -1;
  let keyEnd = 0;
  let ok = true;
  while (r.more(end)) {
    const tag = r.uint32();
    if (tag === KEY) {
      keyEnd = r.delimited();
      keyStart = r.pos;
      ok = validUtf8(r.buf, keyStart, keyEnd) && ok;
      r.pos = keyEnd;
    } else if (tag === VALUE) {
      const vEnd = r.delimited();
      ok = scanAnyValue(r, vEnd, limits, parent, keyStart, keyEnd, depth) && ok;
      r.pos = vEnd;
    } else r.skip(tag & 7);
  }
  return ok;
}

/** The attributes of a span's event `i`, named when the event has some (no closure, so no context, per event). */
function eventAttributesName(spanField: string, i: number): () => string {
  return () => `${spanField}.events[${i}].attributes`;
}

/**
 * One Event in [r.pos, end), as wireEvent would read it: false when its time is not plausible
 * (wireEvent drops such an event, and reads none of its attributes) or a string in it is not valid
 * UTF-8 (the span is then read whole). `spanField` and `i` name the event in errors.
 */
export function scanEvent(r: ProtoReader, end: number, limits: DecodeLimits, max: bigint, spanField: string, i: number): boolean {
  const start = r.pos;
  let at = 0n;
  while (r.more(end)) {
    const tag = r.uint32();
    if (tag === ((1 << 3) | I64)) at = r.fixed64();
    else r.skip(tag & 7);
  }
  if (!isPlausible(at, max)) return false;
  r.pos = start;
  let n = 0;
  let ok = true;
  let attributesField: (() => string) | undefined;
  while (r.more(end)) {
    const tag = r.uint32();
    if (tag === ((2 << 3) | LEN)) {
      ok = stringIsUtf8(r) && ok;
      r.skip(LEN);
      continue;
    }
    if (tag !== ((3 << 3) | LEN)) {
      r.skip(tag & 7);
      continue;
    }
    attributesField ??= eventAttributesName(spanField, i);
    if (++n > limits.maxAttributesPerSpan) throw new LimitExceededError(attributesField(), n, 'max_attributes_per_span', limits.maxAttributesPerSpan);
    ok = scanKeyValue(r, r.delimited(), limits, attributesField, 0) && ok;
  }
  return ok;
}

/** The value of the last KeyValue in [start, end) (repeated field `fieldNo`) whose key is `key`, read alone. */
export function findWireAttribute(buf: Buffer, start: number, end: number, fieldNo: number, key: string, limits: DecodeLimits): AttributeValue | undefined {
  const r = new ProtoReader(buf, start, end);
  const want = (fieldNo << 3) | LEN;
  let found: AttributeValue | undefined;
  while (r.more(end)) {
    const tag = r.uint32();
    if (tag !== want) {
      r.skip(tag & 7);
      continue;
    }
    const kvEnd = r.delimited();
    let matches = false;
    let valueStart = -1;
    let valueEnd = 0;
    while (r.more(kvEnd)) {
      const t = r.uint32();
      if (t === KEY) {
        const e = r.delimited();
        matches = e - r.pos === key.length && sameAscii(buf, r.pos, key);
        r.pos = e;
      } else if (t === VALUE) {
        valueEnd = r.delimited();
        valueStart = r.pos;
        r.pos = valueEnd;
      } else r.skip(t & 7);
    }
    if (matches) {
      if (valueStart < 0) found = '';
      else {
        r.pos = valueStart;
        found = wireAnyValue(r, valueEnd, limits, 'attributes', key, 0);
      }
      r.pos = kvEnd;
    }
  }
  return found;
}

function sameAscii(buf: Buffer, at: number, s: string): boolean {
  for (let i = 0; i < s.length; i++) if (buf[at + i] !== s.charCodeAt(i)) return false;
  return true;
}
