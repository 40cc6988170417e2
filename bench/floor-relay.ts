/**
 * The testbed's floor (a part of `npm run bench`): the least a Node process can do in the testbed's
 * place for one OTLP receiver. It takes requests on the same libraries span-relay uses (grpc-js for
 * OTLP/gRPC, node:http for OTLP/HTTP), answers each with an empty ExportTraceServiceResponse, and every
 * 200 ms (the batch processor's timeout) sends what it took to the sink through a grpc-js client, as
 * one request: ExportTraceServiceRequest is one repeated field, so requests put end to end are a request.
 * No decoding, no checks, no span model, no metrics: what is left is the runtime's own cost per request.
 *   node --import tsx bench/floor-relay.ts <otlp-grpc|otlp-http> <sink host:port>
 * (the bench runs it compiled to plain JavaScript, see testbedFloor). Prints the port it listens on (127.0.0.1, chosen by the system) once ready.
 */
import { createServer } from 'node:http';
import * as grpc from '@grpc/grpc-js';

// Nothing of span-relay's is imported: the floor's memory is node's, grpc-js's and the bytes in flight.
const EXPORT = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
const raw = (b: Buffer): Buffer => b;

const [protocol, sink] = process.argv.slice(2);
if ((protocol !== 'otlp-grpc' && protocol !== 'otlp-http') || !sink) throw new Error('usage: floor-relay.ts <otlp-grpc|otlp-http> <sink host:port>');

const client = new grpc.Client(sink, grpc.credentials.createInsecure());
let taken: Buffer[] = [];
setInterval(() => {
  if (taken.length === 0) return;
  const body = Buffer.concat(taken);
  taken = [];
  client.makeUnaryRequest(EXPORT, raw, raw, body, () => {});
}, 200);

const empty = Buffer.alloc(0);
if (protocol === 'otlp-grpc') {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
  server.addService({ Export: { path: EXPORT, requestStream: false, responseStream: false, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw } }, {
    Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      taken.push(call.request);
      callback(null, empty);
    },
  });
  server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
    if (err) throw err;
    console.log(port);
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
