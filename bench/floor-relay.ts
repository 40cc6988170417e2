/**
 * The testbed's floor (a part of `npm run bench`): the least a Node process can do in the testbed's
 * place for one receiver. It takes requests on the same libraries span-relay uses (grpc-js for
 * OTLP/gRPC and OpenCensus, node:http for OTLP/HTTP), answers each (an empty
 * ExportTraceServiceResponse; an OpenCensus stream is answered when it ends), and every 200 ms (the
 * batch processor's timeout) sends what it took to the sink through a grpc-js client, as one request:
 * ExportTraceServiceRequest is one repeated field, so requests put end to end are a request.
 * No decoding, no checks, no span model, no metrics: what is left is the runtime's own cost per request.
 *   node --import tsx bench/floor-relay.ts <otlp-grpc|otlp-http|opencensus> <sink host:port>
 * (the bench runs it compiled to plain JavaScript, see testbedFloor). Prints the port it listens on (127.0.0.1, chosen by the system) once ready.
 */
import { createServer } from 'node:http';
import * as grpc from '@grpc/grpc-js';

// Nothing of span-relay's is imported: the floor's memory is node's, grpc-js's and the bytes in flight.
const EXPORT = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
const OC_EXPORT = '/opencensus.proto.agent.trace.v1.TraceService/Export';
const raw = (b: Buffer): Buffer => b;

const [protocol, sink] = process.argv.slice(2);
if ((protocol !== 'otlp-grpc' && protocol !== 'otlp-http' && protocol !== 'opencensus') || !sink) throw new Error('usage: floor-relay.ts <otlp-grpc|otlp-http|opencensus> <sink host:port>');

/** A protobuf varint. */
function varint(n: number): number[] {
  const out: number[] = [];
  for (; n > 0x7f; n >>>= 7) out.push((n & 0x7f) | 0x80);
  out.push(n);
  return out;
}

/**
 * An OpenCensus ExportTraceServiceRequest passed on inside ResourceSpans (field 1) → ScopeSpans
 * (field 2), not decoded: its spans are its field 2, as a ScopeSpans' are, so the sink counts them
 * (the node, field 1, and resource, 3, stand where ScopeSpans has its scope and schema URL). The
 * bytes leave as they came, with two tags and two lengths in front.
 */
function inScopeSpans(message: Buffer): Buffer {
  const scope = [0x12, ...varint(message.length)];
  return Buffer.from([0x0a, ...varint(scope.length + message.length), ...scope]);
}

const client = new grpc.Client(sink, grpc.credentials.createInsecure());
let taken: Buffer[] = [];
setInterval(() => {
  if (taken.length === 0) return;
  const body = Buffer.concat(taken);
  taken = [];
  client.makeUnaryRequest(EXPORT, raw, raw, body, () => {});
}, 200);

const empty = Buffer.alloc(0);

/** A grpc-js server with one Export method at `path`, on a port the system picks; prints the port once bound. */
function serveGrpc(path: string, stream: boolean, handler: grpc.UntypedHandleCall): void {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
  server.addService({ Export: { path, requestStream: stream, responseStream: stream, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw } }, { Export: handler });
  server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
    if (err) throw err;
    console.log(port);
  });
}

if (protocol === 'opencensus') {
  // One long Export stream per agent, as span-relay's receiver takes it.
  serveGrpc(OC_EXPORT, true, (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
    call.on('data', (message: Buffer) => taken.push(inScopeSpans(message), message));
    call.on('end', () => call.end());
    call.on('error', () => {});
  });
} else if (protocol === 'otlp-grpc') {
  serveGrpc(EXPORT, false, (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
    taken.push(call.request);
    callback(null, empty);
  });
} else {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      taken.push(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
      res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': 0 });
      res.end();
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    console.log(typeof address === 'object' && address ? address.port : 0);
  });
}
