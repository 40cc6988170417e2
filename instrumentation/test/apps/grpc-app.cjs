// A grpc-js service (CommonJS), traced only by the preloaded kit. VoteDog calls DOWNSTREAM_URL;
// VoteDoughnut fails, as in emojivoto.
const path = require('node:path');
const http = require('node:http');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(path.join(__dirname, 'voting.proto')));
const server = new grpc.Server();
server.addService(pkg.emojivoto.v1.VotingService.service, {
  VoteDog: (call, cb) => {
    http.get(`${process.env.DOWNSTREAM_URL}/record`, (res) => {
      res.resume();
      res.on('end', () => cb(null, {}));
    });
  },
  VoteDoughnut: (call, cb) => cb({ code: grpc.status.UNKNOWN, details: 'ERROR' }),
});
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  process.stdout.write(`${JSON.stringify({ port })}\n`);
});
