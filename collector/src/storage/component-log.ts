import type { CreateContext } from '../component.js';
import type { LogRecord, SegmentLog } from './segment-log.js';

/**
 * A component's own log in a storage extension (the join's write-ahead log, an exporter's
 * persistent queue), with the storage series every such log reports for its component.
 */
export class ComponentLog {
  private readonly component: string;
  private readonly m;

  private constructor(
    readonly log: SegmentLog,
    readonly records: LogRecord[],
    kind: 'processor' | 'exporter',
    private readonly ctx: CreateContext,
  ) {
    this.component = `${kind} ${ctx.id}`;
    const t = ctx.telemetry;
    this.m = {
      recovered: t.counter('span_relay_storage_recovered_spans_total', 'Spans read back from storage at start, to be sent again.', ['component'] as const),
      bytes: t.gauge('span_relay_storage_bytes', 'Bytes a component holds in storage.', ['component'] as const),
      oldest: t.gauge('span_relay_storage_oldest_entry_age_seconds', 'Age of the oldest record a component still holds in storage.', ['component'] as const),
    };
  }

  /** Opens the component's log in storage `storageId`; a torn or corrupt tail cut at open is logged as `what`'s. */
  static async open(ctx: CreateContext, kind: 'processor' | 'exporter', storageId: string, what: string): Promise<ComponentLog> {
    const storage = ctx.storage?.(storageId);
    if (!storage) throw new Error(`${kind} ${ctx.id}: storage '${storageId}' is not running`);
    const { log, records, problems } = await storage.openLog(`${kind}-${ctx.id}`);
    for (const p of problems) ctx.telemetry.logger.warn({ [kind]: ctx.id, ...p }, `${what}: ${p.reason}; cut at the last good record`);
    return new ComponentLog(log, records, kind, ctx);
  }

  /** Counts spans read back at start, to be sent again. */
  recovered(spans: number): void {
    this.m.recovered.inc({ component: this.component }, spans);
  }

  /** The log's size and the age of its oldest record, as gauges. */
  gauges(): void {
    this.m.bytes.set({ component: this.component }, this.log.bytes);
    this.m.oldest.set({ component: this.component }, this.log.oldestAgeMs() / 1000);
  }
}
