// A small express service (CommonJS) with no tracing code: the kit is preloaded with --require.
// GET /vote calls DOWNSTREAM_URL with fetch and answers with what the downstream saw.
const express = require('express');

const app = express();
app.get('/vote', async (req, res) => {
  const downstream = await fetch(`${process.env.DOWNSTREAM_URL}/record`);
  res.json({ downstream: await downstream.json() });
});
app.get('/health', (req, res) => res.json({ ok: true }));
const server = app.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
