/**
 * Jaeger api_v2 PostSpansRequest: span-relay's hand-written decoder against the protobufjs decoder it
 * replaced (helpers/jaeger-protobufjs.ts), request for request. The two must agree on everything:
 * the spans (every field), the spans refused and why, and which requests are refused whole, with the
 * same code, field and value (only the reason's words may differ). Three sources:
 * - requests as Jaeger's own Go code writes them (peers/jaeger-proto: jaeger-idl's model and the
 *   OpenTelemetry Collector's Jaeger translator, marshalled by gogo protobuf);
 * - random requests written field by field: fields in any order and repeated (a message field sent
 *   twice is merged), unknown fields of every wire type (groups too), known fields in the wrong wire
 *   type, non-canonical varints, int64 and int32 edges, strings that are not UTF-8;
 * - both of those mangled byte by byte (helpers/mutate.ts, as the fuzz tests mangle every format).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { missingPeers, peer } from '../../peers/peers.js';
import { DecodeError } from '../src/model/errors.js';
import type { DecodeResult } from '../src/model/decode-result.js';
import { DEFAULT_LIMITS, type DecodeLimits } from '../src/model/limits.js';
import { decodeJaegerPostSpans } from '../src/protocol/jaeger/decode-proto.js';
import { decodeJaegerPostSpansProtobufjs } from './helpers/jaeger-protobufjs.js';
import { mutate } from './helpers/mutate.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);

type Outcome = { spans: DecodeResult['spans']; rejected: { code: string; field: string; value: unknown; message: string }[]; dropped: [string, number][] } | { refused: { code: string; field: string; value: unknown } } | { crashed: string };

function outcome(decode: (b: Buffer, l: DecodeLimits) => DecodeResult, body: Buffer, limits = DEFAULT_LIMITS): Outcome {
  try {
    const r = decode(body, limits);
    return { spans: r.spans, rejected: r.rejected.map((e) => ({ code: e.code, field: e.field, value: e.value, message: e.message })), dropped: [...r.droppedFields] };
  } catch (err) {
    if (err instanceof DecodeError) return { refused: { code: err.code, field: err.field, value: err.value } };
    return { crashed: String(err) };
  }
}

/** Both decoders on `body`: the same outcome, whatever it is, and never an exception that is not a DecodeError. */
function agree(body: Buffer, limits = DEFAULT_LIMITS): Outcome {
  const hand = outcome(decodeJaegerPostSpans, body, limits);
  const reference = outcome(decodeJaegerPostSpansProtobufjs, body, limits);
  expect(hand).not.toHaveProperty('crashed');
  expect(hand).toEqual(reference);
  return hand;
}

// ---- writing protobuf by hand -------------------------------------------------------------------

/** A varint of `v` (taken modulo 2^64), with `pad` extra bytes of continuation (a non-canonical spelling). */
function varint(v: bigint, pad = 0): number[] {
  let u = BigInt.asUintN(64, v);
  const out: number[] = [];
  while (u > 0x7fn) {
    out.push(Number(u & 0x7fn) | 0x80);
    u >>= 7n;
  }
  out.push(Number(u));
  for (let i = 0; i < pad && out.length < 10; i++) {
    out[out.length - 1]! |= 0x80;
    out.push(0);
  }
  return out;
}

/** A field: its tag and its body (a varint's bytes, 8 or 4 fixed bytes, a length-delimited message or a group). */
type Field = number[];
const tagBytes = (n: number, wire: number, pad = 0) => varint(BigInt(n) * 8n + BigInt(wire), Math.min(pad, 5 - varint(BigInt(n) * 8n + BigInt(wire)).length));
const lenField = (n: number, body: number[], pad = 0): Field => [...tagBytes(n, 2), ...varint(BigInt(body.length), Math.min(pad, 5 - varint(BigInt(body.length)).length)), ...body];
const varField = (n: number, v: bigint, pad = 0): Field => [...tagBytes(n, 0), ...varint(v, pad)];
const doubleField = (n: number, v: number): Field => {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(v);
  return [...tagBytes(n, 1), ...b];
};

