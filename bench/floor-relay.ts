/**
 * The testbed's floor (a part of `npm run bench`): the least a Node process can do in the testbed's
 * place for one receiver. It takes requests on the same libraries span-relay uses (grpc-js for
 * OTLP/gRPC and OpenCensus, node:http for OTLP/HTTP), answers each (an empty
 * ExportTraceServiceResponse; an OpenCensus stream is answered when it ends), and every 200 ms (the
 * batch processor's timeout) sends what it took to the sink through a grpc-js client, as one request:
 * ExportTraceServiceRequest is one repeated field, so requests put end to end are a request.
 * No decoding, no checks, no span model, no metrics: what is left is the runtime's own cost per request.
 * `otlp-grpc-h2` is the OTLP/gRPC floor without grpc-js (issue #31: what a lean gRPC server on
 * node:http2 could win): the unary Export served on node:http2's 'stream' events, the 5-byte message
 * prefix read by hand, the answer a length-prefixed empty message and a grpc-status trailer. No
 * deadlines, compression, keepalive or limits: a bound on that server's cost, not a server.
 *   node --import tsx bench/floor-relay.ts <otlp-grpc|otlp-grpc-h2|otlp-http|opencensus> <sink host:port>
 * (the bench runs it compiled to plain JavaScript, see testbedFloor). Prints the port it listens on (127.0.0.1, chosen by the system) once ready.
 */
import { createServer } from 'node:http';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';

// Nothing of span-relay's is imported: the floor's memory is node's, grpc-js's and the bytes in flight.
const EXPORT = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
const OC_EXPORT = '/opencensus.proto.agent.trace.v1.TraceService/Export';
const raw = (b: Buffer): Buffer => b;

const [protocol, sink] = process.argv.slice(2);
if ((protocol !== 'otlp-grpc' && protocol !== 'otlp-grpc-h2' && protocol !== 'otlp-http' && protocol !== 'opencensus') || !sink) throw new Error('usage: floor-relay.ts <otlp-grpc|otlp-grpc-h2|otlp-http|opencensus> <sink host:port>');

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

/** Prints the port a node:http or node:http2 server listens on, once it does. */
function listen(server: { listen: (port: number, host: string, ready: () => void) => unknown; address: () => AddressInfo | string | null }): void {
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    console.log(typeof address === 'object' && address ? address.port : 0);
  });
}

/** An empty ExportTraceServiceResponse as a gRPC message: not compressed (0), length 0. */
const EMPTY_MESSAGE = Buffer.alloc(5);

/**
 * The unary OTLP Export on node:http2 alone: a request body is one gRPC message (a compressed flag,
 * a 4-byte big-endian length, the message); the answer is the headers, one empty message and the
 * grpc-status trailer. Anything else (another path, a compressed or malformed body) is answered
 * trailers-only with a status, as a gRPC server would.
 */
function serveGrpcOnHttp2(): void {
  const server = http2.createServer();
  const refuse = (stream: http2.ServerHttp2Stream, status: number, message: string): void => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(status), 'grpc-message': message }, { endStream: true });
  };
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    if (headers[':path'] !== EXPORT) return refuse(stream, 12, 'unimplemented'); // UNIMPLEMENTED
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      if (body.length < 5 || body.readUInt32BE(1) !== body.length - 5) return refuse(stream, 13, 'not one gRPC message'); // INTERNAL
      if (body[0] !== 0) return refuse(stream, 12, 'compression not supported by the floor');
      taken.push(body.subarray(5));
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(EMPTY_MESSAGE);
    });
  });
  listen(server);
}

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
} else if (protocol === 'otlp-grpc-h2') {
  serveGrpcOnHttp2();
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
  listen(server);
}
