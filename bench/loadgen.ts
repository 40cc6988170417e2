/**
 * The testbed's load generator, in its own process (as the OpenTelemetry Collector's testbed runs
 * it): a steady rate of requests of N spans over one protocol, encoded before the clock starts.
 *   node --import tsx bench/loadgen.ts <zipkin|otlp-grpc|otlp-http|opencensus|jaeger-thrift|jaeger-grpc> <host:port> <spans/s> <seconds> <spans per request> [gRPC connections, default 1]
 * Jaeger requests carry all of a request's spans in one Batch under its first span's process (Jaeger's
 * Batch has one process), so that a request is N spans in every protocol.
 * An OpenCensus stream whose buffer is full (the collector reads no faster) holds the next request
 * back, so a collector that cannot keep up puts the generator behind schedule.
 * A run of up to PRE_ENCODED requests is encoded before the clock starts; a longer one (the 10-minute
 * RSS run) encodes each request as it is due, since 60,000 encoded requests do not fit in its heap.
 * Prints {"started": true} once its bodies are encoded, then at the end one JSON line:
 * {"sent": spans, "refused": requests, "lagMs": worst lateness, "endLagMs": lateness of the last request}.
 */
import * as grpc from '@grpc/grpc-js';
import { Agent, request } from 'node:http';
import { decodeZipkinV2Json } from '../collector/src/protocol/zipkin/decode.js';
import { modelToZipkinV2 } from '../collector/src/protocol/zipkin/encode.js';
import { encodeOtlpProto } from '../collector/src/protocol/otlp/encode.js';
import { modelToOcRequests } from '../collector/src/protocol/opencensus/encode.js';
import { toJaegerBatches, type JaegerBatch } from '../collector/src/protocol/jaeger/model.js';
import { encodeJaegerThriftBatch } from '../collector/src/protocol/jaeger/encode.js';
import { encodePostSpansRequest } from '../collector/src/protocol/jaeger/encode-proto.js';
import type { Span } from '../collector/src/model/span.js';
import { passThrough } from '../collector/src/net/grpc-server.js';
import { zipkinBodies } from './zipkin-to-otlp.js';

const [protocol, target, rateArg, secondsArg, perArg, connectionsArg] = process.argv.slice(2);
const rate = Number(rateArg);
const seconds = Number(secondsArg);
const per = Number(perArg);
const requests = Math.round((rate / per) * seconds);
/** Two minutes at 10,000 spans/s in requests of 100. */
const PRE_ENCODED = 12_000;
const spansOf = (i: number): Span[] => decodeZipkinV2Json(zipkinBodies(1, per, i)[0]!).spans;

/**
 * Request i's payload: all made before the clock starts for a run of up to PRE_ENCODED requests,
 * else each made when it is due.
 */
function payloads<P>(encode: (spans: Span[]) => P): (i: number) => P {
  if (requests > PRE_ENCODED) return (i) => encode(spansOf(i));
  const all = Array.from({ length: requests }, (_, i) => encode(spansOf(i)));
  return (i) => all[i]!;
}

// node:http with keep-alive: a fraction of fetch's cost per request, so the generator is not the limit.
const agent = new Agent({ keepAlive: true, maxSockets: 64 });
const [host, port] = [target!.slice(0, target!.lastIndexOf(':')), Number(target!.slice(target!.lastIndexOf(':') + 1))];
function post(path: string, body: Uint8Array | string, contentType: string, ok: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host, port, path, method: 'POST', agent, headers: { 'content-type': contentType, 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === ok));
      res.on('error', () => resolve(false));
    });
    req.on('error', () => resolve(false));
    req.end(body);
  });
}

/** One Jaeger Batch of all the request's spans. */
function jaegerBatch(spans: Span[]): JaegerBatch {
  const batches = toJaegerBatches({ spans });
  return { process: batches[0]!.process, spans: batches.flatMap((b) => b.spans) };
}

/** Unary gRPC calls of the requests `encode` makes on `path`, taken in turn over GRPC_CONNECTIONS connections. */
function grpcUnary(path: string, encode: (spans: Span[]) => Uint8Array): [typeof send, typeof close] {
  const clients = Array.from({ length: GRPC_CONNECTIONS }, () => new grpc.Client(target!, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }));
  const bufAt = payloads((spans) => {
    const e = encode(spans);
    return Buffer.from(e.buffer, e.byteOffset, e.byteLength);
  });
  return [
    (i) => new Promise((resolve) => clients[i % clients.length]!.makeUnaryRequest(path, passThrough.serialize, passThrough.deserialize, bufAt(i), (err) => resolve(!err))),
    async () => clients.forEach((c) => c.close()),
  ];
}

