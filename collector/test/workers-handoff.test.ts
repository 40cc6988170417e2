/**
 * The hand-off between the workers of `span-relay run --workers N` (src/workers/affinity.ts), two
 * workers' ends in one process on real Unix sockets: the spans a worker does not own reach their
 * owner as they were decoded, and the owner's answer (accepted, refused with its reason, failed, or
 * no owner at all) is what the sending worker's client hears. test/workers.test.ts runs the whole
 * collector as processes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Consumer } from '../src/component.js';
import { BackpressureError } from '../src/model/errors.js';
import type { Span, SpanBatch } from '../src/model/span.js';
import { decodeZipkinV2Json } from '../src/protocol/zipkin/decode.js';
import { modelToZipkinV2 } from '../src/protocol/zipkin/encode.js';
import { Telemetry } from '../src/telemetry/telemetry.js';
import { HandoffServer, workerOf } from '../src/workers/affinity.js';
import { FrameReader, frame, CODE, type Frame } from '../src/workers/frames.js';

const hex = (n: number): string => Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join('');

/** Spans of many traces, in both ID widths, with the fields the hand-off must carry (shared, tags, annotations). */
function spans(count: number): Span[] {
  const body = Array.from({ length: count }, (_, i) => ({
    traceId: i % 3 === 0 ? hex(16) : hex(32),
    id: hex(16),
    ...(i % 2 ? { parentId: hex(16) } : {}),
    name: `op ${i} ✓`,
    kind: i % 2 ? 'SERVER' : 'CLIENT',
    ...(i % 4 === 1 ? { shared: true } : {}),
    timestamp: 1_700_000_000_000_000 + i,
    duration: 100 + i,
    localEndpoint: { serviceName: `svc-${i % 5}`, ipv4: '10.0.0.1', port: 8080 },
    tags: { 'http.path': `/p/${i}`, n: String(i) },
    annotations: [{ timestamp: 1_700_000_000_000_050 + i, value: 'wr' }],
  }));
  return decodeZipkinV2Json(JSON.stringify(body)).spans;
}

class Recorder implements Consumer {
  readonly spans: Span[] = [];
  constructor(private readonly answer: () => void = () => undefined) {}
  async consume(batch: SpanBatch): Promise<void> {
    this.answer();
    this.spans.push(...batch.spans);
  }
}

const asZipkin = (xs: Span[]): string[] => modelToZipkinV2(xs).map((s) => JSON.stringify(s)).sort();

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

/** Two workers' hand-off ends; worker 1's head for `zipkin` is `owner` (none: still starting). */
async function twoWorkers(owner: Consumer | undefined): Promise<{ dir: string; servers: HandoffServer[]; telemetry: Telemetry }> {
  const dir = mkdtempSync(join(tmpdir(), 'span-relay-handoff-'));
  const telemetry = new Telemetry({ logger: pino({ level: 'silent' }) });
  const servers = [0, 1].map((w) => new HandoffServer(dir, w, 2, (r) => (w === 1 && r === 'zipkin' ? owner : undefined), telemetry));
  await Promise.all(servers.map((s) => s.start()));
  cleanup.push(async () => {
    await Promise.all(servers.map((s) => s.shutdown()));
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, servers, telemetry };
}

describe('the hand-off between workers', () => {
  it('keeps what this worker owns and hands the rest to its owner, every field as decoded', async () => {
    const owner = new Recorder();
    const local = new Recorder();
    const { servers, telemetry } = await twoWorkers(owner);
    const all = spans(60);
    const router = servers[0]!.router('zipkin', local);
    // Several requests at once share one connection and each gets its own answer.
    await Promise.all([router.consume({ spans: all.slice(0, 20) }), router.consume({ spans: all.slice(20, 40) }), router.consume({ spans: all.slice(40) })]);
    const mine = all.filter((s) => workerOf(s.traceId, 2) === 0);
    const theirs = all.filter((s) => workerOf(s.traceId, 2) === 1);
    expect(mine.length).toBeGreaterThan(0);
    expect(theirs.length).toBeGreaterThan(0);
    expect(local.spans).toHaveLength(mine.length);
    expect(asZipkin(owner.spans)).toEqual(asZipkin(theirs));
    expect(owner.spans.map((s) => s.shared)).toEqual(expect.arrayContaining([true]));
    const metrics = await telemetry.registry.metrics();
    expect(metrics).toContain(`span_relay_worker_handoff_spans_total{from="0",to="1"} ${theirs.length}`);
  });

  it("gives the sender the owner's refusal with its reason, and a failure as a failure", async () => {
    let answer: () => void = () => {
      throw new BackpressureError('join: the window is full', 'buffer_full');
    };
    const { servers } = await twoWorkers(new Recorder(() => answer()));
    const router = servers[0]!.router('zipkin', new Recorder());
    const refused = await router.consume({ spans: spans(40) }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(BackpressureError);
    expect(refused).toMatchObject({ reason: 'buffer_full', message: 'join: the window is full' });
    answer = () => {
      throw new Error('a bug');
    };
    const failed = await router.consume({ spans: spans(40) }).catch((e: unknown) => e);
    expect(failed).not.toBeInstanceOf(BackpressureError);
    expect((failed as Error).message).toContain('a bug');
  });

  it('tells the client to retry when the owner is still starting, or gone, and reaches it again once it is back', async () => {
    const owner = new Recorder();
    const { dir, servers, telemetry } = await twoWorkers(undefined);
    const router = servers[0]!.router('zipkin', new Recorder());
    await expect(router.consume({ spans: spans(40) })).rejects.toMatchObject({ reason: 'shutting_down', message: expect.stringContaining('still starting') });
    await servers[1]!.shutdown();
    await expect(router.consume({ spans: spans(40) })).rejects.toMatchObject({ reason: 'shutting_down', message: expect.stringContaining('unavailable') });
    // A new worker 1 on the same socket (the primary restarts a worker that died).
    const again = new HandoffServer(dir, 1, 2, () => owner, telemetry);
    await again.start();
    cleanup.push(() => again.shutdown());
    await router.consume({ spans: spans(40) });
    expect(owner.spans.length).toBeGreaterThan(0);
  });
});

describe('hand-off frames', () => {
  it('come out whole whatever the socket cuts them into', () => {
    const payload = Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 251));
    const stream = Buffer.concat([frame(1, CODE.request, 'otlp/2', payload), frame(2, CODE.refused, '{"error":"é"}'), frame(0xffffffff, CODE.accepted, '')]);
    for (const cut of [1, 7, 11, 12, 500, stream.length]) {
      const got: Frame[] = [];
      const reader = new FrameReader();
      for (let i = 0; i < stream.length; i += cut) reader.push(stream.subarray(i, i + cut), (f) => got.push({ ...f, payload: Buffer.from(f.payload) }));
      expect(got.map((f) => [f.id, f.code, f.text, f.payload.length])).toEqual([
        [1, CODE.request, 'otlp/2', 3000],
        [2, CODE.refused, '{"error":"é"}', 0],
        [0xffffffff, CODE.accepted, '', 0],
      ]);
      expect(got[0]!.payload.equals(payload)).toBe(true);
    }
  });

  it('refuse a stream out of step instead of waiting for a frame that never ends', () => {
    const bad = Buffer.alloc(16);
    bad.writeUInt32BE(0xfffffff0, 0);
    expect(() => new FrameReader().push(bad, () => undefined)).toThrow(/framing/);
  });
});
