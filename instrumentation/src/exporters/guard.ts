import type { ExportResult } from '@opentelemetry/core';
import { ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';

/**
 * Never hurts the host: an exporter that cannot reach its backend drops the batch, says so once
 * (and once more when it recovers), and never throws or rejects into the app.
 */
export class GuardedExporter implements SpanExporter {
  private failing = false;
  dropped = 0;

  constructor(
    private readonly name: string,
    private readonly inner: SpanExporter,
    private readonly warn: (msg: string) => void,
  ) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    const finish = (result: ExportResult): void => {
      if (result.code === ExportResultCode.SUCCESS) {
        if (this.failing) this.warn(`span-relay kit: ${this.name} exporter recovered (${this.dropped} spans were dropped meanwhile)`);
        this.failing = false;
      } else {
        this.dropped += spans.length;
        if (!this.failing) this.warn(`span-relay kit: ${this.name} exporter cannot deliver spans (${result.error?.message ?? 'unknown error'}); dropping them until it can`);
        this.failing = true;
      }
      done(result);
    };
    try {
      this.inner.export(spans, finish);
    } catch (err) {
      finish({ code: ExportResultCode.FAILED, error: err as Error });
    }
  }

  async shutdown(): Promise<void> {
    await this.inner.shutdown().catch(() => {});
  }

  async forceFlush(): Promise<void> {
    await this.inner.forceFlush?.().catch(() => {});
  }
}
