import { appendFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SegmentLog } from '../../src/storage/segment-log.js';
import { decodeSpans, encodeSpans } from '../../src/storage/span-codec.js';
import { BackpressureError } from '../../src/model/errors.js';
import { span } from '../join/spans.js';

const options = (dir: string, extra: Partial<{ maxBytes: number; segmentBytes: number; fsync: boolean }> = {}) => ({ directory: dir, fsync: false, maxBytes: 1 << 30, segmentBytes: 1 << 20, ...extra });
const tmp = () => mkdtempSync(join(tmpdir(), 'span-relay-log-'));

describe('segment log', () => {
  it('appends share one group commit; after a clean close, what is not released is read back in order', async () => {
    const dir = tmp();
    const { log, records } = await SegmentLog.open(options(dir, { fsync: true }));
    expect(records).toEqual([]);
    const seqs = await Promise.all(Array.from({ length: 50 }, (_, i) => log.append(Buffer.from(`record ${i}`))));
    expect(seqs).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    for (const s of seqs.filter((s) => s % 2 === 0)) log.release(s);
    expect(log.liveRecords).toBe(25);
    await log.close();
    const again = await SegmentLog.open(options(dir));
    expect(again.records.map((r) => r.body.toString())).toEqual(Array.from({ length: 25 }, (_, i) => `record ${i * 2}`));
    expect(again.problems).toEqual([]);
    // New records continue the sequence, never reuse one.
    expect(await again.log.append(Buffer.from('next'))).toBe(51);
    await again.log.close();
  });

  it('after a crash (no close) every record of a segment in use comes back: at least once', async () => {
    const dir = tmp();
    const { log } = await SegmentLog.open(options(dir));
    const seqs = await Promise.all([1, 2, 3].map((i) => log.append(Buffer.from(`r${i}`))));
    log.release(seqs[0]!);
    const again = await SegmentLog.open(options(dir));
    expect(again.records.map((r) => r.body.toString())).toEqual(['r1', 'r2', 'r3']);
    await again.log.close();
    await log.close();
  });

  it('a segment goes from disk once every record in it is released', async () => {
    const dir = tmp();
    const { log } = await SegmentLog.open(options(dir, { segmentBytes: 100 }));
    const seqs: number[] = [];
    for (let i = 0; i < 10; i++) seqs.push(await log.append(Buffer.alloc(60, i)));
    expect(readdirSync(dir).length).toBeGreaterThanOrEqual(5);
    for (const s of seqs.slice(0, 8)) log.release(s);
    expect(readdirSync(dir).length).toBeLessThanOrEqual(3);
    expect((await log.read(seqs[9]!))!.equals(Buffer.alloc(60, 9))).toBe(true);
    for (const s of seqs.slice(8)) log.release(s);
    await log.close();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a torn tail is cut at the last good record and reported; a corrupt record likewise', async () => {
    const dir = tmp();
    const { log } = await SegmentLog.open(options(dir));
    for (let i = 0; i < 3; i++) await log.append(Buffer.from(`good ${i}`));
    await log.close();
    const [file] = readdirSync(dir).filter((f) => f.endsWith('.wal'));
    appendFileSync(join(dir, file!), Buffer.from([0x53, 0x52, 0x57, 0x31, 0, 0, 0, 99, 1, 2]));
    const torn = await SegmentLog.open(options(dir));
    expect(torn.records.map((r) => r.body.toString())).toEqual(['good 0', 'good 1', 'good 2']);
    expect(torn.problems[0]!.reason).toContain('torn record');
    await torn.log.append(Buffer.from('after the cut'));
    await torn.log.close();
    // Flip a byte inside the second record's body: it and what follows it in that segment go.
    const buf = readFileSync(join(dir, file!));
    buf[20 + 6 + 20 + 2]! ^= 0xff;
    writeFileSync(join(dir, file!), buf);
    const corrupt = await SegmentLog.open(options(dir));
    expect(corrupt.records.map((r) => r.body.toString())).toEqual(['good 0', 'after the cut']);
    expect(corrupt.problems[0]!.reason).toContain('checksum mismatch');
    await corrupt.log.close();
  });

  it('past max_size appends are refused as backpressure, and accepted again once records are released', async () => {
    const { log } = await SegmentLog.open(options(tmp(), { maxBytes: 1000 }));
    const seqs: number[] = [];
    await expect(
      (async () => {
        for (;;) seqs.push(await log.append(Buffer.alloc(100)));
      })(),
    ).rejects.toBeInstanceOf(BackpressureError);
    expect(seqs.length).toBeGreaterThanOrEqual(7);
    for (const s of seqs) log.release(s);
    // The active segment is reused until it fills; a fresh segment then starts empty.
    await log.close();
  });

  it('spans survive the codec exactly: 64-bit IDs, bigints, bytes, shared; the ack token is not written', () => {
    const s = span('a', 'b', 'web', 0, 5, { attributes: { big: 12345678901234567890n, bytes: Buffer.from([1, 2, 3]), n: 1.5, list: ['x', 2] }, shared: true });
    const back = decodeSpans(encodeSpans([{ ...s, ack: { done: () => undefined, drop: () => undefined } }]));
    expect(back).toEqual([{ ...s, attributes: { ...s.attributes, bytes: new Uint8Array([1, 2, 3]) } }]);
    expect(back[0]!.ack).toBeUndefined();
  });
});
