/**
 * Where the OTLP protobuf path allocates, per span: the testbed's requests (bench/loadgen.ts's, 100
 * spans each) decoded as the receivers decode them (lazy) and encoded again in batches of 8,192 as the
 * exporter does, under V8's sampling heap profiler with collected objects kept (what the GC had to
 * clear, not only what survives). The compiled codec (bench/compiled.ts).
 *   node --import tsx bench/otlp-alloc.ts [requests, default 2000]
 */
import { Session } from 'node:inspector/promises';
import { decodeZipkinV2Json } from '../collector/src/protocol/zipkin/decode.js';
import type { Span } from '../collector/src/model/span.js';
import { collectorModule } from './compiled.js';
import { zipkinBodies } from './zipkin-to-otlp.js';

const { decodeOtlpProto } = await collectorModule<typeof import('../collector/src/protocol/otlp/decode.js')>('protocol/otlp/decode');
const { encodeOtlpProto } = await collectorModule<typeof import('../collector/src/protocol/otlp/encode.js')>('protocol/otlp/encode');

const n = Number(process.argv[2] ?? 2000);
const bodies = Array.from({ length: n }, (_, i) => Buffer.from(encodeOtlpProto({ spans: decodeZipkinV2Json(zipkinBodies(1, 100, i)[0]!).spans })));
const run = (): void => {
  let pending: Span[] = [];
  for (const b of bodies) {
    for (const s of decodeOtlpProto(b, undefined, { lazy: true }).spans) pending.push(s);
    if (pending.length >= 8192) {
      encodeOtlpProto({ spans: pending.splice(0, 8192) });
      pending = pending.slice();
    }
  }
};
run();
const session = new Session();
session.connect();
await session.post('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
run();
const { profile } = await session.post('HeapProfiler.stopSampling');
interface Node { callFrame: { functionName: string; url: string; lineNumber: number }; selfSize: number; children: Node[] }
const self = new Map<string, number>();
let total = 0;
const walk = (node: Node, parent: string): void => {
  const name = `${node.callFrame.functionName || '(anonymous)'} ${node.callFrame.url.split('/').at(-1)}:${node.callFrame.lineNumber + 1}`;
  const key = `${name} < ${parent}`;
  total += node.selfSize;
  self.set(key, (self.get(key) ?? 0) + node.selfSize);
  for (const c of node.children) walk(c, node.callFrame.functionName || '(anonymous)');
};
walk(profile.head as Node, '');
const spans = n * 100;
console.log(`${(total / spans).toFixed(0)} B allocated per span (decode + encode), by allocating function < its caller:`);
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`${(v / spans).toFixed(0).padStart(6)} B  ${k}`);
