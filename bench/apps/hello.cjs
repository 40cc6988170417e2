// The small express service the kit bench loads: one JSON route, no tracing code.
const express = require('express');

const app = express();
app.get('/', (req, res) => res.json({ vote: ':doughnut:' }));
const server = app.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`));
