/**
 * Replay throughput at --speed max against a null OTLP/HTTP target, beside a floor that POSTs the
 * same bodies with the same concurrency and nothing else (no file reading, decoding or accounting).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeRecord } from '../collector/src/capture/format.js';
import { encodeOtlpProto } from '../collector/src/protocol/otlp/encode.js';
import { readReplayInputs } from '../collector/src/replay/inputs.js';
import { replay } from '../collector/src/replay/replay.js';
import { voteTraces } from './join.js';
import { median } from './median.js';

export async function replayBench(records: number, spansPerRecord: number, concurrency = 8): Promise<{ floor: number; replay: number; spans: number }> {
  const spans = voteTraces(Math.ceil((records * spansPerRecord) / 11)).slice(0, records * spansPerRecord);
  const bodies: Buffer[] = [];
  for (let i = 0; i < records; i++) bodies.push(Buffer.from(encodeOtlpProto({ spans: spans.slice(i * spansPerRecord, (i + 1) * spansPerRecord) })));
  const file = join(mkdtempSync(join(tmpdir(), 'span-relay-bench-')), 'bench.srcap');
  writeFileSync(file, Buffer.concat(bodies.map((body, i) => encodeRecord({ header: { protocol: 'otlp-http', receivedAt: 1_700_000_000_000 + i, receiver: 'otlp', contentType: 'application/x-protobuf', path: '/v1/traces' }, body }))));

  let received = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received++;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const floorRun = async (): Promise<number> => {
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < bodies.length) {
          const body = bodies[next++]!;
          const res = await fetch(`${url}/v1/traces`, { method: 'POST', body, headers: { 'content-type': 'application/x-protobuf' } });
          await res.arrayBuffer();
        }
      }),
    );
    return (records * spansPerRecord) / ((performance.now() - t0) / 1000);
  };
  const replayRun = async (): Promise<number> => {
    const t0 = performance.now();
    const input = await readReplayInputs([file]);
    const summary = await replay(input, { targets: { zipkin: url, otlpHttp: url, otlpGrpc: '', opencensus: '', jaegerThrift: url }, speed: 'max', shiftTime: false, newIds: false, loop: 1, concurrency, maxRetryMs: 10_000 });
    if (summary.acceptedSpans !== records * spansPerRecord) throw new Error(`replay accepted ${summary.acceptedSpans} of ${records * spansPerRecord}`);
    return summary.acceptedSpans / ((performance.now() - t0) / 1000);
  };
  await floorRun();
  const f: number[] = [];
  const r: number[] = [];
  for (let i = 0; i < 3; i++) {
    f.push(await floorRun());
    r.push(await replayRun());
  }
  server.close();
  if (received === 0) throw new Error('null target received nothing');
  return { floor: median(f), replay: median(r), spans: records * spansPerRecord };
}
