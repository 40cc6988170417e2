/**
 * The exporters' sending queue on its own: what its consumers keep once a batch is delivered.
 */
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { pino } from 'pino';
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { QueuedExporter, senderSettings } from '../src/exporters/sender.js';
import { Telemetry } from '../src/telemetry/telemetry.js';
import type { Span } from '../src/model/span.js';
import { eventually } from './helpers/collector.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function span(i: number): Span {
  return { traceId: 'ab'.repeat(16), spanId: (i + 1).toString(16).padStart(16, '0'), name: 's', kind: 'server', startTimeUnixNano: 1n, endTimeUnixNano: 2n, attributes: {}, events: [], links: [], status: { code: 'unset' }, resource: { attributes: {} }, source: 'otlp' };
}

async function send(exporter: QueuedExporter, b: number): Promise<WeakRef<Span>[]> {
  const spans = Array.from({ length: 10 }, (_, i) => span(b * 10 + i));
  const refs = spans.map((s) => new WeakRef(s));
  await exporter.consume({ spans });
  return refs;
}

describe('exporter sending queue', () => {
  it('keeps no delivered batch alive while its consumers wait for the next', async () => {
    let delivered = 0;
    const config = z.object(senderSettings).parse({ sending_queue: { num_consumers: 4 } });
    const exporter = new QueuedExporter({ id: 'otlp', telemetry: new Telemetry({ logger: pino({ level: 'silent' }) }) }, config, async (batch) => {
      delivered += batch.spans.length;
    });
    await exporter.start();
    // More batches than consumers, so every consumer has delivered one and gone back to waiting.
    // (Made in a function of their own: this test's frame must not be what keeps one alive.)
    const refs: WeakRef<Span>[] = [];
    for (let b = 0; b < 8; b++) refs.push(...(await send(exporter, b)));
    await eventually(async () => delivered === 80, 'all delivered');
    await new Promise((r) => setTimeout(r, 20));
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(refs.filter((r) => r.deref() !== undefined).length).toBe(0);
    await exporter.shutdown(Date.now() + 1000);
  });
});
