/**
 * Property-based fuzzing of every decoder: valid encodings of generated spans, then mutated
 * (bytes flipped, cut, repeated, spliced; JSON values swapped for other JSON). Whatever the input,
 * a decoder returns spans and per-span refusals, or throws its typed DecodeError: never another
 * exception (which a receiver would answer with 500), never a hang.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '../src/model/errors.js';
import type { Span } from '../src/model/span.js';
import { decodeOtlpJson, decodeOtlpProto } from '../src/protocol/otlp/decode.js';
import { modelToOtlpJson } from '../src/protocol/otlp/encode.js';
import { encodeOtlpProto } from '../src/protocol/otlp/encode.js';
import { decodeZipkinProto, decodeZipkinV1Json, decodeZipkinV1Thrift, decodeZipkinV2Json } from '../src/protocol/zipkin/decode.js';
import { modelToZipkinV2 } from '../src/protocol/zipkin/encode.js';
import { decodeJaegerThriftBatch } from '../src/protocol/jaeger/decode.js';
import { decodeJaegerPostSpans } from '../src/protocol/jaeger/decode-proto.js';
import { decodeAgentDatagram } from '../src/receivers/jaeger/agent.js';
import { encodeJaegerThriftBatch } from '../src/protocol/jaeger/encode.js';
import { encodePostSpansRequest } from '../src/protocol/jaeger/encode-proto.js';
import { toJaegerBatches } from '../src/protocol/jaeger/model.js';
import { decodeOcRequest, ocRequestToModel, ocResourceAttributes } from '../src/protocol/opencensus/decode.js';
import { modelToOcRequests } from '../src/protocol/opencensus/encode.js';
import { protoType } from '../src/protocol/proto.js';
import { mutate } from './helpers/mutate.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 150);
const T0 = 1_700_000_000_000_000_000n;

const hex = (n: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`)).filter((h) => !/^0+$/.test(h));
const attrValue = fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.boolean(), fc.double({ noNaN: true, noDefaultInfinity: true }));

const spanArb: fc.Arbitrary<Span> = fc
  .record({
    traceId: hex(32),
    spanId: hex(16),
    parent: fc.option(hex(16), { nil: undefined }),
    name: fc.string({ maxLength: 30 }),
    kind: fc.constantFrom('unspecified', 'internal', 'server', 'client', 'producer', 'consumer' as const),
    start: fc.bigInt({ min: 0n, max: 10n ** 15n }),
    dur: fc.bigInt({ min: 0n, max: 10n ** 12n }),
    attributes: fc.dictionary(fc.string({ minLength: 1, maxLength: 10 }), attrValue, { maxKeys: 5 }),
    service: fc.string({ minLength: 1, maxLength: 10 }),
    events: fc.array(fc.record({ name: fc.string({ maxLength: 10 }), at: fc.bigInt({ min: 0n, max: 10n ** 12n }) }), { maxLength: 3 }),
    error: fc.boolean(),
  })
  .map((r) => ({
    traceId: r.traceId,
    spanId: r.spanId,
    ...(r.parent ? { parentSpanId: r.parent } : {}),
    name: r.name,
    kind: r.kind,
    startTimeUnixNano: T0 + r.start,
    endTimeUnixNano: T0 + r.start + r.dur,
    attributes: r.attributes,
    events: r.events.map((e) => ({ name: e.name, timeUnixNano: T0 + r.start + e.at, attributes: {} })),
    links: [],
    status: r.error ? { code: 'error' as const, message: 'boom' } : { code: 'unset' as const },
    resource: { attributes: { 'service.name': r.service } },
    source: 'otlp' as const,
  }));
const spansArb = fc.array(spanArb, { minLength: 1, maxLength: 6 });

/** JSON-level mutations: a value somewhere replaced by any other JSON (deep nesting included). */
function mutateJson(doc: unknown): fc.Arbitrary<string> {
  const paths: (string | number)[][] = [];
  const walk = (v: unknown, p: (string | number)[]): void => {
    paths.push(p);
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...p, i]));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...p, k]);
  };
  walk(doc, []);
  // Deep nesting is spliced in as text: JSON.stringify itself would overflow on it.
  const deep = fc.integer({ min: 1, max: 20_000 }).map((d) => ({ __deep__: d }));
  const replacement = fc.oneof(fc.jsonValue({ maxDepth: 4 }), deep, fc.constantFrom('x', true, null, -1, 1e308, '99999999999999999999999', []));
  return fc.tuple(fc.constantFrom(...paths), replacement).map(([path, value]) => {
    const copy = JSON.parse(JSON.stringify(doc)) as unknown;
    let text: string;
    if (path.length === 0) text = JSON.stringify(value);
    else {
      let at = copy as Record<string | number, unknown>;
      for (const k of path.slice(0, -1)) at = at[k] as Record<string | number, unknown>;
      at[path.at(-1)!] = value;
      text = JSON.stringify(copy);
    }
    return text.replace(/\{"__deep__":(\d+)\}/, (_m, d: string) => '['.repeat(Number(d)) + ']'.repeat(Number(d)));
  });
}

