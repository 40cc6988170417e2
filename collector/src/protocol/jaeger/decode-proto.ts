/**
 * Jaeger's api_v2 `PostSpansRequest` (gRPC :14250) → model, read by hand straight from the bytes and
 * mapped as the Thrift batch is (jaegerSpanToModel). Until 2026-12 protobufjs decoded it into message
 * objects (a Long per time and per int64 tag) that were then mapped: half of the receiver's CPU at
 * 10,000 spans/s. The reader keeps protobufjs 8's rules where they differ from ProtoReader's, so it
 * takes and refuses exactly the requests protobufjs did (collector/test/jaeger-proto.test.ts holds
 * the two side by side on tracers' requests, random ones and mangled ones).
 */
import { DecodeError } from '../../model/errors.js';
import { emptyResult, type DecodeResult } from '../../model/decode-result.js';
import { bytesToHex } from '../../model/ids.js';
import type { AttributeValue, Attributes, Resource } from '../../model/span.js';
import { maxPlausibleNanos, nanosOf } from '../../model/time.js';
import { checkPerSpan, checkSpanCount, DEFAULT_LIMITS, LimitExceededError, type DecodeLimits } from '../../model/limits.js';
import { I64, LEN, ProtoReader, VARINT, WireError } from '../protobuf.js';
import { utf8TextStrict } from '../text.js';
import { jaegerSpanToModel, type RawJaegerSpan, type Tag } from './decode.js';

const tag = (field: number, wire: number): number => (field << 3) | wire;

/** How deep protobufjs lets groups (in unknown fields) nest, counting the messages around them. */
const MAX_DEPTH = 100;

/**
 * ProtoReader with protobufjs 8's reading rules where the two differ: a tag in at most five bytes
 * and 32 bits, a length in at most five bytes and under 2^31, strings that must be UTF-8 (proto3),
 * a bool that is true when any of its 64 bits is, field number 0 refused, groups skipped (protobufjs
 * skips them, ProtoReader refuses them) and a skipped varint of any length.
 */
class ApiV2Reader extends ProtoReader {
  tag(): number {
    const p = this.pos;
    if (p < this.end && this.buf[p]! < 0x80) {
      this.pos = p + 1;
      return this.buf[p]!;
    }
    const t = this.uint32();
    const n = this.pos - p;
    if (n > 5 || (n === 5 && this.buf[this.pos - 1]! > 0x0f)) throw new WireError(`invalid tag encoding at offset ${p}`);
    return t;
  }

  override delimited(): number {
    const p = this.pos;
    const len = this.uint32();
    const n = this.pos - p;
    if (n > 5 || (n === 5 && this.buf[this.pos - 1]! > 7)) throw new WireError(`invalid length encoding at offset ${p}`);
    const end = this.pos + len;
    if (end > this.end) throw new WireError(`length ${len} runs past the end`);
    return end;
  }

  override string(): string {
    const end = this.delimited();
    const start = this.pos;
    this.pos = end;
    const s = utf8TextStrict(this.buf, start, end);
    if (s === undefined) throw new WireError(`a string field at offset ${start} is not UTF-8`);
    return s;
  }

  override bool(): boolean {
    let set = false;
    for (let i = 0; i < 10; i++) {
      const b = this.byte(this.buf);
      if (b & 0x7f) set = true;
      if (b < 0x80) return set;
    }
    throw new WireError('varint longer than 10 bytes');
  }

  /** Skips the field `t` starts (an unknown one, or a known one in the wrong wire type) in a message `depth` deep. */
  skipField(t: number, depth: number): void {
    if (depth > MAX_DEPTH) throw new WireError('groups nested too deep');
    if (t >>> 3 === 0) throw new WireError(`field number 0 at offset ${this.pos}`);
    const wire = t & 7;
    if (wire === VARINT) {
      while (this.byte(this.buf) >= 0x80);
    } else if (wire === 3) {
      for (;;) {
        const inner = this.tag();
        if (inner >>> 3 === 0) throw new WireError(`field number 0 at offset ${this.pos}`);
        if ((inner & 7) === 4) {
          if (inner >>> 3 !== t >>> 3) throw new WireError(`group ${t >>> 3} ended by ${inner >>> 3}`);
          return;
        }
        this.skipField(inner, depth + 1);
      }
    } else this.skip(wire);
  }
}

