/**
 * Zipkin v2 JSON in → OTLP protobuf out: the collector's main hot path, measured beside a floor
 * (JSON.parse of the same bodies + OTLP encoding of the same spans, the work no implementation can
 * skip), in-process and through real sockets.
 */
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { decodeZipkinV2Json } from '../collector/src/protocol/zipkin/decode.js';
import { encodeOtlpProto } from '../collector/src/protocol/otlp/encode.js';
import { Collector } from '../collector/src/pipeline.js';
import { builtinComponents } from '../collector/src/components.js';
import { parseConfig } from '../collector/src/config/load.js';
import { Telemetry } from '../collector/src/telemetry/telemetry.js';
import type { OtlpReceiver } from '../collector/src/receivers/otlp/index.js';
import type { SpanBatch } from '../collector/src/model/span.js';
import { median } from './median.js';

export interface Figure {
  name: string;
  spansPerSecond: number;
}

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');

/** Realistic mesh spans: traces of 8 nested spans, ingress/web/voting names, HTTP tags, endpoints, a couple of annotations. */
export function zipkinBodies(bodies: number, spansPerBody: number, firstBody = 0): string[] {
  const out: string[] = [];
  // Body k of a longer run starts where the bodies before it left off.
  let id = firstBody * spansPerBody + 1;
  for (let b = 0; b < bodies; b++) {
    const spans = [];
    for (let i = 0; i < spansPerBody; i++, id++) {
      const ts = 1_700_000_000_000_000 + id * 13;
      // Where the span sits in its trace (IDs 1-8 are trace 1, 9-16 trace 2, ...), whatever the
      // request it is sent in: a trace's spans may arrive in two requests, as a mesh's do. (Until
      // 2026-12-04 the root was every 8th span of a request while the trace was every 8 IDs, so
      // with 100 spans a request each trace's first span named the previous trace's last as its
      // parent: every trace had an orphan, and the testbed charged the join's broken-trace path.)
      const at = (id - 1) % 8;
      spans.push({
        traceId: hex(Math.floor((id - 1) / 8) + 1, 32),
        id: hex(id, 16),
        parentId: at === 0 ? undefined : hex(id - 1, 16),
        kind: at % 2 ? 'CLIENT' : 'SERVER',
        name: i % 3 ? 'post /api/vote' : 'emojivoto.v1.votingservice/votedoughnut',
        timestamp: ts,
        // Each span 13 µs after its parent and 100 µs shorter: inside it, as a mesh's spans are (the
        // join corrects clock skew only where a child leaves its parent).
        duration: 2000 - at * 100,
        localEndpoint: { serviceName: at % 2 ? 'web' : 'voting-svc', ipv4: '10.42.0.17', port: 8080 },
        remoteEndpoint: { serviceName: 'voting-svc', ipv4: '10.42.0.18', port: 8080 },
        annotations: [
          { timestamp: ts + 10, value: 'wire send' },
          { timestamp: ts + 900, value: 'wire recv' },
        ],
        tags: { 'http.method': 'POST', 'http.path': '/api/vote', 'http.status_code': '200', 'node_id': 'web-6d5b7b8c9-abcde', component: 'nginx' },
      });
    }
    out.push(JSON.stringify(spans));
  }
  return out;
}

function timeIt(rounds: number, spans: number, fn: () => void): number {
  const t0 = process.hrtime.bigint();
  for (let r = 0; r < rounds; r++) fn();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return (rounds * spans) / seconds;
}

export function inProcess(bodies: string[], spansPerBody: number): { floor: number; relay: number } {
  const buffers = bodies.map((b) => Buffer.from(b));
  const decoded: SpanBatch[] = buffers.map((b) => ({ spans: decodeZipkinV2Json(b).spans }));
  const total = bodies.length * spansPerBody;
  const floor = () => {
    for (let i = 0; i < buffers.length; i++) {
      JSON.parse(buffers[i]!.toString('utf8'));
      encodeOtlpProto(decoded[i]!);
    }
  };
  const relay = () => {
    for (const b of buffers) encodeOtlpProto({ spans: decodeZipkinV2Json(b).spans });
  };
  floor();
  relay(); // warm up both
  const f: number[] = [];
  const r: number[] = [];
  for (let i = 0; i < 5; i++) {
    f.push(timeIt(1, total, floor));
    r.push(timeIt(1, total, relay));
  }
  return { floor: median(f), relay: median(r) };
}

/** Through the sockets: HTTP POSTs into the Zipkin receiver, OTLP gRPC out to a counting backend. */
export async function endToEnd(bodies: string[], spansPerBody: number, concurrency = 8): Promise<number> {
  const sink = new grpc.Server();
  sink.addService(
    { Export: { path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export', requestStream: false, responseStream: false, requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b } },
    {
      // A null backend: accepts without decoding; the relay's own counter says what was sent.
      Export: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.alloc(0)),
    },
  );
  const port = await new Promise<number>((res, rej) => sink.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  const telemetry = new Telemetry({ logger: pino({ level: 'silent' }) });
  const config = parseConfig(
    `receivers:
  zipkin:
    endpoint: 127.0.0.1:0
processors:
  batch:
    timeout: 50ms
exporters:
  otlp:
    endpoint: 127.0.0.1:${port}
    tls: { insecure: true }
    compression: none
service:
  pipelines:
    traces:
      receivers: [zipkin]
      processors: [batch]
      exporters: [otlp]
`,
    builtinComponents,
    {},
  );
  const collector = new Collector(config, { telemetry, adminEndpoint: false });
  await collector.start();
  const url = `http://${(collector.receivers.get('zipkin') as unknown as OtlpReceiver & { address(): string }).address()}/api/v2/spans`;
  const total = bodies.length * spansPerBody;
  const t0 = process.hrtime.bigint();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++]!;
        const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
        if (res.status !== 202) throw new Error(`relay answered ${res.status}`);
      }
    }),
  );
  await collector.shutdown(); // flushes: every span has been exported when this returns
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const sent = Number((await telemetry.registry.getSingleMetric('span_relay_exporter_sent_spans_total')!.get()).values.reduce((n, v) => n + v.value, 0));
  if (sent !== total) throw new Error(`exported ${sent} of ${total} spans`);
  await new Promise<void>((r) => sink.tryShutdown(() => r()));
  return total / seconds;
}
