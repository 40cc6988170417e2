/**
 * OTLP protobuf, decode and encode: span-relay's hand-written codec (compiled, as production runs
 * it) beside protobufjs (reflection decode into message objects, then the object → model step;
 * model → message objects, then protobufjs encode), on the same requests of mesh spans, in one
 * process.
 */
import { decodeZipkinV2Json } from '../collector/src/protocol/zipkin/decode.js';
import { otlpRequestToModel, type OtlpExportRequest } from '../collector/src/protocol/otlp/decode.js';
import { protoType } from '../collector/src/protocol/proto.js';
import type { AttributeValue, Attributes, Span } from '../collector/src/model/span.js';
import { traceIdTo128 } from '../collector/src/model/ids.js';
import { bigIntToLong } from '../collector/src/model/time.js';
import { DEFAULT_LIMITS } from '../collector/src/model/limits.js';
import { zipkinBodies } from './zipkin-to-otlp.js';
import { settledHeapUsed } from './heap.js';
import { collectorModule } from './compiled.js';
import { median } from './median.js';

// The codec as production runs it, compiled (see compiled.ts).
const { decodeOtlpProto } = await collectorModule<typeof import('../collector/src/protocol/otlp/decode.js')>('protocol/otlp/decode');
const { encodeOtlpProto } = await collectorModule<typeof import('../collector/src/protocol/otlp/encode.js')>('protocol/otlp/encode');

const KIND = { unspecified: 0, internal: 1, server: 2, client: 3, producer: 4, consumer: 5 } as const;
const value = (v: AttributeValue): Record<string, unknown> =>
  typeof v === 'string' ? { stringValue: v } : typeof v === 'number' ? (Number.isInteger(v) ? { intValue: v } : { doubleValue: v }) : typeof v === 'boolean' ? { boolValue: v } : { stringValue: String(v) };
const kvs = (a: Attributes) => Object.keys(a).map((key) => ({ key, value: value(a[key]!) }));

/** The protobufjs way of writing a request: message objects first (as the OTel JS exporters do). */
function protobufjsRequest(spans: Span[]): Record<string, unknown> {
  const byService = new Map<Attributes, Span[]>();
  for (const s of spans) byService.set(s.resource.attributes, [...(byService.get(s.resource.attributes) ?? []), s]);
  return {
    resourceSpans: [...byService].map(([resource, ss]) => ({
      resource: { attributes: kvs(resource) },
      scopeSpans: [{ spans: ss.map((s) => ({ traceId: Buffer.from(traceIdTo128(s.traceId), 'hex'), spanId: Buffer.from(s.spanId, 'hex'), ...(s.parentSpanId ? { parentSpanId: Buffer.from(s.parentSpanId, 'hex') } : {}), name: s.name, kind: KIND[s.kind], startTimeUnixNano: bigIntToLong(s.startTimeUnixNano), endTimeUnixNano: bigIntToLong(s.endTimeUnixNano), attributes: kvs(s.attributes), events: s.events.map((e) => ({ timeUnixNano: bigIntToLong(e.timeUnixNano), name: e.name, attributes: kvs(e.attributes) })), status: {} })) }],
    })),
  };
}

function rate(spans: number, fn: () => void): number {
  fn();
  const xs: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    xs.push(spans / (Number(process.hrtime.bigint() - t0) / 1e9));
  }
  return median(xs);
}

export interface OtlpCodecFigures {
  decode: { protobufjs: number; hand: number; lazy: number };
  encode: { protobufjs: number; hand: number };
  /** Decode and encode again, every span: read whole, or lazy (attributes and events copied as bytes). */
  relay: { hand: number; lazy: number };
}

export function otlpCodecBench(requests: number, per: number): OtlpCodecFigures {
  const Request = protoType('otlp', 'opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
  const batches = zipkinBodies(requests, per).map((b) => decodeZipkinV2Json(b).spans);
  const bodies = batches.map((spans) => encodeOtlpProto({ spans }));
  const total = requests * per;
  return {
    decode: {
      protobufjs: rate(total, () => bodies.forEach((b) => otlpRequestToModel(Request.decode(b) as unknown as OtlpExportRequest, false))),
      hand: rate(total, () => bodies.forEach((b) => decodeOtlpProto(b))),
      lazy: rate(total, () => bodies.forEach((b) => decodeOtlpProto(b, DEFAULT_LIMITS, { lazy: true }))),
    },
    encode: {
      protobufjs: rate(total, () => batches.forEach((spans) => Request.encode(protobufjsRequest(spans)).finish())),
      hand: rate(total, () => batches.forEach((spans) => encodeOtlpProto({ spans }))),
    },
    relay: {
      hand: rate(total, () => bodies.forEach((b) => encodeOtlpProto(decodeOtlpProto(b)))),
      lazy: rate(total, () => bodies.forEach((b) => encodeOtlpProto(decodeOtlpProto(b, DEFAULT_LIMITS, { lazy: true })))),
    },
  };
}

/**
 * Memory per span of decoded OTLP requests kept alive (needs --expose-gc): what the join window holds
 * per span, before its own overhead. Read whole: objects on the heap; lazy: a smaller object on
 * the heap and the request's bytes it keeps alive (the bodies are made here, so they count).
 */
export async function heapPerDecodedSpan(requests: number, per: number, lazy = false): Promise<number | undefined> {
  const encoded = zipkinBodies(requests, per).map((b) => encodeOtlpProto({ spans: decodeZipkinV2Json(b).spans }));
  decodeOtlpProto(encoded[0]!, DEFAULT_LIMITS, { lazy }); // the reader's string table and the code, not counted
  const before = await settledHeapUsed();
  if (before === undefined) return undefined;
  const externalBefore = process.memoryUsage().arrayBuffers;
  // Each body in a buffer of its own, as a receiver gets it.
  const kept = encoded.map((b) => decodeOtlpProto(Buffer.from(b), DEFAULT_LIMITS, { lazy }).spans);
  const heap = (await settledHeapUsed())! - before;
  const external = process.memoryUsage().arrayBuffers - externalBefore;
  return kept.length > 0 ? (heap + (lazy ? external : 0)) / (requests * per) : undefined;
}
