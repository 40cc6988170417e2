/**
 * The hand-written OTLP protobuf codec against protobufjs (the schema's reference reader and writer
 * in JS): what span-relay writes, protobufjs reads as the same request; what protobufjs writes,
 * span-relay reads as protobufjs does; and spans survive a round trip unchanged.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AttributeValue, Attributes, Span } from '../src/model/span.js';
import { decodeOtlpJson, decodeOtlpProto, otlpRequestToModel, type OtlpExportRequest } from '../src/protocol/otlp/decode.js';
import { decodeZipkinV2Json } from '../src/protocol/zipkin/decode.js';
import { encodeOtlpProto } from '../src/protocol/otlp/encode.js';
import { protoType } from '../src/protocol/proto.js';
import { DEFAULT_LIMITS } from '../src/model/limits.js';
import { DecodeError } from '../src/model/errors.js';
import { traceIdTo128 } from '../src/model/ids.js';
import { attributeOf, LazySpan, shifted, withAttributes, withChanges } from '../src/model/lazy-span.js';
import type { DecodeResult } from '../src/model/decode-result.js';
import { estimateBytes } from '../src/model/size.js';
import { OtlpWireSpan } from '../src/protocol/otlp/wire-span.js';
import { ProtoReader } from '../src/protocol/protobuf.js';
import { decodeSpans, encodeSpans } from '../src/storage/span-codec.js';
import { modelToOtlpJson } from '../src/protocol/otlp/encode.js';
import { ResourceProcessor } from '../src/processors/resource/index.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 150);
const T0 = 1_700_000_000_000_000_000n;
const Request = protoType('otlp', 'opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');

const hex = (n: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`)).filter((h) => !/^0+$/.test(h));
const text = fc.oneof(fc.string({ maxLength: 20 }), fc.string({ unit: 'grapheme', minLength: 30, maxLength: 200 }), fc.constant('x'.repeat(300)));
const scalar: fc.Arbitrary<AttributeValue> = fc.oneof(
  text,
  fc.integer(),
  fc.constantFrom(Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 2 ** 32, -1),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).filter((b) => b > BigInt(Number.MAX_SAFE_INTEGER) || b < BigInt(-Number.MAX_SAFE_INTEGER)),
  fc.boolean(),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Number.isInteger(d)),
  fc.uint8Array({ maxLength: 20 }),
);
const value: fc.Arbitrary<AttributeValue> = fc.letrec<{ v: AttributeValue }>((tie) => ({
  v: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), tie('v'), { maxKeys: 4 })),
})).v;
const attrs = (max: number) => fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), value, { maxKeys: max });

const SCHEMA_URLS = fc.constantFrom('https://opentelemetry.io/schemas/1.26.0', 'https://opentelemetry.io/schemas/1.37.0');
/** Scope attributes: two alike in content (not the same object), one with values of every kind the wire has. */
const SCOPE_ATTRIBUTES: Attributes[] = [{ 'library.lang': 'go' }, { 'library.lang': 'go' }, { 'library.lang': 'js', raw: new Uint8Array([0, 255]), big: 2n ** 62n, list: [1, 'two'], map: { k: true } }];
const spanArb: fc.Arbitrary<Span> = fc
  .record({
    traceId: fc.oneof(hex(32), hex(16)),
    spanId: hex(16),
    parent: fc.option(hex(16), { nil: undefined }),
    name: text,
    kind: fc.constantFrom('unspecified', 'internal', 'server', 'client', 'producer', 'consumer' as const),
    start: fc.bigInt({ min: 0n, max: 10n ** 15n }),
    dur: fc.bigInt({ min: 0n, max: 10n ** 12n }),
    attributes: attrs(6),
    resource: fc.record({ attributes: fc.constantFrom('a', 'b', 'c'), dropped: fc.nat(2), schemaUrl: fc.option(SCHEMA_URLS, { nil: undefined }) }),
    scope: fc.option(
      fc.record({
        name: fc.oneof(fc.string({ minLength: 1, maxLength: 10 }), fc.constant('')),
        version: fc.option(fc.string({ minLength: 1, maxLength: 5 }), { nil: undefined }),
        attributes: fc.option(fc.constantFrom(...SCOPE_ATTRIBUTES), { nil: undefined }),
        dropped: fc.nat(2),
        schemaUrl: fc.option(SCHEMA_URLS, { nil: undefined }),
      }),
      { nil: undefined },
    ),
    events: fc.array(fc.record({ name: fc.string({ maxLength: 10 }), at: fc.bigInt({ min: 0n, max: 10n ** 12n }), attributes: attrs(2) }), { maxLength: 3 }),
    links: fc.array(fc.record({ traceId: hex(32), spanId: hex(16), traceState: fc.option(fc.constant('k=v'), { nil: undefined }), attributes: attrs(2), dropped: fc.nat(3), flags: fc.option(fc.integer({ min: 1, max: 0x3ff }), { nil: undefined }) }), { maxLength: 2 }),
    status: fc.constantFrom({ code: 'unset' as const }, { code: 'ok' as const }, { code: 'error' as const, message: 'boom' }),
    flags: fc.option(fc.integer({ min: 1, max: 0x1ff }), { nil: undefined }),
    traceState: fc.option(fc.constant('vendor=1'), { nil: undefined }),
    dropped: fc.nat(5),
  })
  .map((r) => {
    const s: Span = {
      traceId: r.traceId,
      spanId: r.spanId,
      name: r.name,
      kind: r.kind,
      startTimeUnixNano: T0 + r.start,
      endTimeUnixNano: T0 + r.start + r.dur,
      attributes: r.attributes,
      events: r.events.map((e) => ({ name: e.name, timeUnixNano: T0 + r.start + e.at, attributes: e.attributes })),
      links: r.links.map((l) => ({ traceId: l.traceId, spanId: l.spanId, attributes: l.attributes, ...(l.traceState ? { traceState: l.traceState } : {}), ...(l.dropped ? { droppedAttributesCount: l.dropped } : {}), ...(l.flags ? { flags: l.flags } : {}) })),
      status: r.status,
      resource: { attributes: RESOURCES[r.resource.attributes]!, ...(r.resource.dropped ? { droppedAttributesCount: r.resource.dropped } : {}), ...(r.resource.schemaUrl ? { schemaUrl: r.resource.schemaUrl } : {}) },
      source: 'otlp',
    };
    if (r.parent) s.parentSpanId = r.parent;
    // Only what the sender set: a scope with none of its fields set is no scope.
    const sc = r.scope;
    if (sc && (sc.name || sc.version || sc.attributes || sc.dropped || sc.schemaUrl)) {
      s.scope = { name: sc.name, ...(sc.version ? { version: sc.version } : {}), ...(sc.attributes ? { attributes: sc.attributes } : {}), ...(sc.dropped ? { droppedAttributesCount: sc.dropped } : {}), ...(sc.schemaUrl ? { schemaUrl: sc.schemaUrl } : {}) };
    }
    if (r.flags) s.flags = r.flags;
    if (r.traceState) s.traceState = r.traceState;
    if (r.dropped) s.droppedAttributesCount = r.dropped;
    return s;
  });