const pad = fc.constantFrom(0, 0, 0, 0, 1, 4);
const bytes = (lengths: number[]) => fc.oneof(...lengths.map((n) => fc.uint8Array({ minLength: n, maxLength: n })), fc.uint8Array({ maxLength: 20 })).map((u) => [...u]);
/** Text (a byte order mark, non-ASCII, long), now and then bytes that are not UTF-8. */
const text = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('http.method', 'span.kind', 'server', 'client', 'error', 'otel.status_code', 'ERROR', 'OK', 'otel.status_description', 'event', 'service.name', 'web', '') },
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ minLength: 49, maxLength: 80 }) },
  { weight: 1, arbitrary: fc.constant('\ufeffbom') },
).map((s) => [...Buffer.from(s, 'utf8')]);
const notUtf8 = fc.constantFrom<number[]>([0xff], [0x61, 0xc3], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [...Buffer.from('x'.repeat(50)), 0xfe]);
const str = fc.oneof({ weight: 300, arbitrary: text }, { weight: 1, arbitrary: notUtf8 });
const int64 = fc.oneof(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.constantFrom(0n, 1n, -1n, 2n ** 53n - 1n, 2n ** 53n, -(2n ** 53n) + 1n, -(2n ** 53n), 2n ** 63n - 1n, -(2n ** 63n)), fc.integer({ min: 0, max: 300 }).map(BigInt));
const seconds = fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 1_700_000_000, max: 1_790_000_000 }).map(BigInt) }, { weight: 1, arbitrary: int64 });
const int32 = fc.oneof(fc.integer({ min: 0, max: 999_999_999 }), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.constantFrom(0, -1, 4, 5)).map(BigInt);

/** An unknown field (every wire type, groups holding fields and groups), or a known number in a wrong wire type. */
const groupBody: fc.Arbitrary<number[]> = fc.letrec<{ group: number[] }>((tie) => ({
  group: fc.tuple(fc.integer({ min: 1, max: 40 }), fc.array(fc.oneof({ depthSize: 'small', withCrossShrink: true }, fc.integer({ min: 1, max: 40 }).map((n) => varField(n, 7n)), tie('group')), { maxLength: 3 })).map(([n, inner]) => [...tagBytes(n, 3), ...inner.flat(), ...tagBytes(n, 4)]),
})).group;
const extra = (known: number) =>
  fc.oneof(
    fc.tuple(fc.integer({ min: known + 1, max: 2 ** 29 - 1 }), int64).map(([n, v]) => varField(n, v)),
    fc.tuple(fc.integer({ min: known + 1, max: 60 }), bytes([0, 3])).map(([n, b]) => lenField(n, b)),
    fc.tuple(fc.integer({ min: known + 1, max: 60 }), fc.uint8Array({ minLength: 4, maxLength: 4 })).map(([n, b]) => [...tagBytes(n, 5), ...b]),
    fc.integer({ min: known + 1, max: 60 }).map((n) => doubleField(n, 1.5)),
    groupBody,
    fc.tuple(fc.integer({ min: 1, max: known }), fc.constantFrom(0, 1, 5)).map(([n, wire]) => [...tagBytes(n, wire), ...(wire === 0 ? [5] : wire === 1 ? [1, 2, 3, 4, 5, 6, 7, 8] : [1, 2, 3, 4])]),
  );

/** A message: its fields in any order, some repeated, with unknown ones among them. */
function message(known: number, fields: fc.Arbitrary<Field>[]): fc.Arbitrary<number[]> {
  return fc
    .tuple(fc.tuple(...fields.map((f) => fc.option(f, { freq: 8 }))), fc.array(fc.oneof(...fields), { maxLength: 2 }), fc.array(extra(known), { maxLength: 2 }), fc.boolean())
    .chain(([once, again, extras, shuffle]) => {
      const all = [...once.filter((f): f is Field => f !== null), ...again, ...extras];
      return (shuffle ? fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length }) : fc.constant(all)).map((fs) => fs.flat());
    });
}

