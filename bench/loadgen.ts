/**
 * The testbed's load generator, in its own process (as the OpenTelemetry Collector's testbed runs
 * it): a steady rate of requests of N spans over one protocol, encoded before the clock starts.
 *   node --import tsx bench/loadgen.ts <zipkin|otlp-grpc|otlp-http|opencensus> <host:port> <spans/s> <seconds> <spans per request>
 * Prints {"started": true} once its bodies are encoded, then at the end one JSON line:
 * {"sent": spans, "refused": requests, "lagMs": worst lateness}.
 */
import * as grpc from '@grpc/grpc-js';
import { decodeZipkinV2Json } from '../collector/src/receivers/zipkin/decode.js';
import { modelToZipkinV2 } from '../collector/src/protocol/zipkin-encode.js';
import { encodeOtlpProto } from '../collector/src/protocol/otlp/encode.js';
import { modelToOcRequests } from '../collector/src/protocol/opencensus-encode.js';
import { passThrough } from '../collector/src/net/grpc-server.js';
import { zipkinBodies } from './zipkin-to-otlp.js';

const [protocol, target, rateArg, secondsArg, perArg] = process.argv.slice(2);
const rate = Number(rateArg);
const seconds = Number(secondsArg);
const per = Number(perArg);
const requests = Math.round((rate / per) * seconds);
const bodies = zipkinBodies(requests, per).map((b) => decodeZipkinV2Json(b).spans);

let send: (i: number) => Promise<boolean>;
let close = async (): Promise<void> => {};
switch (protocol) {
  case 'zipkin': {
    const encoded = bodies.map((spans) => JSON.stringify(modelToZipkinV2(spans)));
    send = async (i) => {
      const res = await fetch(`http://${target}/api/v2/spans`, { method: 'POST', body: encoded[i]!, headers: { 'content-type': 'application/json' } });
      await res.arrayBuffer();
      return res.status === 202;
    };
    break;
  }
  case 'otlp-http': {
    const encoded = bodies.map((spans) => encodeOtlpProto({ spans }));
    send = async (i) => {
      const res = await fetch(`http://${target}/v1/traces`, { method: 'POST', body: encoded[i]!, headers: { 'content-type': 'application/x-protobuf' } });
      await res.arrayBuffer();
      return res.status === 200;
    };
    break;
  }
  case 'otlp-grpc': {
    const encoded = bodies.map((spans) => Buffer.from(encodeOtlpProto({ spans })));
    const client = new grpc.Client(target!, grpc.credentials.createInsecure());
    send = (i) => new Promise((resolve) => client.makeUnaryRequest('/opentelemetry.proto.collector.trace.v1.TraceService/Export', passThrough.serialize, passThrough.deserialize, encoded[i]!, (err) => resolve(!err)));
    close = async () => client.close();
    break;
  }
  case 'opencensus': {
    // One long Export stream, as an OpenCensus agent exporter keeps it.
    const encoded = bodies.map((spans) => Buffer.concat(modelToOcRequests(spans).map((m) => m.bytes)));
    const client = new grpc.Client(target!, grpc.credentials.createInsecure());
    const stream = client.makeBidiStreamRequest('/opencensus.proto.agent.trace.v1.TraceService/Export', passThrough.serialize, passThrough.deserialize);
    stream.on('data', () => {});
    stream.on('error', () => {});
    const messages = bodies.map((spans) => modelToOcRequests(spans).map((m) => m.bytes));
    void encoded;
    send = (i) =>
      new Promise((resolve) => {
        const msgs = messages[i]!;
        let left = msgs.length;
        for (const m of msgs) stream.write(m, () => --left === 0 && resolve(true));
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
const inflight: Promise<void>[] = [];
for (let i = 0; i < requests; i++) {
  const due = t0 + i * interval;
  const wait = due - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  else lag = Math.max(lag, -wait);
  inflight.push(send(i).then((ok) => void (ok || refused++), () => void refused++));
}
await Promise.all(inflight);
await close();
console.log(JSON.stringify({ sent: requests * per, refused, lagMs: Math.round(lag) }));
process.exit(0);