const RESOURCES: Record<string, Attributes> = {
  a: { 'service.name': 'web', 'host.name': 'node-1' },
  b: { 'service.name': 'emoji', 'k8s.pod.ip': '10.0.0.7', weights: [1, 2, 3] },
  c: {},
};

/** Bytes values come back as Node Buffers (a Uint8Array), as protobufjs gives them. */
function buffers(v: AttributeValue): AttributeValue {
  if (v instanceof Uint8Array) return Buffer.from(v);
  if (Array.isArray(v)) return (v as AttributeValue[]).map(buffers);
  if (typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, buffers(x)]));
  return v;
}
const attrsOut = (a: Attributes) => buffers(a) as Attributes;

/** What a span looks like after the wire: 128-bit IDs, bytes as Buffers. */
function expected(s: Span): Span {
  return {
    ...s,
    traceId: traceIdTo128(s.traceId),
    attributes: attrsOut(s.attributes),
    events: s.events.map((e) => ({ ...e, attributes: attrsOut(e.attributes) })),
    links: s.links.map((l) => ({ ...l, traceId: traceIdTo128(l.traceId), attributes: attrsOut(l.attributes) })),
    resource: { ...s.resource, attributes: attrsOut(s.resource.attributes) },
    ...(s.scope?.attributes ? { scope: { ...s.scope, attributes: attrsOut(s.scope.attributes) } } : {}),
  };
}

/** Orders spans as the encoder groups them (by resource, then scope), to compare as lists. */
const byId = (spans: Span[]) => [...spans].sort((a, b) => (a.spanId + a.traceId < b.spanId + b.traceId ? -1 : 1));