// protobufjs's nesting depths of the messages (PostSpansRequest 0), for the group limit.
const BATCH = 1;
const SPAN = 2;

/** KeyValue → tag; the value is the field v_type names, each field's last occurrence winning. */
function readKeyValue(r: ApiV2Reader, end: number, depth: number): Tag {
  let key = '';
  let vType = 0;
  let str = '';
  let bool = false;
  let int: number | bigint = 0;
  let float = 0;
  let binStart = 0;
  let binEnd = 0;
  while (r.more(end)) {
    const t = r.tag();
    if (t === tag(1, LEN)) key = r.string();
    else if (t === tag(2, VARINT)) vType = r.uint32() | 0;
    else if (t === tag(3, LEN)) str = r.string();
    else if (t === tag(4, VARINT)) bool = r.bool();
    else if (t === tag(5, VARINT)) int = r.int64();
    else if (t === tag(6, I64)) float = r.double();
    else if (t === tag(7, LEN)) {
      binEnd = r.delimited();
      binStart = r.pos;
      r.pos = binEnd;
    } else r.skipField(t, depth);
  }
  let value: AttributeValue;
  // ValueType: STRING, BOOL, INT64, FLOAT64, BINARY; any other number reads as a string, as before.
  if (vType === 1) value = bool;
  else if (vType === 2) value = int;
  else if (vType === 3) value = float;
  else if (vType === 4) value = new Uint8Array(r.buf.subarray(binStart, binEnd));
  else value = str;
  return { key, value };
}

/** A Process, merged into `into` (a message field sent twice is merged, as protobuf merges it). */
interface WireProcess {
  serviceName: string;
  tags: Tag[];
}
function readProcess(r: ApiV2Reader, end: number, depth: number, into: WireProcess): void {
  while (r.more(end)) {
    const t = r.tag();
    if (t === tag(1, LEN)) into.serviceName = r.string();
    else if (t === tag(2, LEN)) into.tags.push(readKeyValue(r, r.delimited(), depth + 1));
    else r.skipField(t, depth);
  }
}

/** Timestamp or Duration {int64 seconds, int32 nanos}, merged into `into` ([seconds, nanos]). */
function readTime(r: ApiV2Reader, end: number, depth: number, into: [number | bigint, number]): void {
  while (r.more(end)) {
    const t = r.tag();
    if (t === tag(1, VARINT)) into[0] = r.int64();
    else if (t === tag(2, VARINT)) into[1] = r.uint32() | 0;
    else r.skipField(t, depth);
  }
}

/** Nanoseconds of a Timestamp or Duration: its seconds taken unsigned, as the protobufjs decoder took them. */
function nanosOfTime([seconds, nanos]: [number | bigint, number]): bigint {
  if (typeof seconds === 'number' && seconds >= 0) return nanosOf(seconds, 1_000_000_000, nanos);
  return BigInt.asUintN(64, BigInt(seconds)) * 1_000_000_000n + BigInt(nanos);
}

const ZERO = '0000000000000000';

/** A 16-byte trace ID as high and low hex halves; 8 bytes is a 64-bit one; anything else has no low half. */
function setTraceId(buf: Buffer, start: number, end: number, into: { traceIdHigh: string; traceIdLow: string }): void {
  if (end - start === 16) {
    into.traceIdHigh = buf.toString('hex', start, start + 8);
    into.traceIdLow = buf.toString('hex', start + 8, end);
  } else {
    into.traceIdHigh = ZERO;
    into.traceIdLow = end - start === 8 ? buf.toString('hex', start, end) : '';
  }
}

