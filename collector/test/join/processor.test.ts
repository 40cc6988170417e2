/**
 * The join processor over time: what it remembers of released traces decides what a late span
 * becomes (a duplicate dropped, a new span kept, the late half of a shared span).
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { JoinProcessor, joinConfig } from '../../src/processors/join/index.js';
import { lateClientHalfId } from '../../src/trace/identity.js';
import { analyzeTrace } from '../../src/trace/continuity.js';
import { Telemetry } from '../../src/telemetry/telemetry.js';
import type { Span, SpanBatch } from '../../src/model/span.js';
import { metricValue } from '../helpers/collector.js';

import { MS, span } from './spans.js';

let join: JoinProcessor | undefined;
afterEach(async () => {
  await join?.shutdown();
  join = undefined;
});

async function startJoin() {
  const telemetry = new Telemetry({ logger: pino({ level: 'silent' }) });
  const out: Span[] = [];
  join = new JoinProcessor(joinConfig.parse({ quiet_period: '50ms', check_interval: '10ms' }), { id: 'join', telemetry });
  await join.start({ consume: async (b: SpanBatch) => void out.push(...b.spans) });
  const released = async (n: number) => {
    for (let i = 0; i < 200 && out.length < n; i++) await new Promise((r) => setTimeout(r, 10));
    expect(out).toHaveLength(n);
  };
  return { join, out, released, telemetry };
}

describe('join processor: late spans against the memory of released traces', () => {
  it('drops a late span only when it is the same span (IDs and times); the same IDs with other times are kept', async () => {
    const { join, out, released, telemetry } = await startJoin();
    const root = span('1', undefined, 'web', 0, 100);
    await join.consume({ spans: [root, span('2', '1', 'web', 10, 90, { kind: 'client' })] });
    await released(2);
    await join.consume({ spans: [root] }); // a client's retry: the same span again
    const replayed = { ...root, startTimeUnixNano: root.startTimeUnixNano + 3_600_000n * MS, endTimeUnixNano: root.endTimeUnixNano + 3_600_000n * MS };
    await join.consume({ spans: [replayed] }); // replayed with --shift-time: a new span
    await released(3);
    expect(out[2]!.startTimeUnixNano).toBe(replayed.startTimeUnixNano);
    expect(metricValue(await telemetry.registry.metrics(), 'span_relay_join_duplicate_spans_total')).toBe(1);
  });

  it('a lone shared server goes out with its ID; its client half arriving later takes a new ID under the same parent: still one tree', async () => {
    const { join, out, released } = await startJoin();
    const root = span('r', undefined, 'front', 0, 100, { kind: 'internal' });
    await join.consume({ spans: [root, span('c', 'r', 'pay', 20, 60, { shared: true }), span('d', 'c', 'pay', 25, 50, { kind: 'internal' })] });
    await released(3);
    expect(out.find((s) => s.name === 'op-c')!.spanId).toBe('000000000000000c');
    await join.consume({ spans: [span('c', 'r', 'front', 10, 70, { kind: 'client' })] });
    await released(4);
    const late = out[3]!;
    expect(late).toMatchObject({ kind: 'client', spanId: lateClientHalfId('4ed11df465275600', '000000000000000c'), parentSpanId: '000000000000000r' });
    const report = analyzeTrace(out);
    expect(report.complete).toBe(true);
    expect(new Set(out.map((s) => s.spanId)).size).toBe(4);
  });

  it('a trace that went out with the 64-bit ID keeps it: late 128-bit spans of the same request take it too (one trace in the backend)', async () => {
    const { join, out, released, telemetry } = await startJoin();
    // The ingress's Zipkin spans (64-bit) first; an OpenTelemetry app's batch (128-bit) after the quiet period.
    await join.consume({ spans: [span('1', undefined, 'nginx', 0, 100, { kind: 'server' })] });
    await released(1);
    const wide = '7a7a0000000000014ed11df465275600';
    await join.consume({ spans: [span('2', '1', 'web', 10, 90, { traceId: wide, kind: 'server' }), span('3', '2', 'web', 20, 80, { traceId: wide })] });
    await released(3);
    expect(new Set(out.map((s) => s.traceId))).toEqual(new Set(['4ed11df465275600']));
    expect(out.slice(1).map((s) => s.attributes['span_relay.original_trace_id'])).toEqual([wide, wide]);
    expect(analyzeTrace(out).complete).toBe(true);
    expect(metricValue(await telemetry.registry.metrics(), 'span_relay_join_adjusted_spans_total', { adjustment: 'trace_id_width' })).toBe(2);
  });

  it('a client span that went out first: the server half arriving later is split under it', async () => {
    const { join, out, released } = await startJoin();
    await join.consume({ spans: [span('r', undefined, 'front', 0, 100, { kind: 'internal' }), span('c', 'r', 'front', 10, 70, { kind: 'client' })] });
    await released(2);
    await join.consume({ spans: [span('c', 'r', 'pay', 20, 60, { shared: true }), span('d', 'c', 'pay', 25, 50, { kind: 'internal' })] });
    await released(4);
    const server = out.find((s) => s.kind === 'server')!;
    expect(server.parentSpanId).toBe('000000000000000c');
    expect(server.spanId).not.toBe('000000000000000c');
    expect(out.find((s) => s.name === 'op-d')!.parentSpanId).toBe(server.spanId);
    expect(analyzeTrace(out).complete).toBe(true);
  });
});
