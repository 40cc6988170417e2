/**
 * OTLP in → join → OTLP out, in process, compiled, on the testbed's requests: what the join adds to
 * the OTLP receivers' decode and the exporter's encode, in spans/s and in bytes allocated per span.
 * Allocation is counted by V8's sampling heap profiler with the objects already collected included:
 * the garbage a span leaves behind is what the collector's garbage-collector threads are paid for,
 * beside the main thread. Baseline, side by side: the same requests decoded and encoded again
 * without the join.
 */
import { Session } from 'node:inspector/promises';
import { pino } from 'pino';
import { collectorModule } from './compiled.js';
import { zipkinBodies } from './zipkin-to-otlp.js';
import type { Span } from '../collector/src/model/span.js';
import { median } from './median.js';

// All from one build: a LazySpan class from dist/ is not the one from src/.
const { decodeOtlpProto } = await collectorModule<typeof import('../collector/src/protocol/otlp/decode.js')>('protocol/otlp/decode');
const { encodeOtlpProto } = await collectorModule<typeof import('../collector/src/protocol/otlp/encode.js')>('protocol/otlp/encode');
const { decodeZipkinV2Json } = await collectorModule<typeof import('../collector/src/protocol/zipkin/decode.js')>('protocol/zipkin/decode');
const { JoinProcessor, joinConfig } = await collectorModule<typeof import('../collector/src/processors/join/index.js')>('processors/join/index');
const { Telemetry } = await collectorModule<typeof import('../collector/src/telemetry/telemetry.js')>('telemetry/telemetry');

/** About what the batch processor sends on at 10k spans/s (every 200 ms). */
const EXPORT_BATCH = 2000;

/** The bodies bench/loadgen.ts sends the OTLP receivers. */
function otlpRequests(requests: number, per: number): Buffer[] {
  return zipkinBodies(requests, per).map((b) => encodeOtlpProto({ spans: decodeZipkinV2Json(b).spans }));
}

function exportInBatches(spans: Span[]): void {
  for (let i = 0; i < spans.length; i += EXPORT_BATCH) encodeOtlpProto({ spans: spans.slice(i, i + EXPORT_BATCH) });
}

/** Decode as the receivers do (lazily), encode as the exporter does. */
async function relay(bodies: Buffer[]): Promise<void> {
  for (const b of bodies) exportInBatches(decodeOtlpProto(b, undefined, { lazy: true }).spans);
}

/** The same, with every span held in the join's window and released through it. */
async function throughJoin(bodies: Buffer[]): Promise<void> {
  const join = new JoinProcessor(joinConfig.parse({ quiet_period: '1h', max_traces: 10_000_000 }), { id: 'join', telemetry: new Telemetry({ logger: pino({ level: 'silent' }) }) });
  let released = 0;
  await join.start({
    consume: async ({ spans }) => {
      released += spans.length;
      exportInBatches(spans);
    },
  });
  let sent = 0;
  for (const b of bodies) {
    const { spans } = decodeOtlpProto(b, undefined, { lazy: true });
    sent += spans.length;
    await join.consume({ spans });
  }
  await join.shutdown(); // releases every held trace through the full join
  if (released !== sent) throw new Error(`join released ${released} of ${sent}`);
}

/** Bytes allocated while `run` runs, per span. */
async function allocatedPerSpan(run: () => Promise<void>, spans: number): Promise<number> {
  const session = new Session();
  session.connect();
  try {
    await session.post('HeapProfiler.startSampling', { samplingInterval: 512, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    await run();
    const { profile } = await session.post('HeapProfiler.stopSampling');
    let total = 0;
    const stack = [profile.head];
    while (stack.length > 0) {
      const node = stack.pop()!;
      total += node.selfSize;
      stack.push(...node.children);
    }
    return total / spans;
  } finally {
    session.disconnect();
  }
}

export async function joinRelayBench(requests: number, per: number): Promise<{ spansPerSec: { relay: number; join: number }; allocatedPerSpan: { relay: number; join: number } }> {
  const bodies = otlpRequests(requests, per);
  const spans = requests * per;
  const rate = async (run: () => Promise<void>): Promise<number> => {
    const t0 = process.hrtime.bigint();
    await run();
    return spans / (Number(process.hrtime.bigint() - t0) / 1e9);
  };
  await relay(bodies);
  await throughJoin(bodies); // warm up both
  const r: number[] = [];
  const j: number[] = [];
  for (let i = 0; i < 5; i++) {
    r.push(await rate(() => relay(bodies)));
    j.push(await rate(() => throughJoin(bodies)));
  }
  return {
    spansPerSec: { relay: median(r), join: median(j) },
    allocatedPerSpan: { relay: await allocatedPerSpan(() => relay(bodies), spans), join: await allocatedPerSpan(() => throughJoin(bodies), spans) },
  };
}