function survives(decode: () => unknown): void {
  try {
    const r = decode() as { spans: unknown[]; rejected: unknown[] };
    expect(Array.isArray(r.spans) && Array.isArray(r.rejected)).toBe(true);
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err;
  }
}

const json = (o: unknown) => JSON.stringify(o, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));

describe('fuzz: every decoder returns or throws DecodeError, whatever it is fed', () => {
  it('OTLP protobuf', () => {
    fc.assert(fc.property(spansArb.chain((spans) => mutate(encodeOtlpProto({ spans }))), (body) => survives(() => decodeOtlpProto(body))), { numRuns: RUNS });
  });
  it('OTLP/JSON', () => {
    fc.assert(fc.property(spansArb.chain((spans) => mutateJson(JSON.parse(json(modelToOtlpJson({ spans }))))), (body) => survives(() => decodeOtlpJson(body))), { numRuns: RUNS });
  });
  it('OTLP/JSON, bytes', () => {
    fc.assert(fc.property(spansArb.chain((spans) => mutate(Buffer.from(json(modelToOtlpJson({ spans }))))), (body) => survives(() => decodeOtlpJson(body))), { numRuns: RUNS });
  });
  it('Zipkin v2 JSON and v1 JSON', () => {
    fc.assert(
      fc.property(spansArb.chain((spans) => mutateJson(modelToZipkinV2(spans))), (body) => {
        survives(() => decodeZipkinV2Json(body));
        survives(() => decodeZipkinV1Json(body));
      }),
      { numRuns: RUNS },
    );
  });
  it('Zipkin proto3', () => {
    const type = protoType('zipkin', 'zipkin.proto3.ListOfSpans');
    const encode = (spans: Span[]) =>
      type
        .encode({
          spans: spans.map((s) => ({ traceId: Buffer.from(s.traceId, 'hex'), id: Buffer.from(s.spanId, 'hex'), kind: 2, name: s.name, timestamp: Number(s.startTimeUnixNano / 1000n), duration: 5, tags: { a: 'b' }, annotations: [{ timestamp: Number(s.startTimeUnixNano / 1000n), value: 'x' }] })),
        })
        .finish();
    fc.assert(fc.property(spansArb.chain((spans) => mutate(encode(spans))), (body) => survives(() => decodeZipkinProto(body))), { numRuns: RUNS });
  });
  it('Zipkin v1 Thrift (also its bytes as a Jaeger agent emitZipkinBatch)', () => {
    // A valid v1 Thrift list to start from: one span, as py_zipkin writes it.
    const span = Buffer.from(
      '0c00000001' + '0a0001' + '4ed11df465275600' + '0b0003' + '00000003' + '676574' + '0a0004' + '0000000000000001' + '0f00060c00000001' + '0a0001' + '00060a8ad4c1d000' + '0b0002' + '000000027372' + '00' + '0f00080c00000000' + '00',
      'hex',
    );
    fc.assert(fc.property(mutate(span), (body) => survives(() => decodeZipkinV1Thrift(body))), { numRuns: RUNS });
  });
  it('Jaeger Thrift (HTTP), agent UDP binary and compact', () => {
    fc.assert(
      fc.property(spansArb.chain((spans) => mutate(encodeJaegerThriftBatch(toJaegerBatches({ spans })[0]!))), (body) => {
        survives(() => decodeJaegerThriftBatch(body));
        survives(() => decodeAgentDatagram('thrift_binary', body));
        survives(() => decodeAgentDatagram('thrift_compact', body));
      }),
      { numRuns: RUNS },
    );
  });
  it('Jaeger gRPC (api_v2)', () => {
    fc.assert(fc.property(spansArb.chain((spans) => mutate(encodePostSpansRequest(toJaegerBatches({ spans })[0]!))), (body) => survives(() => decodeJaegerPostSpans(body))), { numRuns: RUNS });
  });
  it('OpenCensus agent Export message', () => {
    fc.assert(
      fc.property(spansArb.chain((spans) => mutate(modelToOcRequests(spans)[0]!.bytes)), (body) =>
        survives(() => {
          const req = decodeOcRequest(body);
          return ocRequestToModel(req.spans, ocResourceAttributes(req.node, req.resource));
        }),
      ),
      { numRuns: RUNS },
    );
  });
});