let send: (i: number) => Promise<boolean>;
/** Set by a sender whose transport is full: the next request is not sent before it resolves. */
let ready: Promise<unknown> | undefined;
/** otlp-grpc: HTTP/2 connections, requests taken in turn (the OTel testbed's generator has one). */
const GRPC_CONNECTIONS = Number(connectionsArg ?? 1);
let close = async (): Promise<void> => {};
switch (protocol) {
  case 'zipkin': {
    const encoded = payloads((spans) => JSON.stringify(modelToZipkinV2(spans)));
    send = (i) => post('/api/v2/spans', encoded(i), 'application/json', 202);
    break;
  }
  case 'otlp-http': {
    const encoded = payloads((spans) => encodeOtlpProto({ spans }));
    send = (i) => post('/v1/traces', encoded(i), 'application/x-protobuf', 200);
    break;
  }
  case 'otlp-grpc':
    // The saturation search asks for several connections: one is the generator's limit (behind
    // schedule near 70,000 spans/s with the collector at 85 % of a core).
    [send, close] = grpcUnary('/opentelemetry.proto.collector.trace.v1.TraceService/Export', (spans) => encodeOtlpProto({ spans }));
    break;
  case 'jaeger-grpc':
    [send, close] = grpcUnary('/jaeger.api_v2.CollectorService/PostSpans', (spans) => encodePostSpansRequest(jaegerBatch(spans)));
    break;
  case 'jaeger-thrift': {
    const encoded = payloads((spans) => encodeJaegerThriftBatch(jaegerBatch(spans)));
    send = (i) => post('/api/traces', encoded(i), 'application/x-thrift', 202);
    break;
  }
  case 'opencensus': {
    // One long Export stream, as an OpenCensus agent exporter keeps it.
    const client = new grpc.Client(target!, grpc.credentials.createInsecure());
    const stream = client.makeBidiStreamRequest('/opencensus.proto.agent.trace.v1.TraceService/Export', passThrough.serialize, passThrough.deserialize);
    stream.on('data', () => {});
    stream.on('error', () => {});
    const messages = payloads((spans) => modelToOcRequests(spans).map((m) => m.bytes));
    send = (i) =>
      new Promise((resolve) => {
        const msgs = messages(i);
        let left = msgs.length;
        let full = false;
        for (const m of msgs) full = !stream.write(m, (err?: Error | null) => --left === 0 && resolve(!err)) || full;
        // The stream's buffer is full (HTTP/2 flow control: the collector reads no faster): the
        // next request waits for it, and the generator falls behind schedule as an agent would.
        if (full) ready = new Promise((r) => stream.once('drain', r));
      });
    close = async () => {
      // The last messages are written once the server has them: wait for its answer to the end.
      const done = new Promise((r) => stream.on('status', r));
      stream.end();
      await done;
      client.close();
    };
    break;
  }
  default:
    throw new Error(`unknown protocol ${protocol}`);
}

// The bodies are ready: the measured part starts now.
console.log(JSON.stringify({ started: true }));
const interval = 1000 / (rate / per);
let refused = 0;
let lag = 0;
const t0 = performance.now();
let inflight = 0;
let allAnswered: () => void = () => {};
const answered = new Promise<void>((resolve) => (allAnswered = resolve));
const settle = (): void => void (--inflight === 0 && sentAll && allAnswered());
let sentAll = false;
for (let i = 0; i < requests; i++) {
  const due = t0 + i * interval;
  if (ready) {
    await ready;
    ready = undefined;
  }
  const wait = due - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  else lag = Math.max(lag, -wait);
  inflight++;
  send(i).then((ok) => void (ok || refused++), () => void refused++).finally(settle);
}
// How late the last request went out: a generator that could not hold the rate ends behind.
const endLag = Math.max(0, performance.now() - (t0 + (requests - 1) * interval));
sentAll = true;
if (inflight > 0) await answered;
await close();
console.log(JSON.stringify({ sent: requests * per, refused, lagMs: Math.round(lag), endLagMs: Math.round(endLag) }));
process.exit(0);
