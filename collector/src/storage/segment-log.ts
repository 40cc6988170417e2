/**
 * An append-only log in segment files, as Grafana Tempo's ingester WAL and the OpenTelemetry
 * Collector's persistent queue keep one: records framed with a checksum, appended with group
 * commit (all records waiting share one write and one fsync), released one by one, a segment
 * deleted once every record in it is released. On open, what was not released is read back; a
 * torn or corrupt tail is cut off at the last good record and reported, never fatal.
 *
 *   record: "SRW1" | u32 body length | u64 sequence | u32 CRC-32 of (sequence, body) | body
 *
 * Releases are kept in memory; a clean close writes, beside each segment still in use, which of
 * its records are still live (`<segment>.live`), so a restart reads back only those. After a
 * crash every record of a segment still in use comes back: at least once, never lost.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, unlinkSync, truncateSync, statSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { BackpressureError } from '../model/errors.js';

const MAGIC = 0x53525731; // "SRW1"
const HEADER = 20;
const MAX_RECORD = 256 * 1024 * 1024;

export interface SegmentLogOptions {
  directory: string;
  /** fsync (fdatasync) after each group commit: survives power loss, not only kill -9. */
  fsync: boolean;
  /** Bytes on disk this log may hold; appends past it are refused (backpressure). */
  maxBytes: number;
  /** A new segment file is started past this size. */
  segmentBytes: number;
}

export interface LogRecord {
  seq: number;
  body: Buffer;
}

export interface LogProblem {
  file: string;
  position: number;
  reason: string;
}

interface Segment {
  file: string;
  firstSeq: number;
  bytes: number;
  /** Records not yet released, with where each body is. */
  live: Map<number, { offset: number; length: number; at: number }>;
}

interface Waiting {
  body: Buffer;
  resolve: (seq: number) => void;
  reject: (err: Error) => void;
}

const segmentName = (firstSeq: number): string => `${String(firstSeq).padStart(16, '0')}.wal`;

/** The live records a clean close wrote down; consumed (deleted) by the open that reads it. */
function readLiveList(file: string): Set<number> | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const list = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    unlinkSync(file);
    return Array.isArray(list) ? new Set(list.filter((x): x is number => typeof x === 'number')) : undefined;
  } catch {
    return undefined;
  }
}

function frame(seq: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(HEADER + body.length);
  out.writeUInt32BE(MAGIC, 0);
  out.writeUInt32BE(body.length, 4);
  out.writeBigUInt64BE(BigInt(seq), 8);
  out.writeUInt32BE(crc32(body, crc32(out.subarray(8, 16))), 16);
  body.copy(out, HEADER);
  return out;
}

export class SegmentLog {
  private readonly segments: Segment[] = [];
  private active: { segment: Segment; fh: FileHandle } | undefined;
  private nextSeq = 1;
  private waiting: Waiting[] = [];
  private flushing: Promise<void> | undefined;
  private closed = false;
  /** Bytes of all segment files. */
  bytes = 0;

  private constructor(private readonly options: SegmentLogOptions) {}

  /**
   * Opens (creating) the log in `options.directory` and returns every record not yet released,
   * in order, with the problems met (a torn tail is truncated; a bad record in an older segment
   * ends what is read of that segment).
   */
  static async open(options: SegmentLogOptions): Promise<{ log: SegmentLog; records: LogRecord[]; problems: LogProblem[] }> {
    mkdirSync(options.directory, { recursive: true });
    const log = new SegmentLog(options);
    const records: LogRecord[] = [];
    const problems: LogProblem[] = [];
    const files = readdirSync(options.directory)
      .filter((f) => f.endsWith('.wal'))
      .sort();
    for (const name of files) {
      const file = join(options.directory, name);
      const buf = readFileSync(file);
      const liveList = readLiveList(`${file}.live`);
      const segment: Segment = { file, firstSeq: Number(name.slice(0, -4)), bytes: 0, live: new Map() };
      let pos = 0;
      while (pos < buf.length) {
        const bad = (reason: string): void => {
          problems.push({ file, position: pos, reason });
        };
        if (buf.length - pos < HEADER) {
          bad('torn record at the end (header cut short)');
          break;
        }
        if (buf.readUInt32BE(pos) !== MAGIC) {
          bad('no record marker');
          break;
        }
        const length = buf.readUInt32BE(pos + 4);
        if (length > MAX_RECORD || pos + HEADER + length > buf.length) {
          bad(length > MAX_RECORD ? 'impossible record length' : 'torn record at the end (body cut short)');
          break;
        }
        const body = buf.subarray(pos + HEADER, pos + HEADER + length);
        if (buf.readUInt32BE(pos + 16) !== crc32(body, crc32(buf.subarray(pos + 8, pos + 16)))) {
          bad('checksum mismatch (corrupt record)');
          break;
        }
        const seq = Number(buf.readBigUInt64BE(pos + 8));
        if (!liveList || liveList.has(seq)) {
          segment.live.set(seq, { offset: pos + HEADER, length, at: Date.now() });
          records.push({ seq, body: Buffer.from(body) });
        }
        log.nextSeq = Math.max(log.nextSeq, seq + 1);
        pos += HEADER + length;
      }
      // Everything after the last good record goes: the next append must follow a whole record.
      if (pos < buf.length) truncateSync(file, pos);
      segment.bytes = pos;
      log.bytes += pos;
      if (segment.live.size === 0) {
        unlinkSync(file);
        log.bytes -= pos;
      } else log.segments.push(segment);
    }
    return { log, records, problems };
  }

