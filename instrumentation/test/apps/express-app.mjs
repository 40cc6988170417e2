// The same service as an ES module, for `node --import <kit>/register app.mjs`.
import http from 'node:http';
import express from 'express';

const app = express();
app.get('/vote', (req, res) => {
  // node:http as an ESM import: the outgoing call must carry the trace too.
  http.get(`${process.env.DOWNSTREAM_URL}/record`, (down) => {
    let body = '';
    down.on('data', (c) => (body += c));
    down.on('end', () => res.json({ downstream: JSON.parse(body) }));
  });
});
const server = app.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