describe('hand-written OTLP protobuf codec', () => {
  it('round-trips spans unchanged (IDs widened to 128 bits)', () => {
    fc.assert(
      fc.property(fc.array(spanArb, { minLength: 1, maxLength: 20 }), (spans) => {
        const got = decodeOtlpProto(encodeOtlpProto({ spans }));
        expect(got.rejected).toEqual([]);
        expect(byId(got.spans)).toEqual(byId(spans.map(expected)));
      }),
      { numRuns: RUNS },
    );
  });

  it('writes what protobufjs reads as the same request, and reads it as protobufjs does', () => {
    fc.assert(
      fc.property(fc.array(spanArb, { minLength: 1, maxLength: 20 }), (spans) => {
        const bytes = encodeOtlpProto({ spans });
        const viaProtobufjs = otlpRequestToModel(Request.decode(bytes) as unknown as OtlpExportRequest, false);
        expect(decodeOtlpProto(bytes)).toEqual(viaProtobufjs);
      }),
      { numRuns: RUNS },
    );
  });

  it('reads what protobufjs writes (every field present, defaults written, resource after its spans)', () => {
    const span = {
      traceId: Buffer.from('0af7651916cd43dd8448eb211c80319c', 'hex'),
      spanId: Buffer.from('b7ad6b7169203331', 'hex'),
      parentSpanId: Buffer.alloc(0),
      traceState: '',
      name: 'GET /api/list',
      kind: 2,
      startTimeUnixNano: '1700000000000000000',
      endTimeUnixNano: '1700000000001000000',
      attributes: [
        { key: 'http.status_code', value: { intValue: '-5' } },
        { key: 'big', value: { intValue: '9223372036854775807' } },
        { key: 'ratio', value: { doubleValue: 0.5 } },
        { key: 'ok', value: { boolValue: false } },
        { key: 'raw', value: { bytesValue: Buffer.from([1, 2, 3]) } },
        { key: 'list', value: { arrayValue: { values: [{ stringValue: 'a' }, { kvlistValue: { values: [{ key: 'x', value: { stringValue: 'y' } }] } }] } } },
        { key: 'empty', value: {} },
      ],
      droppedAttributesCount: 0,
      events: [{ timeUnixNano: '1700000000000500000', name: 'cache miss', attributes: [{ key: 'k', value: { stringValue: 'v' } }] }, { timeUnixNano: '5', name: 'absurd' }],
      links: [{ traceId: Buffer.from('1af7651916cd43dd8448eb211c80319c', 'hex'), spanId: Buffer.from('c7ad6b7169203331', 'hex'), traceState: 'a=b', attributes: [] }],
      status: { code: 2, message: 'upstream reset' },
      flags: 0x101,
    };
    const bytes = Buffer.from(Request.encode(Request.fromObject({ resourceSpans: [{ scopeSpans: [{ scope: { name: 'linkerd', version: '2.19' }, spans: [span] }], resource: { attributes: [{ key: 'service.name', value: { stringValue: 'web' } }] } }] })).finish());
    const mine = decodeOtlpProto(bytes);
    expect(mine).toEqual(otlpRequestToModel(Request.decode(bytes) as unknown as OtlpExportRequest, false));
    const s = mine.spans[0]!;
    expect(s.resource.attributes).toEqual({ 'service.name': 'web' });
    expect(s.attributes).toMatchObject({ 'http.status_code': -5, big: 9223372036854775807n, ratio: 0.5, ok: false, empty: '', list: ['a', { x: 'y' }] });
    expect(s.events.map((e) => e.name)).toEqual(['cache miss']);
    expect(mine.droppedFields.get('event_timestamp')).toBe(1);
    expect(s.scope).toEqual({ name: 'linkerd', version: '2.19' });
  });

  it('refuses a span alone for a bad ID or a limit, keeping the spans beside it', () => {
    const good = fc.sample(spanArb, { numRuns: 3, seed: 7 });
    const bytes = encodeOtlpProto({ spans: good });
    const bad = Buffer.from(Request.encode(Request.fromObject({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: Buffer.from([1, 2, 3]), spanId: Buffer.from('b7ad6b7169203331', 'hex'), startTimeUnixNano: '1700000000000000000', endTimeUnixNano: '1700000000000000000' }] }] }] })).finish());
    const result = decodeOtlpProto(Buffer.concat([bytes, bad]));
    expect(result.spans).toHaveLength(3);
    expect(result.rejected.map((e) => e.message)).toEqual([expect.stringMatching(/resourceSpans\[\d+\]\.scopeSpans\[0\]\.spans\[0\]\.traceId.*expected 16 bytes, got 3/)]);
    // Without scopes: a scope's attributes count against the same limit (tested below).
    const many = { ...good[0]!, scope: undefined, attributes: Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`k${i}`, i])) };
    const limited = decodeOtlpProto(encodeOtlpProto({ spans: [many, { ...good[1]!, scope: undefined }] }), { ...DEFAULT_LIMITS, maxAttributesPerSpan: 4 });
    expect(limited.spans).toHaveLength(1);
    expect(limited.rejected[0]!.message).toMatch(/attributes.*max_attributes_per_span/);
  });

  it('refuses a body that is not protobuf, whole, with a reason', () => {
    const bytes = encodeOtlpProto({ spans: fc.sample(spanArb, { numRuns: 2, seed: 1 }) });
    for (const cut of [bytes.subarray(0, bytes.length - 3), Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f]), Buffer.from([0x0b])]) {
      expect(() => decodeOtlpProto(cut)).toThrow(DecodeError);
      expect(() => decodeOtlpProto(cut)).toThrow(/not an ExportTraceServiceRequest/);
    }
    expect(() => decodeOtlpProto(encodeOtlpProto({ spans: fc.sample(spanArb, { numRuns: 3, seed: 2 }) }), { ...DEFAULT_LIMITS, maxSpansPerRequest: 2 })).toThrow(/max_spans_per_request/);
  });

  it('an attribute named __proto__ is an attribute, never the prototype (OTLP protobuf and JSON, Zipkin)', () => {
    const evil = { ...fc.sample(spanArb, { numRuns: 1, seed: 3 })[0]!, attributes: JSON.parse('{"__proto__": {"injected": 1}, "ok": 1}') as Attributes };
    const viaProto = decodeOtlpProto(encodeOtlpProto({ spans: [evil] })).spans[0]!.attributes;
    const json = JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', startTimeUnixNano: '1700000000000000000', endTimeUnixNano: '1700000000000000000', attributes: [{ key: '__proto__', value: { kvlistValue: { values: [{ key: 'injected', value: { intValue: '1' } }] } } }, { key: 'ok', value: { intValue: '1' } }] }] }] }] });
    const viaJson = decodeOtlpJson(json).spans[0]!.attributes;
    for (const a of [viaProto, viaJson]) {
      expect(Object.getPrototypeOf(a)).toBe(Object.prototype);
      expect(Object.keys(a).sort()).toEqual(['__proto__', 'ok']);
      expect(Object.getOwnPropertyDescriptor(a, '__proto__')!.value).toEqual({ injected: 1 });
    }
    const zipkin = decodeZipkinV2Json(Buffer.from('[{"traceId":"0af7651916cd43dd","id":"b7ad6b7169203331","name":"x","timestamp":1700000000000000,"duration":5,"localEndpoint":{"serviceName":"a"},"tags":{"__proto__":"evil","ok":"1"}}]')).spans[0]!.attributes;
    expect(Object.getPrototypeOf(zipkin)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(zipkin, '__proto__')!.value).toBe('evil');
  });

  it('internal: spans come back exactly as held (source, Zipkin shared, 64-bit trace IDs), and only when asked for', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(spanArb, fc.constantFrom('zipkin', 'opencensus', 'otlp', 'jaeger', 'replay' as const), fc.boolean()), { minLength: 1, maxLength: 10 }), (rows) => {
        const spans = rows.map(([s, source, shared]) => ({ ...s, source, ...(shared ? { shared: true } : {}) }));
        const bytes = encodeOtlpProto({ spans }, true);
        const back = decodeOtlpProto(bytes, DEFAULT_LIMITS, { internal: true }).spans;
        const exact = (s: Span): Span => ({ ...expected(s), traceId: s.traceId, links: s.links.map((l) => ({ ...l, attributes: attrsOut(l.attributes) })) });
        expect(byId(back)).toEqual(byId(spans.map(exact)));
        // A real OTLP receiver (and span-relay's own, without `internal`) sees plain OTLP.
        const plain = decodeOtlpProto(bytes).spans;
        expect(plain.every((s) => s.source === 'otlp' && s.shared === undefined && s.traceId.length === 32)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });
});

/** A span as plain data: a LazySpan's parts read (what JSON and the encoders see). */
const plain = (s: Span): Span => (s instanceof LazySpan ? s.toJSON() : s);
const plainResult = (r: DecodeResult) => ({ spans: r.spans.map(plain), rejected: r.rejected.map((e) => e.message), dropped: [...r.droppedFields] });
const decodeBoth = (bytes: Buffer, limits = DEFAULT_LIMITS, internal = false) => {
  const run = (lazy: boolean) => {
    try {
      return plainResult(decodeOtlpProto(bytes, limits, { lazy, internal }));
    } catch (err) {
      return { threw: (err as Error).message };
    }
  };
  return { eager: run(false), lazy: run(true) };
};
const ACK = { done: () => {}, drop: () => {} };
/** Where the value of the first field with `tag` in the message [start, end) of `buf` begins. */
const fieldAt = (buf: Buffer, start: number, end: number, tag: number): number => {
  const r = new ProtoReader(buf, start, end);
  while (r.more(end)) {
    const t = r.uint32();
    if (t === tag) return r.pos;
    r.skip(t & 7);
  }
  throw new Error(`no field with tag ${tag}`);
};
/** A protobuf varint, for requests put together by hand. */
const varint = (n: number): Buffer => {
  const out: number[] = [];
  for (; n >= 0x80; n >>>= 7) out.push((n & 0x7f) | 0x80);
  out.push(n);
  return Buffer.from(out);
};
/** Edits a stage may make, applied the same way to a lazy span and to its eager twin. */
const edits: ((s: Span) => Span)[] = [
  (s) => s,
  (s) => withChanges(s, { traceId: 'ffffffffffffffff' + s.traceId.slice(16), parentSpanId: 'aaaaaaaaaaaaaaaa' }),
  (s) => withAttributes(s, { 'span_relay.original_span_id': s.spanId, added: 7 }, { spanId: 'bbbbbbbbbbbbbbbb', shared: undefined }),
  (s) => shifted(s, 1_234_567n, { 'span_relay.clock_skew_ns': 1_234_567 }),
  (s) => shifted(withAttributes(s, { a: 'x' }), -5n),
  (s) => withChanges(s, { ack: ACK }),
];