const keyValue = message(7, [
  fc.tuple(str, pad).map(([s, p]) => lenField(1, s, p)),
  fc.tuple(fc.oneof(fc.integer({ min: 0, max: 5 }).map(BigInt), int32), pad).map(([v, p]) => varField(2, v, p)),
  str.map((s) => lenField(3, s)),
  fc.oneof(fc.constantFrom(0n, 1n, 2n ** 40n, 2n ** 32n), int64).map((v) => varField(4, v)),
  fc.tuple(int64, pad).map(([v, p]) => varField(5, v, p)),
  fc.oneof(fc.double(), fc.constantFrom(0, -0, NaN)).map((v) => doubleField(6, v)),
  bytes([0, 4]).map((b) => lenField(7, b)),
]);
const time = message(2, [seconds.map((v) => varField(1, v)), int32.map((v) => varField(2, v))]);
const processMsg = message(2, [text.map((s) => lenField(1, s)), keyValue.map((kv) => lenField(2, kv))]);
const spanRef = message(3, [bytes([16, 8]).map((b) => lenField(1, b)), bytes([8]).map((b) => lenField(2, b)), fc.oneof(fc.constantFrom(0n, 1n), int32).map((v) => varField(3, v))]);
const log = message(2, [time.map((t) => lenField(1, t)), keyValue.map((kv) => lenField(2, kv))]);
const span = message(12, [
  bytes([16, 16, 16, 8]).map((b) => lenField(1, b)),
  bytes([8, 8, 8, 8, 8]).map((b) => lenField(2, b)),
  str.map((s) => lenField(3, s)),
  spanRef.map((r) => lenField(4, r)),
  fc.oneof(fc.constantFrom(0n, 1n, 2n, 3n), int64).map((v) => varField(5, v)),
  time.map((t) => lenField(6, t)),
  time.map((t) => lenField(7, t)),
  fc.array(keyValue, { maxLength: 4 }).map((kvs) => kvs.flatMap((kv) => lenField(8, kv))),
  log.map((l) => lenField(9, l)),
  processMsg.map((p) => lenField(10, p)),
  str.map((s) => lenField(11, s)),
  str.map((s) => lenField(12, s)),
]);
const batch = message(2, [fc.array(span, { minLength: 1, maxLength: 4 }).map((ss) => ss.flatMap((s) => lenField(1, s))), processMsg.map((p) => lenField(2, p))]);
const request = message(1, [batch.map((b) => lenField(1, b))]).map((b) => Buffer.from(b));

// ---- the tests ----------------------------------------------------------------------------------

describe.skipIf(missingPeers('jaeger-proto'))("requests as Jaeger's Go code writes them (peers/jaeger-proto)", () => {
  let requests: { name: string; body: Buffer }[] = [];
  beforeAll(async () => {
    const { stdout } = await promisify(execFile)(join(peer('jaeger-proto')!, 'jaeger-proto'), { timeout: 20_000 });
    requests = (JSON.parse(stdout) as { requests: { name: string; body: string }[] }).requests.map((r) => ({ name: r.name, body: Buffer.from(r.body, 'base64') }));
  });

  it('every request: the same spans, refusals and dropped logs from both decoders', () => {
    expect(requests.length).toBeGreaterThanOrEqual(6);
    const by = new Map(requests.map((r) => [r.name, agree(r.body)]));
    // What the requests hold, so that agreeing is not agreeing on nothing.
    const ok = (name: string) => {
      const o = by.get(name);
      if (!o || !('spans' in o)) throw new Error(`${name}: ${JSON.stringify(o)}`);
      return o;
    };
    expect(ok('model: 100 spans of 10-span traces').spans).toHaveLength(100);
    const refused = ok('model: spans a collector refuses beside good ones');
    expect(refused.spans.map((s) => s.name)).toEqual(['good', 'good too']);
    expect(refused.rejected.map((e) => e.code)).toEqual(['invalid_trace_id', 'invalid_span_id', 'invalid_timestamp']);
    const tags = ok('model: every tag type and edge value');
    expect(tags.spans[0]!.attributes).toMatchObject({ min: -(2n ** 63n), max: 2n ** 63n - 1n, safe: 2 ** 53 - 1, unsafe: 2n ** 53n, bin: new Uint8Array([0, 1, 2, 255]), unicode: '日本語 ✓ é' });
    expect(tags.dropped).toEqual([['event_timestamp', 1]]);
    expect(ok('model: a span with its own process, the batch\'s empty').spans.map((s) => s.resource.attributes)).toEqual([{ 'service.name': 'tag wins', hostname: 'h2' }, {}, {}]);
    const translated = requests.filter((r) => r.name.startsWith('translator')).map((r) => ok(r.name));
    expect(translated.map((t) => t.spans.length)).toEqual([6, 6]);
  });

  it('each request mangled byte by byte: the same outcome from both', () => {
    fc.assert(fc.property(fc.constantFrom(...requests).chain((r) => mutate(r.body)), (body) => void agree(body)), { numRuns: RUNS, endOnFailure: true });
  });
});

describe('random requests, written field by field', () => {
  it('the same outcome from both decoders', () => {
    fc.assert(fc.property(request, (body) => void agree(body)), { numRuns: RUNS, endOnFailure: true });
  });

  it('mangled byte by byte: the same outcome from both', () => {
    fc.assert(fc.property(request.chain(mutate), (body) => void agree(body)), { numRuns: RUNS, endOnFailure: true });
  });

  it('over the limits: refused (or the span refused) alike, a malformed request as malformed', () => {
    const limits: DecodeLimits = { ...DEFAULT_LIMITS, maxSpansPerRequest: 2, maxAttributesPerSpan: 2, maxEventsPerSpan: 1, maxLinksPerSpan: 1 };
    fc.assert(fc.property(fc.oneof(request, request.chain(mutate)), (body) => void agree(body, limits)), { numRuns: RUNS, endOnFailure: true });
  });
});

