import { mkdir, open, rename, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { exporterFactory, type CreateContext } from '../../component.js';
import type { SpanBatch } from '../../model/span.js';
import { modelToOtlpJson } from '../../protocol/otlp/encode.js';
import { QueuedExporter, senderSettings } from '../sender.js';
import { section } from '../../config/schema-helpers.js';

export const fileExporterConfig = z.strictObject({
  path: z.string().min(1).default('./data/traces.jsonl'),
  rotation: section(z.strictObject({ max_megabytes: z.number().positive().default(100), max_backups: z.number().int().nonnegative().default(3) })),
  ...senderSettings,
});
type FileExporterConfig = z.output<typeof fileExporterConfig>;

/**
 * OTLP/JSON, one ExportTraceServiceRequest per line: the format of the OpenTelemetry Collector's
 * file exporter, so `span-relay replay` and other tools read it back.
 */
class FileWriter {
  private handle: FileHandle | undefined;
  private size = 0;

  constructor(private readonly config: FileExporterConfig) {}

  async write(batch: SpanBatch): Promise<void> {
    if (!this.handle) {
      await mkdir(dirname(this.config.path), { recursive: true });
      this.handle = await open(this.config.path, 'a');
      this.size = (await stat(this.config.path)).size;
    }
    const line = `${JSON.stringify(modelToOtlpJson(batch))}\n`;
    await this.handle.write(line);
    this.size += Buffer.byteLength(line);
    if (this.size > this.config.rotation.max_megabytes * 1024 * 1024) await this.rotate();
  }

  private async rotate(): Promise<void> {
    await this.close();
    const { path, rotation } = this.config;
    for (let i = rotation.max_backups - 1; i >= 1; i--) await rename(`${path}.${i}`, `${path}.${i + 1}`).catch(() => {});
    if (rotation.max_backups > 0) await rename(path, `${path}.1`);
  }

  async close(): Promise<void> {
    await this.handle?.close();
    this.handle = undefined;
  }
}

export const fileExporterFactory = exporterFactory({
  type: 'file',
  config: fileExporterConfig,
  create: (config, ctx: CreateContext) => {
    const writer = new FileWriter(config);
    // One writer: lines must not interleave.
    return new QueuedExporter(ctx, { ...config, sending_queue: { ...config.sending_queue, num_consumers: 1 } }, (batch) => writer.write(batch), () => writer.close());
  },
});
