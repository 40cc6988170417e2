/**
 * Jaeger decoding on the testbed's requests (100 spans of mesh traffic under their first span's
 * process, as bench/loadgen.ts sends them), in one process, median of 5 after a warm-up:
 * - api_v2 protobuf (the gRPC receiver): span-relay's hand-written reader beside the protobufjs
 *   decoder it replaced (collector/test/helpers/jaeger-protobufjs.ts), both through tsx so that the
 *   ratio compares code with code; and the hand-written one compiled, as production runs it;
 * - Thrift (the thrift_http receiver), compiled.
 *   node --import tsx bench/jaeger-decode.ts
 */
import { decodeZipkinV2Json } from '../collector/src/protocol/zipkin/decode.js';
import { toJaegerBatches, type JaegerBatch } from '../collector/src/protocol/jaeger/model.js';
import { encodePostSpansRequest } from '../collector/src/protocol/jaeger/encode-proto.js';
import { encodeJaegerThriftBatch } from '../collector/src/protocol/jaeger/encode.js';
import { decodeJaegerPostSpans } from '../collector/src/protocol/jaeger/decode-proto.js';
import type { Span } from '../collector/src/model/span.js';
import { decodeJaegerPostSpansProtobufjs } from '../collector/test/helpers/jaeger-protobufjs.js';
import { collectorModule } from './compiled.js';
import { median } from './median.js';
import { zipkinBodies } from './zipkin-to-otlp.js';

/** One Jaeger Batch of all the request's spans, under the first one's process (bench/loadgen.ts's requests). */
function oneBatch(spans: Span[]): JaegerBatch {
  const batches = toJaegerBatches({ spans });
  return { process: batches[0]!.process, spans: batches.flatMap((b) => b.spans) };
}

/** Spans per second of CPU time (not wall time: the machine is shared) of `decode` over `bodies`. */
function rate(bodies: Buffer[], decode: (b: Buffer) => { spans: unknown[] }): number {
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  const pass = (seconds: number) => {
    let spans = 0;
    const c0 = cpu();
    while (cpu() - c0 < seconds) for (const b of bodies) spans += decode(b).spans.length;
    return spans / (cpu() - c0);
  };
  pass(1);
  return median(Array.from({ length: 5 }, () => pass(0.5)));
}

export interface JaegerDecodeFigures {
  proto: { protobufjs: number; hand: number; handCompiled: number };
  thrift: number;
}

export async function jaegerDecodeBench(requests: number, per = 100): Promise<JaegerDecodeFigures> {
  const compiledProto = await collectorModule<typeof import('../collector/src/protocol/jaeger/decode-proto.js')>('protocol/jaeger/decode-proto');
  const compiledThrift = await collectorModule<typeof import('../collector/src/protocol/jaeger/decode.js')>('protocol/jaeger/decode');
  const batches = zipkinBodies(requests, per).map((b) => oneBatch(decodeZipkinV2Json(b).spans));
  const proto = batches.map((b) => Buffer.from(encodePostSpansRequest(b)));
  const thrift = batches.map((b) => Buffer.from(encodeJaegerThriftBatch(b)));
  return {
    proto: {
      protobufjs: rate(proto, decodeJaegerPostSpansProtobufjs),
      hand: rate(proto, decodeJaegerPostSpans),
      handCompiled: rate(proto, compiledProto.decodeJaegerPostSpans),
    },
    thrift: rate(thrift, compiledThrift.decodeJaegerThriftBatch),
  };
}

/** What the bench prints of it. */
export function jaegerDecodeLines(f: JaegerDecodeFigures): string[] {
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  return [
    'jaeger decoding, requests of 100 mesh spans (spans per second of CPU, median of 5)',
    `  api_v2 protobuf, through tsx: protobufjs ${fmt(f.proto.protobufjs)}, hand-written ${fmt(f.proto.hand)}   ratio ${(f.proto.hand / f.proto.protobufjs).toFixed(2)}`,
    `  api_v2 protobuf, hand-written, compiled: ${fmt(f.proto.handCompiled)}`,
    `  Thrift (thrift_http), compiled: ${fmt(f.thrift)}`,
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const line of jaegerDecodeLines(await jaegerDecodeBench(Number(process.env.BENCH_BODIES ?? 200)))) console.log(line);
}