interface WireSpan {
  raw: RawJaegerSpan;
  /** Bytes of span_id: its length is in the error for a wrong one. */
  spanIdBytes: number;
  process: WireProcess | undefined;
}

/** The Span message at [start, end). */
function readSpan(r: ApiV2Reader, start: number, end: number): WireSpan {
  r.pos = start;
  let traceStart = 0;
  let traceEnd = 0;
  let spanStart = 0;
  let spanEnd = 0;
  let operationName = '';
  let flags = 0;
  const startTime: [number | bigint, number] = [0, 0];
  const duration: [number | bigint, number] = [0, 0];
  const refs: RawJaegerSpan['refs'] = [];
  const tags: Tag[] = [];
  const logs: RawJaegerSpan['logs'] = [];
  let process: WireProcess | undefined;
  while (r.more(end)) {
    const t = r.tag();
    switch (t) {
      case tag(1, LEN):
        traceEnd = r.delimited();
        traceStart = r.pos;
        r.pos = traceEnd;
        break;
      case tag(2, LEN):
        spanEnd = r.delimited();
        spanStart = r.pos;
        r.pos = spanEnd;
        break;
      case tag(3, LEN):
        operationName = r.string();
        break;
      case tag(4, LEN): {
        const e = r.delimited();
        let refTraceStart = 0;
        let refTraceEnd = 0;
        let refSpanStart = 0;
        let refSpanEnd = 0;
        let type = 0;
        while (r.more(e)) {
          const u = r.tag();
          if (u === tag(1, LEN)) {
            refTraceEnd = r.delimited();
            refTraceStart = r.pos;
            r.pos = refTraceEnd;
          } else if (u === tag(2, LEN)) {
            refSpanEnd = r.delimited();
            refSpanStart = r.pos;
            r.pos = refSpanEnd;
          } else if (u === tag(3, VARINT)) type = r.uint32() | 0;
          else r.skipField(u, SPAN + 1);
        }
        const ref = { type, traceIdHigh: '', traceIdLow: '', spanId: r.buf.toString('hex', refSpanStart, refSpanEnd) };
        setTraceId(r.buf, refTraceStart, refTraceEnd, ref);
        refs.push(ref);
        break;
      }
      case tag(5, VARINT):
        flags = r.uint32();
        break;
      case tag(6, LEN):
        readTime(r, r.delimited(), SPAN + 1, startTime);
        break;
      case tag(7, LEN):
        readTime(r, r.delimited(), SPAN + 1, duration);
        break;
      case tag(8, LEN):
        tags.push(readKeyValue(r, r.delimited(), SPAN + 1));
        break;
      case tag(9, LEN): {
        const e = r.delimited();
        const at: [number | bigint, number] = [0, 0];
        const fields: Tag[] = [];
        while (r.more(e)) {
          const u = r.tag();
          if (u === tag(1, LEN)) readTime(r, r.delimited(), SPAN + 2, at);
          else if (u === tag(2, LEN)) fields.push(readKeyValue(r, r.delimited(), SPAN + 2));
          else r.skipField(u, SPAN + 1);
        }
        logs.push({ timestampNanos: nanosOfTime(at), fields });
        break;
      }
      case tag(10, LEN):
        readProcess(r, r.delimited(), SPAN + 1, (process ??= { serviceName: '', tags: [] }));
        break;
      case tag(11, LEN): // process_id and warnings: not kept, but strings all the same (UTF-8)
      case tag(12, LEN):
        r.string();
        break;
      default:
        r.skipField(t, SPAN);
    }
  }
  const raw: RawJaegerSpan = {
    traceIdHigh: ZERO,
    traceIdLow: '',
    spanId: r.buf.toString('hex', spanStart, spanEnd),
    parentSpanId: ZERO,
    operationName,
    refs,
    flags,
    startNanos: nanosOfTime(startTime),
    durationNanos: nanosOfTime(duration),
    tags,
    logs,
  };
  setTraceId(r.buf, traceStart, traceEnd, raw);
  return { raw, spanIdBytes: spanEnd - spanStart, process };
}

