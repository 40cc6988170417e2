/**
 * The testbed's load (bench/zipkin-to-otlp.ts, sent by bench/loadgen.ts in every protocol) stands for
 * a healthy mesh's traffic: the join must find each trace whole, or the bench charges every run for
 * the broken-trace path (orphan reports, warnings) and the clock-skew shifts no mesh would need.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { zipkinBodies } from '../bench/zipkin-to-otlp.js';
import { decodeZipkinV2Json } from '../collector/src/protocol/zipkin/decode.js';
import { JoinProcessor, joinConfig, type JoinedTrace } from '../collector/src/processors/join/index.js';
import { Telemetry } from '../collector/src/telemetry/telemetry.js';

describe('bench/zipkin-to-otlp.ts: the testbed\'s generated traces', () => {
  it('are whole trees of 8 spans through the join, each child inside its parent, across request boundaries', async () => {
    const telemetry = new Telemetry({ logger: pino({ level: 'silent' }) });
    const join = new JoinProcessor(joinConfig.parse({ quiet_period: '1h' }), { id: 'join', telemetry });
    const released: JoinedTrace[] = [];
    join.onRelease = (t) => released.push(t);
    let out = 0;
    await join.start({ consume: async (b) => void (out += b.spans.length) });
    // 100 spans a request, as the testbed sends: a trace's spans straddle two requests every few traces.
    for (const body of zipkinBodies(20, 100)) await join.consume({ spans: decodeZipkinV2Json(body).spans });
    await join.shutdown();

    expect(out).toBe(2000);
    expect(released).toHaveLength(250);
    expect(released.filter((t) => !t.complete).map((t) => t.traceId)).toEqual([]);
    for (const t of released) {
      expect(t.spans).toHaveLength(8);
      const byId = new Map(t.spans.map((s) => [s.spanId, s]));
      for (const s of t.spans) {
        // Nothing the join changed: no skew shift, no new IDs.
        expect(Object.keys(s.attributes).filter((k) => k.startsWith('span_relay.'))).toEqual([]);
        const p = s.parentSpanId === undefined ? undefined : byId.get(s.parentSpanId);
        if (p) expect(s.startTimeUnixNano >= p.startTimeUnixNano && s.endTimeUnixNano <= p.endTimeUnixNano).toBe(true);
      }
    }
  });
});