describe('lazy OTLP spans (what the receivers decode into)', () => {
  it('read exactly as the eager decoder reads, refusals and dropped events included, on good and damaged bytes', () => {
    const damage = fc.oneof(
      fc.constant((b: Buffer) => b),
      fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })).map(([at, v]) => (b: Buffer) => Buffer.from(b).fill(v, at % b.length, (at % b.length) + 1)),
      fc.nat().map((at) => (b: Buffer) => b.subarray(0, at % b.length)),
    );
    const limits = fc.constantFrom(DEFAULT_LIMITS, { ...DEFAULT_LIMITS, maxAttributesPerSpan: 3, maxArrayElements: 2, maxValueDepth: 1 });
    fc.assert(
      fc.property(fc.array(spanArb, { minLength: 1, maxLength: 8 }), damage, limits, fc.boolean(), (spans, hurt, lim, internal) => {
        // Some events out of the plausible range: the decoder drops them, and a lazy span is read whole.
        const withOld = spans.map((s, i) => (i === 1 ? { ...s, events: [...s.events, { name: 'absurd', timeUnixNano: 5n, attributes: {} }] } : s));
        const { eager, lazy } = decodeBoth(hurt(encodeOtlpProto({ spans: withOld }, internal)), lim, internal);
        expect(lazy).toEqual(eager);
      }),
      { numRuns: RUNS * 2 },
    );
  });

  it('write the bytes they came in, with what stages changed, as the eager spans would be written', () => {
    fc.assert(
      fc.property(fc.array(spanArb, { minLength: 1, maxLength: 8 }), fc.nat(edits.length - 1), fc.boolean(), (spans, e, internal) => {
        const bytes = encodeOtlpProto({ spans }, internal);
        const edit = edits[e]!;
        const lazy = decodeOtlpProto(bytes, DEFAULT_LIMITS, { lazy: true, internal }).spans.map(edit);
        const eager = decodeOtlpProto(bytes, DEFAULT_LIMITS, { internal }).spans.map(edit);
        // The edits read nothing: the encoder copies the bytes.
        expect(lazy.every((s) => s instanceof LazySpan && s.attributesUnread && s.eventsUnread)).toBe(true);
        const back = (ss: Span[]) => decodeOtlpProto(encodeOtlpProto({ spans: ss }, internal), DEFAULT_LIMITS, { internal });
        expect(back(lazy)).toEqual(back(eager));
        // Read after the edits, they are the eager spans edited.
        expect(byId(lazy.map(plain))).toEqual(byId(eager));
        expect(decodeSpans(encodeSpans(lazy))).toEqual(decodeSpans(encodeSpans(eager)));
      }),
      { numRuns: RUNS },
    );
  });

  it('find one attribute without reading the others', () => {
    fc.assert(
      fc.property(fc.array(spanArb, { minLength: 1, maxLength: 5 }), (spans) => {
        const bytes = encodeOtlpProto({ spans });
        const eager = decodeOtlpProto(bytes).spans;
        decodeOtlpProto(bytes, DEFAULT_LIMITS, { lazy: true }).spans.forEach((s, i) => {
          for (const key of [...Object.keys(eager[i]!.attributes), 'not.there']) expect(attributeOf(s, key)).toEqual(eager[i]!.attributes[key]);
          expect((s as LazySpan).attributesUnread).toBe(true);
        });
      }),
      { numRuns: RUNS },
    );
  });

  it('leave as the message they came in while unchanged, with added attributes after it', () => {
    fc.assert(
      fc.property(fc.array(spanArb.map((s) => ({ ...s, links: [] })), { minLength: 1, maxLength: 6 }), fc.boolean(), fc.boolean(), (spans, ack, addAttr) => {
        const bytes = encodeOtlpProto({ spans });
        const lazy = (decodeOtlpProto(bytes, DEFAULT_LIMITS, { lazy: true }).spans as OtlpWireSpan[]).map((s) => {
          const t = ack ? withChanges(s, { ack: ACK, resource: { attributes: { 'k8s.pod.name': 'p' } } }) : s;
          return addAttr ? withAttributes(t, { 'span_relay.incomplete': 'yes' }) : t;
        });
        expect(lazy.every((s) => s instanceof OtlpWireSpan && s.asArrived)).toBe(true);
        const out = encodeOtlpProto({ spans: lazy });
        const eager = decodeOtlpProto(bytes).spans.map((s) => {
          const t = ack ? withChanges(s, { ack: ACK, resource: { attributes: { 'k8s.pod.name': 'p' } } }) : s;
          return addAttr ? withAttributes(t, { 'span_relay.incomplete': 'yes' }) : t;
        });
        expect(decodeOtlpProto(out).spans).toEqual(decodeOtlpProto(encodeOtlpProto({ spans: eager })).spans);
        // A changed field, moved times or a read span is written field by field again; a trace ID spelt
        // another way for the same bytes (the join's bare 64 bits for a left-padded ID) is not a change.
        const first = lazy[0]!;
        const other = (first.traceId.startsWith('f') ? 'e' : 'f') + first.traceId.slice(1);
        const bare = traceIdTo128(first.traceId).slice(16);
        const changed = [withChanges(first, { name: 'renamed' }), shifted(first, 5n), withChanges(first, { parentSpanId: 'aaaaaaaaaaaaaaaa' }), withChanges(first, { traceId: other }), withChanges(first, { traceId: bare })];
        expect(changed.map((s) => (s as OtlpWireSpan).asArrived)).toEqual([false, false, false, false, traceIdTo128(first.traceId).startsWith('0000000000000000')]);
        expect(decodeOtlpProto(encodeOtlpProto({ spans: changed })).spans.map((s) => [s.traceId, s.name, s.startTimeUnixNano - first.startTimeUnixNano, s.parentSpanId])).toEqual([
          [first.traceId, 'renamed', 0n, first.parentSpanId],
          [first.traceId, first.name, 5n, first.parentSpanId],
          [first.traceId, first.name, 0n, 'aaaaaaaaaaaaaaaa'],
          [other, first.name, 0n, first.parentSpanId],
          [traceIdTo128(bare), first.name, 0n, first.parentSpanId],
        ]);
        // Copied, not written again: a start time changed in the request's bytes after decoding shows in what is written.
        for (const s of lazy as OtlpWireSpan[]) {
          const at = fieldAt(s.wire, s.spanStart, s.spanEnd, (7 << 3) | 1);
          s.wire.writeBigUInt64LE(s.startTimeUnixNano - 1n, at);
        }
        const starts = (ss: Span[], d: bigint) => ss.map((s) => `${traceIdTo128(s.traceId)}/${s.spanId}/${s.startTimeUnixNano + d}`).sort();
        expect(starts(decodeOtlpProto(encodeOtlpProto({ spans: lazy })).spans, 0n)).toEqual(starts(lazy, -1n));
      }),
      { numRuns: RUNS },
    );
  });

  it('are not copied whole when they hold fields OTLP does not define, links, or span-relay internal fields', () => {
    const [span] = fc.sample(spanArb.map((s) => ({ ...s, links: [] })), { numRuns: 1, seed: 5 });
    const plainBytes = encodeOtlpProto({ spans: [span!] });
    // The same request with fields 1002 (span-relay's `shared`), 1003 (64-bit trace ID) and 99 (unknown) added to the span.
    const [lazyPlain] = decodeOtlpProto(plainBytes, DEFAULT_LIMITS, { lazy: true }).spans as OtlpWireSpan[];
    const extra = Buffer.from([0xd0, 0x3e, 0x01, 0xd8, 0x3e, 0x01, 0x98, 0x06, 0x07]);
    const content = Buffer.concat([lazyPlain!.wire.subarray(lazyPlain!.spanStart, lazyPlain!.spanEnd), extra]);
    const spanMsg = Buffer.concat([Buffer.from([0x12]), varint(content.length), content]);
    const scopeSpans = Buffer.concat([Buffer.from([0x12]), varint(spanMsg.length), spanMsg]);
    const request = Buffer.concat([Buffer.from([0x0a]), varint(scopeSpans.length), scopeSpans]);
    const [foreign] = decodeOtlpProto(request, DEFAULT_LIMITS, { lazy: true }).spans as OtlpWireSpan[];
    expect(foreign!.asArrived).toBe(false);
    // The hand-off between workers does not take the sender's word for span-relay's own fields.
    const handedOff = decodeOtlpProto(encodeOtlpProto({ spans: [foreign!] }, true), DEFAULT_LIMITS, { internal: true }).spans[0]!;
    expect([handedOff.shared, handedOff.traceId]).toEqual([undefined, traceIdTo128(span!.traceId)]);
    expect(encodeOtlpProto({ spans: [foreign!] }).indexOf(extra)).toBe(-1);
    // Spans read in internal mode (their bytes may hold span-relay's fields) and spans with links are written field by field.
    expect((decodeOtlpProto(encodeOtlpProto({ spans: [span!] }, true), DEFAULT_LIMITS, { lazy: true, internal: true }).spans[0] as OtlpWireSpan).asArrived).toBe(false);
    const linked = { ...span!, links: [{ traceId: span!.traceId, spanId: span!.spanId, attributes: {} }] };
    expect((decodeOtlpProto(encodeOtlpProto({ spans: [linked] }), DEFAULT_LIMITS, { lazy: true }).spans[0] as OtlpWireSpan).asArrived).toBe(false);
  });

  it('spans of one trace next to each other share its ID string; each still reads its own ID, in either width', () => {
    // Trace IDs from a pool of four: runs of the same ID, the same bytes again after another trace,
    // and a 64-bit ID beside the same ID left-padded (the same 16 bytes on the wire, told apart in the
    // hand-off by span-relay's own field).
    const pool = ['0af7651916cd43dd8448eb211c80319c', '00000000000000004bf92f3577b34da6', 'b7ad6b7169203331', '0000000000000000b7ad6b7169203331'];
    fc.assert(
      fc.property(fc.array(fc.tuple(spanArb, fc.nat(3)), { minLength: 2, maxLength: 12 }), fc.boolean(), fc.boolean(), (pairs, internal, lazy) => {
        const spans = pairs.map(([s, i]) => ({ ...s, traceId: pool[i]! }));
        const read = decodeOtlpProto(encodeOtlpProto({ spans }, internal), DEFAULT_LIMITS, { internal, lazy }).spans;
        const want = (id: string) => (internal ? id : traceIdTo128(id));
        expect(read.map((s) => s.traceId).sort()).toEqual(spans.map((s) => want(s.traceId)).sort());
        const fresh = decodeOtlpProto(encodeOtlpProto({ spans: spans.slice(0, 1) }, internal), DEFAULT_LIMITS, { internal, lazy }).spans;
        expect(fresh[0]!.traceId).toBe(want(spans[0]!.traceId));
      }),
      { numRuns: RUNS },
    );
  });

  it('keep the fields few spans set apart, so a copy changing one leaves the original as it was', () => {
    const [span] = fc.sample(spanArb.map((s) => ({ ...s, links: [], traceState: undefined, droppedAttributesCount: undefined, droppedEventsCount: undefined, droppedLinksCount: undefined })), { numRuns: 1, seed: 7 });
    const [lazy] = decodeOtlpProto(encodeOtlpProto({ spans: [span!] }), DEFAULT_LIMITS, { lazy: true }).spans as OtlpWireSpan[];
    const acked = withChanges(lazy!, { ack: ACK, traceState: 'k=v', shared: true }) as OtlpWireSpan;
    const more = withAttributes(shifted(acked, 7n), { added: 'yes' }) as OtlpWireSpan;
    expect([lazy!.ack, lazy!.traceState, lazy!.shared, lazy!.extraAttributes, lazy!.eventShift]).toEqual([undefined, undefined, undefined, undefined, undefined]);
    expect([acked.ack, acked.traceState, acked.shared, acked.extraAttributes, acked.eventShift]).toEqual([ACK, 'k=v', true, undefined, undefined]);
    expect([more.ack, more.traceState, more.extraAttributes, more.eventShift]).toEqual([ACK, 'k=v', { added: 'yes' }, 7n]);
    // Reading one copy's attributes reads none of the others'.
    expect(more.attributes.added).toBe('yes');
    expect([acked.attributesUnread, lazy!.attributesUnread]).toEqual([true, true]);
    // Set back to undefined, a field is gone, as on a plain span.
    more.ack = undefined;
    expect([more.ack, acked.ack, 'ack' in plain(more)]).toEqual([undefined, ACK, false]);
  });

  it('are read whole when a string in them is not valid UTF-8, so what is written is (U+FFFD, as the eager reader makes it)', () => {
    const base: Span = {
      traceId: '5b8efff798038103d269b633813fc60c', spanId: 'eee19b7ec3c1b174', name: 'name-Q', kind: 'server', startTimeUnixNano: T0, endTimeUnixNano: T0 + 1000n,
      attributes: { 'key-Q': 'x', plain: 'value-Q', list: ['item-Q', 1], nested: { 'inner-Q': 'deep-Q' } },
      events: [{ name: 'event-Q', timeUnixNano: T0 + 10n, attributes: { 'ev-Q': 'evv-Q' } }], links: [], status: { code: 'error', message: 'status-Q' }, traceState: 'k=state-Q', resource: { attributes: {} }, source: 'otlp',
    };
    const body = Buffer.from(encodeOtlpProto({ spans: [base] }));
    const marks = [...body.entries()].filter(([, b]) => b === 0x51).map(([i]) => i); // 'Q'
    expect(marks.length).toBe(11);
    for (const at of marks) {
      const bad = Buffer.from(body);
      bad[at] = 0xff;
      const eager = Buffer.from(encodeOtlpProto(decodeOtlpProto(bad)));
      const lazy = decodeOtlpProto(bad, DEFAULT_LIMITS, { lazy: true }).spans;
      expect(lazy[0] instanceof LazySpan, `byte ${at}`).toBe(false);
      expect(Buffer.from(encodeOtlpProto({ spans: lazy })).equals(eager), `byte ${at}`).toBe(true);
      expect(JSON.stringify(plain(decodeOtlpProto(eager).spans[0]!), (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v)), `byte ${at}`).toContain('\uFFFD');
    }
    // Valid UTF-8 beyond ASCII stays lazy.
    const accented = Buffer.from(encodeOtlpProto({ spans: [{ ...base, name: 'café-Ω' }] }));
    expect(decodeOtlpProto(accented, DEFAULT_LIMITS, { lazy: true }).spans[0] instanceof LazySpan).toBe(true);
  });

  it('keep their request alive, not a copy per span, and say what they hold', () => {
    const spans = fc.sample(spanArb, { numRuns: 20, seed: 11 });
    const bytes = encodeOtlpProto({ spans });
    const lazy = decodeOtlpProto(bytes, DEFAULT_LIMITS, { lazy: true }).spans as OtlpWireSpan[];
    expect(lazy.every((s) => s.wire === lazy[0]!.wire)).toBe(true);
    expect(lazy.reduce((n, s) => n + s.wireSize(), 0)).toBeLessThanOrEqual(bytes.length);
    expect(estimateBytes(lazy[0]!)).toBeLessThan(estimateBytes(plain(lazy[0]!)) + lazy[0]!.wireSize());
  });
});