function resourceOf(p: WireProcess | undefined): Resource {
  const out: Attributes = {};
  if (p?.serviceName) out['service.name'] = p.serviceName;
  for (const t of p?.tags ?? []) out[t.key] = t.value;
  return { attributes: out };
}

/** The request's spans (where each Span message lies) and its batch's process. */
interface WireRequest {
  spans: number[];
  process: WireProcess | undefined;
}

/** The request down to its Span messages, which are read one by one afterwards. */
function readRequest(r: ApiV2Reader): WireRequest {
  const req: WireRequest = { spans: [], process: undefined };
  while (!r.done) {
    const t = r.tag();
    if (t !== tag(1, LEN)) {
      r.skipField(t, 0);
      continue;
    }
    // Batch; sent twice, the two are merged.
    const end = r.delimited();
    while (r.more(end)) {
      const u = r.tag();
      if (u === tag(1, LEN)) {
        const e = r.delimited();
        req.spans.push(r.pos, e);
        r.pos = e;
      } else if (u === tag(2, LEN)) readProcess(r, r.delimited(), BATCH + 1, (req.process ??= { serviceName: '', tags: [] }));
      else r.skipField(u, BATCH);
    }
  }
  return req;
}

export function decodeJaegerPostSpans(body: Uint8Array, limits: DecodeLimits = DEFAULT_LIMITS): DecodeResult {
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const r = new ApiV2Reader(buf);
  const malformed = (err: WireError) => new DecodeError('malformed_protobuf', 'body', bytesToHex(buf.subarray(0, 16)), `not a jaeger.api_v2.PostSpansRequest: ${err.message}`);
  try {
    const req = readRequest(r);
    const n = req.spans.length / 2;
    const processTags = req.process?.tags.length ?? 0;
    if (n > limits.maxSpansPerRequest || processTags > limits.maxAttributesPerSpan) {
      // A request both over a bound and malformed is refused as malformed, as when it was read whole.
      for (let i = 0; i < n; i++) readSpan(r, req.spans[2 * i]!, req.spans[2 * i + 1]!);
      checkSpanCount(n, limits, 'batch.spans');
      throw new LimitExceededError('batch.process.tags', processTags, 'max_attributes_per_span', limits.maxAttributesPerSpan);
    }
    const batchResource = resourceOf(req.process);
    const result = emptyResult();
    const max = maxPlausibleNanos();
    for (let i = 0; i < n; i++) {
      const s = readSpan(r, req.spans[2 * i]!, req.spans[2 * i + 1]!);
      const field = `batch.spans[${i}]`;
      try {
        checkPerSpan(field, s.raw.tags.length, s.raw.logs.length, s.raw.refs.length, limits);
        if (s.process && s.process.tags.length > limits.maxAttributesPerSpan) throw new LimitExceededError(`${field}.process.tags`, s.process.tags.length, 'max_attributes_per_span', limits.maxAttributesPerSpan);
        if (s.raw.spanId.length !== 16) throw new DecodeError('invalid_span_id', `${field}.spanId`, s.raw.spanId, `expected 8 bytes, got ${s.spanIdBytes}`);
        // A span may carry its own process (the batch's is then empty), as Jaeger's model allows.
        result.spans.push(jaegerSpanToModel(s.raw, s.process ? resourceOf(s.process) : batchResource, field, max, result));
      } catch (err) {
        if (err instanceof DecodeError) result.rejected.push(err);
        else throw err;
      }
    }
    return result;
  } catch (err) {
    if (err instanceof WireError) throw malformed(err);
    throw err;
  }
}