  /** Records appended but not released. */
  get liveRecords(): number {
    let n = 0;
    for (const s of this.segments) n += s.live.size;
    return n;
  }

  /** Age in ms of the oldest record not released (0 when there is none). */
  oldestAgeMs(now = Date.now()): number {
    for (const s of this.segments) for (const r of s.live.values()) return now - r.at;
    return 0;
  }

  /**
   * Appends one record; resolves with its sequence number once it is written (and synced, with
   * fsync) together with whatever else was waiting. Refuses with BackpressureError when the log
   * is at max_size or the disk says no: nothing is acknowledged that is not on disk.
   */
  append(body: Buffer): Promise<number> {
    if (this.closed) return Promise.reject(new BackpressureError('storage is closed', 'shutting_down'));
    const pendingBytes = this.waiting.reduce((n, w) => n + w.body.length + HEADER, 0);
    if (this.bytes + pendingBytes + body.length + HEADER > this.options.maxBytes) {
      return Promise.reject(new BackpressureError(`storage ${this.options.directory} is full (max_size ${this.options.maxBytes} bytes)`, 'storage_full'));
    }
    return new Promise((resolve, reject) => {
      this.waiting.push({ body, resolve, reject });
      if (!this.flushing) this.flushing = new Promise<void>((r) => setImmediate(r)).then(() => this.flush());
    });
  }

  private async flush(): Promise<void> {
    while (this.waiting.length > 0) {
      const batch = this.waiting;
      this.waiting = [];
      try {
        const active = await this.activeSegment();
        const at = Date.now();
        const frames: Buffer[] = [];
        const placed: { seq: number; offset: number; length: number }[] = [];
        let offset = active.segment.bytes;
        for (const w of batch) {
          const seq = this.nextSeq++;
          frames.push(frame(seq, w.body));
          placed.push({ seq, offset: offset + HEADER, length: w.body.length });
          offset += HEADER + w.body.length;
        }
        const data = Buffer.concat(frames);
        try {
          await active.fh.write(data, 0, data.length, active.segment.bytes);
          if (this.options.fsync) await active.fh.datasync();
        } catch (err) {
          // A full or failing disk: cut what may be half-written, refuse this group (no ack).
          await active.fh.truncate(active.segment.bytes).catch(() => undefined);
          this.nextSeq -= batch.length;
          throw new BackpressureError(`storage ${this.options.directory}: cannot write (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, 'storage_full');
        }
        active.segment.bytes += data.length;
        this.bytes += data.length;
        for (const p of placed) active.segment.live.set(p.seq, { offset: p.offset, length: p.length, at });
        batch.forEach((w, i) => w.resolve(placed[i]!.seq));
      } catch (err) {
        for (const w of batch) w.reject(err as Error);
      }
    }
    this.flushing = undefined;
  }

  private async activeSegment(): Promise<{ segment: Segment; fh: FileHandle }> {
    if (this.active && this.active.segment.bytes < this.options.segmentBytes) return this.active;
    if (this.active) await this.active.fh.close();
    const segment: Segment = { file: join(this.options.directory, segmentName(this.nextSeq)), firstSeq: this.nextSeq, bytes: 0, live: new Map() };
    const fh = await open(segment.file, 'a+');
    segment.bytes = (await fh.stat()).size;
    this.bytes += segment.bytes;
    this.segments.push(segment);
    const previous = this.active?.segment;
    this.active = { segment, fh };
    if (previous) this.dropIfDone(previous);
    return this.active;
  }

  /** Reads a record's body back (a persistent queue keeps only where its records are). */
  async read(seq: number): Promise<Buffer | undefined> {
    const segment = this.segmentOf(seq);
    const where = segment?.live.get(seq);
    if (!segment || !where) return undefined;
    const fh = this.active?.segment === segment ? this.active.fh : await open(segment.file, 'r');
    try {
      const buf = Buffer.allocUnsafe(where.length);
      await fh.read(buf, 0, where.length, where.offset);
      return buf;
    } finally {
      if (fh !== this.active?.fh) await fh.close();
    }
  }

  /** The record is no longer needed; its segment goes once all of its records have. */
  release(seq: number): void {
    const segment = this.segmentOf(seq);
    if (!segment || !segment.live.delete(seq)) return;
    this.dropIfDone(segment);
  }

  private segmentOf(seq: number): Segment | undefined {
    for (let i = this.segments.length - 1; i >= 0; i--) if (this.segments[i]!.firstSeq <= seq) return this.segments[i];
    return undefined;
  }

  private dropIfDone(segment: Segment): void {
    if (segment.live.size > 0 || segment === this.active?.segment) return;
    const i = this.segments.indexOf(segment);
    if (i < 0) return;
    this.segments.splice(i, 1);
    try {
      this.bytes -= statSync(segment.file).size;
      unlinkSync(segment.file);
      if (existsSync(`${segment.file}.live`)) unlinkSync(`${segment.file}.live`);
    } catch {
      // Already gone: nothing to free.
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.flushing;
    if (this.active) {
      const { fh, segment } = this.active;
      this.active = undefined;
      await fh.close();
      this.dropIfDone(segment);
    }
    for (const s of this.segments) writeFileSync(`${s.file}.live`, JSON.stringify([...s.live.keys()]));
  }
}