describe('OTLP span IDs read from the body', () => {
  const hexBuf = (h: string) => Buffer.from(h, 'hex');
  const request = (ids: { traceId?: Buffer; spanId?: Buffer; parentSpanId?: Buffer }[]) =>
    Buffer.from(Request.encode(Request.fromObject({ resourceSpans: [{ scopeSpans: [{ spans: ids.map((i) => ({ ...i, name: 'op', startTimeUnixNano: '1700000000000000000', endTimeUnixNano: '1700000000000000000' })) }] }] })).finish());
  const T = hexBuf('0af7651916cd43dd8448eb211c80319c');
  const S = hexBuf('b7ad6b7169203331');

  it.each([false, true])('refuses absent, short and all-zero IDs with the field named; an all-zero or empty parent is no parent (lazy: %s)', (lazy) => {
    const result = decodeOtlpProto(
      request([
        { traceId: T, spanId: S, parentSpanId: hexBuf('0000000000000000') },
        { traceId: T, spanId: S, parentSpanId: Buffer.alloc(0) },
        { traceId: T, spanId: S, parentSpanId: hexBuf('00f067aa0ba902b7') },
        { traceId: Buffer.alloc(16), spanId: S },
        { traceId: T, spanId: Buffer.alloc(8) },
        { traceId: hexBuf('8448eb211c80319c'), spanId: S },
        { traceId: T },
        { traceId: T, spanId: S, parentSpanId: hexBuf('00f067aa') },
      ]),
      DEFAULT_LIMITS,
      { lazy },
    );
    expect(result.spans.map((s) => [s.traceId, s.spanId, s.parentSpanId])).toEqual([
      ['0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331', undefined],
      ['0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331', undefined],
      ['0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331', '00f067aa0ba902b7'],
    ]);
    expect(result.rejected.map((e) => e.message)).toEqual([
      expect.stringMatching(/spans\[3\]\.traceId.*all zeros/),
      expect.stringMatching(/spans\[4\]\.spanId.*all zeros/),
      expect.stringMatching(/spans\[5\]\.traceId.*expected 16 bytes, got 8/),
      expect.stringMatching(/spans\[6\]\.spanId.*expected 8 bytes, got 0/),
      expect.stringMatching(/spans\[7\]\.parentSpanId.*expected 8 bytes, got 4/),
    ]);
  });
});

