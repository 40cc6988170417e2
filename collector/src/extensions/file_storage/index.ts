import { join, resolve } from 'node:path';
import { z } from 'zod';
import { extensionFactory, type Extension, type StorageProvider } from '../../component.js';
import { section } from '../../config/schema-helpers.js';
import { SegmentLog, type LogProblem, type LogRecord } from '../../storage/segment-log.js';

export const fileStorageConfig = section(
  z.strictObject({
    /** Where the logs live; one folder per component that stores (relative: from the working directory). */
    directory: z.string().min(1).default('./data/storage'),
    /** fdatasync after each group commit: survives a power cut, not only a killed process. */
    fsync: z.boolean().default(false),
    /** Bytes each component's log may hold on disk; past it, new spans are refused (503). */
    max_size: z.number().int().positive().default(1024 * 1024 * 1024),
    /** A log's segment files are cut at this size. */
    segment_size: z.number().int().positive().default(16 * 1024 * 1024),
  }),
);

/**
 * The OpenTelemetry Collector's file_storage extension, as span-relay's components use it: a
 * write-ahead log for the join (`processors.join.storage`) and persistent exporter queues
 * (`exporters.<x>.sending_queue.storage`), each in its own folder under `directory`.
 */
export class FileStorage implements Extension, StorageProvider {
  private readonly logs: SegmentLog[] = [];

  constructor(
    readonly id: string,
    private readonly config: z.output<typeof fileStorageConfig>,
  ) {}

  async start(): Promise<void> {}

  async openLog(owner: string): Promise<{ log: SegmentLog; records: LogRecord[]; problems: LogProblem[] }> {
    const opened = await SegmentLog.open({
      directory: join(resolve(this.config.directory), owner.replace(/[^A-Za-z0-9_.-]/g, '_')),
      fsync: this.config.fsync,
      maxBytes: this.config.max_size,
      segmentBytes: Math.min(this.config.segment_size, Math.max(4096, Math.floor(this.config.max_size / 4))),
    });
    this.logs.push(opened.log);
    return opened;
  }

  async shutdown(): Promise<void> {
    for (const l of this.logs.splice(0)) await l.close();
  }
}

export const fileStorageExtensionFactory = extensionFactory({
  type: 'file_storage',
  config: fileStorageConfig,
  create: (config, ctx) => new FileStorage(ctx.id, config),
});
