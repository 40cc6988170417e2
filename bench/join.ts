/**
 * Join throughput and memory: spans/s through the join window and its release (ID unification,
 * shared-span split, clock skew, continuity), beside a floor that only groups the same spans by
 * trace ID; and the heap held per span while traces wait in the window.
 */
import { pino } from 'pino';
import { JoinProcessor, joinConfig } from '../collector/src/processors/join/index.js';
import { Telemetry } from '../collector/src/telemetry/telemetry.js';
import type { Span, SpanBatch } from '../collector/src/model/span.js';
import { settledHeapUsed } from './heap.js';
import { median } from './median.js';

const MS = 1_000_000n;
const T0 = 1_700_000_000_000n * MS;

/** Traces shaped like one emojivoto vote: 11 hops across 5 processes, one pod 2 s skewed. */
export function voteTraces(traces: number): Span[] {
  const shape: [number | undefined, string, string, Span['kind'], number, number][] = [
    [undefined, 'nginx', 'ingress', 'server', 0, 100],
    [0, 'linkerd-proxy', 'web', 'server', 2, 98],
    [1, 'web', 'web', 'server', 3, 97],
    [2, 'web', 'web', 'client', 10, 60],
    [3, 'linkerd-proxy', 'web', 'client', 11, 59],
    [4, 'linkerd-proxy', 'voting', 'server', 2012, 2058],
    [5, 'voting-svc', 'voting', 'server', 2013, 2057],
    [2, 'web', 'web', 'client', 62, 80],
    [7, 'linkerd-proxy', 'web', 'client', 63, 79],
    [8, 'linkerd-proxy', 'emoji', 'server', 64, 78],
    [9, 'emoji-svc', 'emoji', 'server', 65, 77],
  ];
  const resources = new Map<string, Span['resource']>();
  const out: Span[] = [];
  for (let t = 0; t < traces; t++) {
    const trace = (t + 1).toString(16).padStart(16, '0');
    const ids = shape.map((_, i) => `${(t + 1).toString(16).padStart(12, '0')}${(i + 1).toString(16).padStart(4, '0')}`);
    shape.forEach(([parent, service, host, kind, s, e], i) => {
      const rk = `${service}@${host}`;
      if (!resources.has(rk)) resources.set(rk, { attributes: { 'service.name': service, 'host.name': `${host}-pod` } });
      out.push({
        traceId: i === 0 ? trace : trace.padStart(32, '0'),
        spanId: ids[i]!,
        ...(parent !== undefined ? { parentSpanId: ids[parent]! } : {}),
        name: `/emojivoto.v1.VotingService/Vote${i}`,
        kind,
        startTimeUnixNano: T0 + BigInt(t) * 1000n * MS + BigInt(s) * MS,
        endTimeUnixNano: T0 + BigInt(t) * 1000n * MS + BigInt(e) * MS,
        attributes: { 'http.request.method': 'POST', 'url.path': '/api/vote', 'http.response.status_code': '200' },
        events: [],
        links: [],
        status: { code: 'unset' },
        resource: resources.get(rk)!,
        source: 'opencensus',
      });
    });
  }
  return out;
}

function newJoin(): { join: JoinProcessor; released: () => number } {
  let n = 0;
  const join = new JoinProcessor(joinConfig.parse({ quiet_period: '1h', max_trace_age: '1h', max_traces: 10_000_000, max_bytes: 8 * 1024 ** 3 }), {
    id: 'join',
    telemetry: new Telemetry({ logger: pino({ level: 'silent' }) }),
  });
  void join.start({ consume: async (b: SpanBatch) => void (n += b.spans.length) });
  return { join, released: () => n };
}

async function chunks(spans: Span[], size: number, fn: (b: SpanBatch) => Promise<void>): Promise<void> {
  for (let i = 0; i < spans.length; i += size) await fn({ spans: spans.slice(i, i + size) });
}

export async function joinThroughput(traces: number): Promise<{ floor: number; join: number }> {
  const spans = voteTraces(traces);
  const floor = (): void => {
    const groups = new Map<string, Span[]>();
    for (const s of spans) {
      const k = s.traceId.slice(-16);
      const g = groups.get(k);
      if (g) g.push(s);
      else groups.set(k, [s]);
    }
  };
  const runJoin = async (): Promise<void> => {
    const { join, released } = newJoin();
    await chunks(spans, 500, (b) => join.consume(b));
    await join.shutdown(); // releases every held trace through the full join
    if (released() !== spans.length) throw new Error(`join released ${released()} of ${spans.length}`);
  };
  floor();
  await runJoin();
  const f: number[] = [];
  const j: number[] = [];
  for (let i = 0; i < 3; i++) {
    let t0 = process.hrtime.bigint();
    floor();
    f.push(spans.length / (Number(process.hrtime.bigint() - t0) / 1e9));
    t0 = process.hrtime.bigint();
    await runJoin();
    j.push(spans.length / (Number(process.hrtime.bigint() - t0) / 1e9));
  }
  return { floor: median(f), join: median(j) };
}

/**
 * Heap bytes per span held in the window, spans included (needs --expose-gc), beside the window's
 * estimate; and per span once released, while its trace is remembered (late_span_memory) so late
 * spans still join it and retries are dropped. Both count ArrayBuffers beside the heap: a remembered
 * trace's span IDs live in shared Int32Array chunks, outside V8's heap.
 */
export async function bytesPerHeldSpan(traces: number): Promise<{ measured: number; estimated: number; remembered: number } | undefined> {
  const used = async (): Promise<number | undefined> => {
    const heap = await settledHeapUsed();
    return heap === undefined ? undefined : heap + process.memoryUsage().arrayBuffers;
  };
  const before = await used();
  if (before === undefined) return undefined;
  const { join } = newJoin();
  let spans = voteTraces(traces);
  const n = spans.length;
  await chunks(spans, 500, (b) => join.consume(b));
  spans = [];
  const after = (await used())!;
  const held = await join['ctx'].telemetry.registry.getSingleMetric('span_relay_join_bytes_held')!.get();
  const estimated = held.values[0]!.value / n;
  await join.shutdown();
  const remembered = ((await used())! - before) / n;
  return { measured: (after - before) / n, estimated, remembered };
}
