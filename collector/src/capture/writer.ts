import { mkdir, open, readdir, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { section } from '../config/schema-helpers.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import { encodeRecord, type CaptureHeader } from './format.js';

/** A receiver's `capture:` section. */
export const captureConfig = section(
  z.strictObject({
    enabled: z.boolean().default(true),
    directory: z.string().min(1).default('./data/capture'),
    max_file_megabytes: z.number().positive().default(64),
    max_files: z.number().int().positive().default(16),
    /** Records waiting for the disk; past this, new ones are not captured (and counted). */
    queue_megabytes: z.number().positive().default(32),
  }),
).optional();
export type CaptureConfig = NonNullable<z.output<typeof captureConfig>>;

/**
 * Tees what a receiver received to rotating capture files, off the hot path: record() only queues;
 * one writer drains the queue. A slow or full disk never blocks or fails ingest: what cannot be
 * queued or written is counted and logged once.
 */
export class CaptureWriter {
  private queue: Buffer[] = [];
  private queued = 0;
  private handle: FileHandle | undefined;
  private fileBytes = 0;
  private writing: Promise<void> | undefined;
  private warned = false;
  private seq = 0;
  private readonly missed;
  private readonly written;

  constructor(
    private readonly config: CaptureConfig,
    private readonly receiver: string,
    private readonly telemetry: Telemetry,
  ) {
    this.missed = telemetry.counter('span_relay_capture_missed_requests_total', 'Requests received but not captured (queue full, disk error).', ['receiver', 'reason'] as const);
    this.written = telemetry.counter('span_relay_capture_written_requests_total', 'Requests written to capture files.', ['receiver'] as const);
  }

  record(header: Omit<CaptureHeader, 'receiver' | 'receivedAt'>, body: Buffer): void {
    const bytes = encodeRecord({ header: { ...header, receiver: this.receiver, receivedAt: performance.timeOrigin + performance.now() }, body });
    if (this.queued + bytes.length > this.config.queue_megabytes * 1024 * 1024) {
      this.missed.inc({ receiver: this.receiver, reason: 'queue_full' });
      this.warnOnce('capture queue is full (disk too slow?): requests are not being captured');
      return;
    }
    this.queue.push(bytes);
    this.queued += bytes.length;
    this.writing ??= this.drain().finally(() => (this.writing = undefined));
  }

  private warnOnce(msg: string, err?: unknown): void {
    if (this.warned) return;
    this.warned = true;
    this.telemetry.logger.warn({ receiver: this.receiver, err }, msg);
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      const size = batch.reduce((n, b) => n + b.length, 0);
      try {
        if (!this.handle || this.fileBytes >= this.config.max_file_megabytes * 1024 * 1024) await this.rotate();
        await this.handle!.writev(batch);
        this.fileBytes += size;
        this.written.inc({ receiver: this.receiver }, batch.length);
        this.warned = false;
      } catch (err) {
        this.missed.inc({ receiver: this.receiver, reason: 'write_error' }, batch.length);
        this.warnOnce(`capture write failed: ${(err as Error).message}`, err);
        await this.handle?.close().catch(() => {});
        this.handle = undefined;
      } finally {
        this.queued -= size;
      }
    }
  }

  private async rotate(): Promise<void> {
    await this.handle?.close();
    await mkdir(this.config.directory, { recursive: true });
    const name = `${this.receiver.replace(/[^A-Za-z0-9_.-]/g, '_')}-${new Date().toISOString().replace(/[:.]/g, '-')}-${String(this.seq++).padStart(4, '0')}.srcap`;
    this.handle = await open(join(this.config.directory, name), 'a');
    this.fileBytes = 0;
    const prefix = `${this.receiver.replace(/[^A-Za-z0-9_.-]/g, '_')}-`;
    const files = (await readdir(this.config.directory)).filter((f) => f.startsWith(prefix) && f.endsWith('.srcap')).sort();
    for (const old of files.slice(0, Math.max(0, files.length - this.config.max_files))) await unlink(join(this.config.directory, old)).catch(() => {});
  }

  /** Writes what is queued, then closes the file. */
  async close(): Promise<void> {
    while (this.writing) await this.writing;
    await this.handle?.close();
    this.handle = undefined;
  }
}