describe('OTLP fields around the spans: schema URLs, resource and scope dropped counts, scope attributes, link dropped counts and flags', () => {
  const SCHEMA = 'https://opentelemetry.io/schemas/1.26.0';
  const str = (v: string) => ({ stringValue: v });
  const span = (n: number, over: object = {}) => ({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: `b7ad6b716920333${n}`, name: `op${n}`, kind: 2, startTimeUnixNano: '1700000000000000000', endTimeUnixNano: '1700000000000000001', ...over });
  /** OTLP/JSON (hex IDs), with every one of these fields set; `b64` turns it into what protobufjs's fromObject takes. */
  const jsonRequest = {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: str('web') }], droppedAttributesCount: 2 },
        schemaUrl: SCHEMA,
        scopeSpans: [
          {
            scope: { name: 'emojivoto-web', version: '1.4.2', attributes: [{ key: 'library.lang', value: str('go') }, { key: 'n', value: { intValue: '3' } }], droppedAttributesCount: 1 },
            schemaUrl: SCHEMA,
            spans: [span(1, { links: [{ traceId: 'ff'.repeat(16), spanId: '00000000000000aa', traceState: 'rojo=1', attributes: [{ key: 'link.kind', value: str('follows') }], droppedAttributesCount: 1, flags: 257 }] }), span(2)],
          },
          // The same scope but for its attributes, then but for its schema URL: three ScopeSpans, never merged.
          { scope: { name: 'emojivoto-web', version: '1.4.2', attributes: [{ key: 'library.lang', value: str('js') }], droppedAttributesCount: 1 }, schemaUrl: SCHEMA, spans: [span(3)] },
          { scope: { name: 'emojivoto-web', version: '1.4.2', attributes: [{ key: 'library.lang', value: str('go') }, { key: 'n', value: { intValue: '3' } }], droppedAttributesCount: 1 }, spans: [span(4)] },
          // A schema URL and no scope: a scope of no name.
          { schemaUrl: SCHEMA, spans: [span(5)] },
        ],
      },
      // The same resource attributes without the dropped count and schema URL: a resource of its own.
      { resource: { attributes: [{ key: 'service.name', value: str('web') }] }, scopeSpans: [{ scope: { name: 'voting' }, spans: [span(6)] }] },
    ],
  };
  const hexToB64 = (v: unknown, key: string): unknown => (['traceId', 'spanId'].includes(key) && typeof v === 'string' ? Buffer.from(v, 'hex').toString('base64') : v);
  const b64 = (o: unknown, key = ''): unknown => (Array.isArray(o) ? o.map((x) => b64(x)) : o && typeof o === 'object' ? Object.fromEntries(Object.entries(o).map(([k, v]) => [k, b64(v, k)])) : hexToB64(o, key));
  const protobufBody = () => Buffer.from(Request.encode(Request.fromObject(b64(jsonRequest) as object)).finish());
  const AS_OBJECT = { longs: String, enums: Number, bytes: String, defaults: false } as const;
  const wireObject = (bytes: Uint8Array) => Request.toObject(Request.decode(bytes), AS_OBJECT);

  const check = (spans: Span[]) => {
    const byName = Object.fromEntries(spans.map((s) => [s.name, s]));
    expect(byName.op1!.resource).toEqual({ attributes: { 'service.name': 'web' }, droppedAttributesCount: 2, schemaUrl: SCHEMA });
    expect(byName.op1!.scope).toEqual({ name: 'emojivoto-web', version: '1.4.2', attributes: { 'library.lang': 'go', n: 3 }, droppedAttributesCount: 1, schemaUrl: SCHEMA });
    expect(byName.op1!.links).toEqual([{ traceId: 'ff'.repeat(16), spanId: '00000000000000aa', traceState: 'rojo=1', attributes: { 'link.kind': 'follows' }, droppedAttributesCount: 1, flags: 257 }]);
    expect(byName.op2!.resource).toEqual(byName.op1!.resource);
    expect(byName.op2!.scope).toEqual(byName.op1!.scope);
    expect(byName.op3!.scope).toEqual({ name: 'emojivoto-web', version: '1.4.2', attributes: { 'library.lang': 'js' }, droppedAttributesCount: 1, schemaUrl: SCHEMA });
    expect(byName.op4!.scope).toEqual({ name: 'emojivoto-web', version: '1.4.2', attributes: { 'library.lang': 'go', n: 3 }, droppedAttributesCount: 1 });
    expect(byName.op5!.scope).toEqual({ name: '', schemaUrl: SCHEMA });
    expect(byName.op6!.resource).toEqual({ attributes: { 'service.name': 'web' } });
  };
  /** A decoder's spans: one Resource and one scope object for those that came together (what keeps grouping them cheap). */
  const shared = (spans: Span[]) => {
    expect(new Set(spans.map((s) => s.resource)).size).toBe(2);
    expect(new Set(spans.map((s) => s.scope)).size).toBe(5);
  };

  it('protobuf: read (eagerly and lazily), and written again where protobufjs finds them, in as many ResourceSpans and ScopeSpans', () => {
    const body = protobufBody();
    for (const lazy of [false, true]) {
      const { spans, rejected } = decodeOtlpProto(body, DEFAULT_LIMITS, { lazy });
      expect(rejected).toEqual([]);
      check(spans);
      shared(spans);
      expect(wireObject(encodeOtlpProto({ spans }))).toEqual(wireObject(body));
      // The worker hand-off (span-relay's own fields added) keeps them too.
      check(decodeOtlpProto(encodeOtlpProto({ spans }, true), DEFAULT_LIMITS, { internal: true, lazy }).spans);
    }
    expect(decodeOtlpProto(body)).toEqual(otlpRequestToModel(Request.decode(body) as unknown as OtlpExportRequest, false));
  });

  it('OTLP/JSON: read in camelCase (and the proto names), written by the file exporter\'s encoder and read back the same', () => {
    const { spans, rejected } = decodeOtlpJson(JSON.stringify(jsonRequest));
    expect(rejected).toEqual([]);
    check(spans);
    shared(spans);
    expect(spans.map(plain)).toEqual(decodeOtlpProto(protobufBody()).spans.map(plain));
    // Written as it came (the spans themselves with their defaults spelt out), and read back the same.
    const written = JSON.parse(JSON.stringify(modelToOtlpJson({ spans }))) as typeof jsonRequest;
    type Groups = { resourceSpans: { scopeSpans: { spans: { name: string; links?: unknown[] }[] }[] }[] };
    const around = (req: Groups) => ({ ...req, resourceSpans: req.resourceSpans.map((rs) => ({ ...rs, scopeSpans: rs.scopeSpans.map((ss) => ({ ...ss, spans: ss.spans.map((x) => [x.name, x.links ?? []]) })) })) });
    expect(around(written)).toEqual(around(jsonRequest));
    expect(decodeOtlpJson(JSON.stringify(written)).spans).toEqual(spans);
    const snake = JSON.stringify(jsonRequest).replaceAll('"schemaUrl"', '"schema_url"').replaceAll('"droppedAttributesCount"', '"dropped_attributes_count"');
    expect(decodeOtlpJson(snake).spans).toEqual(spans);
  });

  it('spans whose scopes differ in attributes or schema URL alone, or resources in dropped count or schema URL alone, leave in groups of their own; alike ones share one', () => {
    const base = decodeOtlpProto(protobufBody()).spans.find((s) => s.name === 'op2')!;
    const go = { name: 'lib', version: '1', attributes: { lang: 'go' } };
    const variants: Span[] = [
      { ...base, spanId: '0000000000000001', scope: go },
      // Alike in content, other objects: the same group.
      { ...base, spanId: '0000000000000002', scope: { ...go, attributes: { lang: 'go' } }, resource: { ...base.resource, attributes: { ...base.resource.attributes } } },
      { ...base, spanId: '0000000000000003', scope: { ...go, attributes: { lang: 'js' } } },
      { ...base, spanId: '0000000000000004', scope: { ...go, schemaUrl: SCHEMA } },
      { ...base, spanId: '0000000000000005', scope: { ...go, droppedAttributesCount: 4 } },
      { ...base, spanId: '0000000000000006', scope: go, resource: { ...base.resource, schemaUrl: 'https://example.com/other' } },
      { ...base, spanId: '0000000000000007', scope: go, resource: { ...base.resource, droppedAttributesCount: undefined } },
      { ...base, spanId: '0000000000000008', scope: go },
    ];
    type Groups = { resourceSpans: { scopeSpans: { spans: { spanId: string }[] }[] }[] };
    const shape = (req: Groups, hex: (id: string) => string) => req.resourceSpans.map((rs) => rs.scopeSpans.map((ss) => ss.spans.map((x) => hex(x.spanId).slice(-1))));
    const want = [[['1', '2', '8'], ['3'], ['4'], ['5']], [['6']], [['7']]];
    expect(shape(wireObject(encodeOtlpProto({ spans: variants })) as Groups, (id) => Buffer.from(id, 'base64').toString('hex'))).toEqual(want);
    expect(shape(modelToOtlpJson({ spans: variants }) as Groups, (id) => id)).toEqual(want);
    const back = decodeOtlpProto(encodeOtlpProto({ spans: variants })).spans;
    expect(byId(back).map((s) => [s.scope, s.resource])).toEqual(byId(variants).map((s) => [s.scope, s.resource]));
  });

  it('a scope\'s attributes count against the per-span attribute limit; one over it costs its own spans, named, and no others', () => {
    const limits = { ...DEFAULT_LIMITS, maxAttributesPerSpan: 1 };
    const field = /resourceSpans\[0\]\.scopeSpans\[0\]\.scope\.attributes.*max_attributes_per_span/;
    for (const lazy of [false, true]) {
      const result = decodeOtlpProto(protobufBody(), limits, { lazy });
      expect(result.spans.map((s) => s.name).sort()).toEqual(['op3', 'op5', 'op6']);
      expect(result.rejected.map((e) => e.message)).toEqual([expect.stringMatching(field), expect.stringMatching(field), expect.stringMatching(/scopeSpans\[2\]\.scope\.attributes/)]);
    }
    const json = decodeOtlpJson(JSON.stringify(jsonRequest), limits);
    expect(json.spans.map((s) => s.name).sort()).toEqual(['op3', 'op5', 'op6']);
    expect(json.rejected.map((e) => e.message)).toEqual([expect.stringMatching(field), expect.stringMatching(/scopeSpans\[2\]\.scope\.attributes/)]);
    // Nesting too deep in a scope attribute: refused as a resource's is, in the protobuf reader each
    // span of the scope, in the JSON reader's structure check the ScopeSpans once.
    const deep = structuredClone(jsonRequest);
    (deep.resourceSpans[0]!.scopeSpans[0]!.scope as { attributes: object[] }).attributes.push({ key: 'nested', value: { kvlistValue: { values: [{ key: 'x', value: { arrayValue: { values: [str('y')] } } }] } } });
    const depth = { ...DEFAULT_LIMITS, maxValueDepth: 1 };
    const tooDeep = /resourceSpans\[0\]\.scopeSpans\[0\]\.scope\.attributes.*max_value_depth/;
    expect(decodeOtlpJson(JSON.stringify(deep), depth).rejected.map((e) => e.message)).toEqual([expect.stringMatching(tooDeep)]);
    const deepBody = Buffer.from(Request.encode(Request.fromObject(b64(deep) as object)).finish());
    expect(decodeOtlpProto(deepBody, depth).rejected.map((e) => e.message)).toEqual([expect.stringMatching(tooDeep), expect.stringMatching(tooDeep)]);
    expect(decodeOtlpProto(protobufBody(), depth).rejected).toEqual([]);
  });

  it('OTLP/JSON: a field of the wrong type is refused with its path', () => {
    const link = (r: typeof jsonRequest) => (r.resourceSpans[0]!.scopeSpans[0]!.spans[0] as unknown as { links: Record<string, unknown>[] }).links[0]!;
    const cases: [(r: typeof jsonRequest) => void, RegExp][] = [
      [(r) => void ((r.resourceSpans[0] as Record<string, unknown>).schemaUrl = 5), /resourceSpans\[0\]\.schemaUrl.*expected a string/],
      [(r) => void ((r.resourceSpans[0]!.resource as Record<string, unknown>).droppedAttributesCount = '2'), /resourceSpans\[0\]\.resource\.droppedAttributesCount.*expected a number/],
      [(r) => void ((r.resourceSpans[0]!.scopeSpans[0] as Record<string, unknown>).schemaUrl = true), /resourceSpans\[0\]\.scopeSpans\[0\]\.schemaUrl.*expected a string/],
      [(r) => void ((r.resourceSpans[0]!.scopeSpans[0]!.scope as Record<string, unknown>).attributes = 'x'), /resourceSpans\[0\]\.scopeSpans\[0\]\.scope\.attributes.*expected an array/],
      [(r) => void ((r.resourceSpans[0]!.scopeSpans[0]!.scope as Record<string, unknown>).droppedAttributesCount = {}), /resourceSpans\[0\]\.scopeSpans\[0\]\.scope\.droppedAttributesCount.*expected a number/],
      [(r) => void (link(r).flags = '257'), /resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[0\]\.links\[0\]\.flags.*expected a number/],
      [(r) => void (link(r).droppedAttributesCount = []), /spans\[0\]\.links\[0\]\.droppedAttributesCount.*expected a number/],
    ];
    for (const [hurt, message] of cases) {
      const r = structuredClone(jsonRequest);
      hurt(r);
      const result = decodeOtlpJson(JSON.stringify(r));
      expect(result.rejected.map((e) => e.message)).toEqual([expect.stringMatching(message)]);
      expect(result.spans.length).toBeGreaterThan(0);
    }
  });

  it('kept by the stages that copy spans: the resource processor, the join\'s copies, the log and the queue on disk', async () => {
    for (const lazy of [false, true]) {
      const spans = decodeOtlpProto(protobufBody(), DEFAULT_LIMITS, { lazy }).spans;
      check(decodeSpans(encodeSpans(spans)));
      check(spans.map((s) => withAttributes(withChanges(s, { ack: ACK }), { added: 1 })));
      let out: Span[] = [];
      const processor = new ResourceProcessor([{ key: 'k8s.pod.name', action: 'upsert', value: 'p' }]);
      await processor.start({ consume: async (b) => void (out = b.spans) });
      await processor.consume({ spans });
      expect(out.map((s) => s.resource)).toEqual(spans.map((s) => ({ ...s.resource, attributes: { ...s.resource.attributes, 'k8s.pod.name': 'p' } })));
    }
  });
});