describe('protobufjs 8 rules the hand-written reader keeps (each checked against protobufjs too)', () => {
  const goodSpan = [...lenField(1, [...Buffer.alloc(15), 1]), ...lenField(2, [0, 0, 0, 0, 0, 0, 0, 2]), ...lenField(3, [...Buffer.from('op')]), ...lenField(6, varField(1, 1_700_000_000n))];
  const req = (...spanFields: number[][]) => Buffer.from(lenField(1, [...lenField(1, [...goodSpan, ...spanFields.flat()]), ...lenField(2, lenField(1, [...Buffer.from('svc')]))]));

  it('a string that is not UTF-8 refuses the request, in a field span-relay does not keep as well', () => {
    expect(agree(req(lenField(3, [0x6f, 0xff])))).toMatchObject({ refused: { code: 'malformed_protobuf' } });
    expect(agree(req(lenField(12, [0xc3])))).toMatchObject({ refused: { code: 'malformed_protobuf' } });
  });

  it('a byte order mark starts the text it is in', () => {
    expect(agree(req(lenField(3, [0xef, 0xbb, 0xbf, 0x61])))).toMatchObject({ spans: [{ name: '\ufeffa' }] });
  });

  it('groups in unknown fields are skipped; field number 0 and an unmatched end of group are refused', () => {
    expect(agree(req([...tagBytes(20, 3), ...varField(1, 5n), ...tagBytes(21, 3), ...tagBytes(21, 4), ...tagBytes(20, 4)]))).toMatchObject({ spans: [{ name: 'op' }] });
    expect(agree(req([0x00, 0x01]))).toMatchObject({ refused: { code: 'malformed_protobuf' } });
    expect(agree(req([...tagBytes(20, 3), ...tagBytes(21, 4)]))).toMatchObject({ refused: { code: 'malformed_protobuf' } });
  });

  it('groups nest as deep as protobufjs lets them, and no deeper', () => {
    const nested = (levels: number) => [...Array.from({ length: levels }, () => tagBytes(20, 3)).flat(), ...varField(1, 5n), ...Array.from({ length: levels }, () => tagBytes(20, 4)).flat()];
    const outcomes = [96, 97, 98, 99, 100].map((levels) => 'spans' in agree(req(nested(levels))));
    expect(outcomes).toEqual([true, true, true, false, false]);
  });

  it('a message field sent twice is merged: the later scalars win, the lists grow', () => {
    const o = agree(req(lenField(10, lenField(1, [...Buffer.from('a')])), lenField(10, lenField(2, [...lenField(1, [...Buffer.from('k')]), ...lenField(3, [...Buffer.from('v')])])), lenField(6, varField(2, 5n))));
    expect(o).toMatchObject({ spans: [{ resource: { attributes: { 'service.name': 'a', k: 'v' } }, startTimeUnixNano: 1_700_000_000_000_000_005n }] });
  });

  it('a known field in the wrong wire type is skipped as an unknown one', () => {
    expect(agree(req(varField(3, 7n)))).toMatchObject({ spans: [{ name: 'op' }] });
  });

  it('a bool is true when any of its 64 bits is; a tag or a length over 32 bits or in more than five bytes is refused', () => {
    const kv = (...f: number[][]) => lenField(8, [...lenField(1, [...Buffer.from('b')]), ...varField(2, 1n), ...f.flat()]);
    expect(agree(req(kv(varField(4, 2n ** 40n))))).toMatchObject({ spans: [{ attributes: { b: true } }] });
    expect(agree(req([0x98, 0x80, 0x80, 0x80, 0x80, 0x00, 0x01]))).toMatchObject({ refused: { code: 'malformed_protobuf' } });
    expect(agree(req([0x1a, 0x82, 0x80, 0x80, 0x80, 0x80, 0x00, 0x6f, 0x70]))).toMatchObject({ refused: { code: 'malformed_protobuf' } });
    // Five bytes whose last has bits past the 32nd: ProtoReader alone would read them as 24 and as 2.
    expect(agree(req([0x98, 0x80, 0x80, 0x80, 0x10, 0x01]))).toMatchObject({ refused: { code: 'malformed_protobuf' } });
    expect(agree(req([0x1a, 0x82, 0x80, 0x80, 0x80, 0x10, 0x6f, 0x70]))).toMatchObject({ refused: { code: 'malformed_protobuf' } });
  });
});
