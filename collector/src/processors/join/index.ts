import { z } from 'zod';
import { processorFactory, type Consumer, type CreateContext, type Processor } from '../../component.js';
import { BackpressureError } from '../../model/errors.js';
import type { Span, SpanBatch } from '../../model/span.js';
import { describeOrphan, findBreaks, serviceOf } from '../../trace/continuity.js';
import { duration, section } from '../../config/schema-helpers.js';
import { ATTR_ORIGINAL_SPAN_ID, splitSharedSpans, unifyTraceIds } from '../../trace/identity.js';
import { ATTR_INCOMPLETE, adjustClockSkew, emptyMemory, type NormalizeStats, type TraceMemory } from './normalize.js';
import { TraceWindow, estimateBytes, type HeldTrace } from './window.js';
import { RememberedTraces } from './remembered.js';
import { CLIENT, LONE_SERVER, SENT } from './span-ids.js';
import { BoundedLabel } from '../../telemetry/telemetry.js';
import { RecordAck } from '../../storage/ack.js';
import { ComponentLog } from '../../storage/component-log.js';
import { decodeSpans, encodeSpans } from '../../storage/span-codec.js';
import { attributeOf, withAttributes, withChanges } from '../../model/lazy-span.js';

export const joinConfig = section(
  z.strictObject({
    /** A trace goes out once no span of it has arrived for this long. */
    quiet_period: duration('3s'),
    /** ... or once it has been held this long, whatever still arrives. */
    max_trace_age: duration('30s'),
    max_traces: z.number().int().positive().default(50_000),
    max_bytes: z.number().int().positive().default(256 * 1024 * 1024),
    /** A trace holding this many spans goes out as a part (marked), and later spans follow as more parts. */
    max_spans_per_trace: z.number().int().positive().default(10_000),
    /** How long a released trace is remembered, so late spans still join it. */
    late_span_memory: duration('60s'),
    clock_skew: z.boolean().default(true),
    check_interval: duration('100ms'),
    /**
     * A storage extension (file_storage): each request is written to its log before it is
     * acknowledged, and what the log still holds is put back through the pipeline at start.
     */
    storage: z.string().min(1).optional(),
  }),
);
export type JoinConfig = z.output<typeof joinConfig>;

export interface JoinedTrace {
  traceId: string;
  spans: Span[];
  complete: boolean;
}

/**
 * Turns spans from every receiver into one continuous trace per request: holds each trace in a
 * bounded window, then unifies trace ID widths, splits shared Zipkin spans, corrects clock skew,
 * drops duplicates, and reports where a trace is broken.
 */
export class JoinProcessor implements Processor {
  private readonly window = new TraceWindow();
  private readonly memory = new RememberedTraces();
  private next: Consumer | undefined;
  private timer: NodeJS.Timeout | undefined;
  /**
   * Released spans the next stage refused (backpressure), retried on each tick; each batch keeps the
   * bytes it was counted for (a lazy span read meanwhile would estimate differently).
   */
  private pending: { spans: Span[]; bytes: number }[] = [];
  private pendingBytes = 0;
  private releasing: Promise<void> = Promise.resolve();
  private readonly m;
  private stored: ComponentLog | undefined;
  /** Orphan series are labelled by service name, which comes from span data: bounded. */
  private readonly serviceLabel = new BoundedLabel(100);
  /** Traces released by verdict since the counter was last told: counted once per release, not per trace. */
  private readonly verdicts = { complete: 0, broken: 0 };
  /** For tests and `check`: called with every trace as it leaves. */
  onRelease: ((t: JoinedTrace) => void) | undefined;

  constructor(
    private readonly config: JoinConfig,
    private readonly ctx: CreateContext,
  ) {
    const t = ctx.telemetry;
    const p = ['processor'] as const;
    this.m = {
      traces: t.counter('span_relay_join_traces_total', 'Traces the join released, by continuity verdict.', ['processor', 'verdict'] as const),
      orphans: t.counter('span_relay_join_orphan_spans_total', 'Spans released whose parent no service reported, by the orphan span\'s service.', ['processor', 'service'] as const),
      duplicates: t.counter('span_relay_join_duplicate_spans_total', 'Spans received more than once (e.g. retried) and dropped.', p),
      evicted: t.counter('span_relay_join_evicted_traces_total', 'Traces released early because a bound was hit, marked incomplete.', ['processor', 'reason'] as const),
      adjusted: t.counter('span_relay_join_adjusted_spans_total', 'Spans the join changed, by what it changed.', ['processor', 'adjustment'] as const),
      heldTraces: t.gauge('span_relay_join_traces_held', 'Traces held in the join window.', p),
      heldBytes: t.gauge('span_relay_join_bytes_held', 'Estimated bytes of spans held in the join window.', p),
    };
  }

  async start(next: Consumer): Promise<void> {
    this.next = next;
    if (this.config.storage) await this.recover(this.config.storage);
    this.timer = setInterval(() => {
      this.releasing = this.releasing
        .then(() => this.tick(Date.now()))
        .then(
          () => this.ctx.telemetry.markRecovered(`processor ${this.ctx.id}`),
          (err: unknown) => {
            // The window keeps its spans; the next tick tries again. /readyz says so meanwhile.
            this.ctx.telemetry.reportUnexpected(err, `processor ${this.ctx.id}`);
            this.ctx.telemetry.markFailed(`processor ${this.ctx.id}`, (err as Error).message);
          },
        );
    }, this.config.check_interval);
    this.timer.unref();
  }

  async consume(batch: SpanBatch): Promise<void> {
    if (this.pendingBytes > this.config.max_bytes) {
      throw new BackpressureError(`join: ${this.pending.length} released batches wait for the exporters; refusing new spans`, 'buffer_full');
    }
    let spans = batch.spans;
    const log = this.stored?.log;
    if (log && spans.length > 0) {
      // On disk before the client hears "accepted"; a refusal here is the client's 503.
      const seq = await log.append(encodeSpans(spans));
      // Durable now: a stage before that waits for its spans to be safe (the kafka receiver's
      // commit) hears it here, and the log owes them to the exporters from now on.
      for (const s of spans) s.ack?.drop(this.ctx.exporters ?? 1);
      const ack = new RecordAck(log, seq, spans.length, this.ctx.exporters ?? 1);
      // Copies: a receiver in several pipelines hands each the same span objects.
      spans = spans.map((s) => withChanges(s, { ack }));
    }
    this.hold(spans);
  }

  private hold(spans: readonly Span[]): void {
    const now = Date.now();
    let dups = 0;
    const over: { trace: HeldTrace; reason: string }[] = [];
    for (const s of spans) {
      const held = this.memory.hasSeen(s) ? undefined : this.window.add(s, now);
      if (!held) {
        dups++;
        s.ack?.drop(this.ctx.exporters ?? 1);
      }
      else if (held.spans.length >= this.config.max_spans_per_trace) {
        // A huge trace goes out in parts: each part marked, none lost, the memory joins the next.
        this.window.take(held);
        over.push({ trace: held, reason: 'max_spans_per_trace' });
      }
    }
    if (dups > 0) this.m.duplicates.inc({ processor: this.ctx.id }, dups);
    while (this.window.size > this.config.max_traces || this.window.bytes > this.config.max_bytes) {
      const reason = this.window.size > this.config.max_traces ? 'max_traces' : 'max_bytes';
      const t = this.window.takeOldest();
      if (!t) break;
      over.push({ trace: t, reason });
    }
    this.gauges();
    if (over.length > 0) {
      for (const o of over) this.m.evicted.inc({ processor: this.ctx.id, reason: o.reason });
      this.releasing = this.releasing.then(() => this.release(over, now));
    }
  }

  /** Opens the log and puts back through the window what the last run acknowledged but did not deliver. */
  private async recover(storageId: string): Promise<void> {
    this.stored = await ComponentLog.open(this.ctx, 'processor', storageId, 'join log');
    const { log, records } = this.stored;
    let recovered = 0;
    for (const r of records) {
      let spans: Span[];
      try {
        spans = decodeSpans(r.body);
      } catch (err) {
        this.ctx.telemetry.logger.warn({ processor: this.ctx.id, seq: r.seq, err }, 'join log: a record could not be read; skipped');
        log.release(r.seq);
        continue;
      }
      const ack = new RecordAck(log, r.seq, spans.length, this.ctx.exporters ?? 1);
      this.hold(spans.map((s) => withChanges(s, { ack })));
      recovered += spans.length;
    }
    if (recovered > 0) {
      this.stored.recovered(recovered);
      this.ctx.telemetry.logger.info({ processor: this.ctx.id, spans: recovered, records: records.length }, 'join log: sending again what the last run acknowledged but had not delivered');
    }
  }

  private gauges(): void {
    this.stored?.gauges();
    this.m.heldTraces.set({ processor: this.ctx.id }, this.window.size);
    this.m.heldBytes.set({ processor: this.ctx.id }, this.window.bytes);
  }

  private async tick(now: number): Promise<void> {
    this.memory.expire(now, this.config.late_span_memory, this.config.max_traces);
    const ready = this.window.takeReady(now, this.config.quiet_period, this.config.max_trace_age);
    for (const r of ready) if (r.reason === 'max_age') this.m.evicted.inc({ processor: this.ctx.id, reason: 'max_age' });
    this.gauges();
    if (ready.length > 0) await this.release(ready, now);
    else await this.flushPending();
  }

  /** Normalises, checks and sends the given traces on. */
  private async release(traces: { trace: HeldTrace; reason: string }[], now: number): Promise<void> {
    const out: Span[] = [];
    for (const { trace, reason } of traces) {
      for (const joined of this.joinTrace(trace, reason === 'quiet' ? undefined : reason, now)) for (const s of joined.spans) out.push(s);
    }
    for (const verdict of ['complete', 'broken'] as const) {
      if (this.verdicts[verdict] === 0) continue;
      this.m.traces.inc({ processor: this.ctx.id, verdict }, this.verdicts[verdict]);
      this.verdicts[verdict] = 0;
    }
    if (out.length > 0) {
      const bytes = out.reduce((n, s) => n + estimateBytes(s), 0);
      this.pending.push({ spans: out, bytes });
      this.pendingBytes += bytes;
    }
    await this.flushPending();
  }

  private async flushPending(): Promise<void> {
    while (this.pending.length > 0) {
      const { spans, bytes } = this.pending[0]!;
      try {
        await this.next!.consume({ spans });
      } catch (err) {
        if (err instanceof BackpressureError) return; // retried on the next tick
        this.ctx.telemetry.reportUnexpected(err, `processor ${this.ctx.id}`);
        this.ctx.telemetry.logger.error({ processor: this.ctx.id, spans: spans.length }, 'join: next stage failed; spans dropped');
        for (const s of spans) s.ack?.drop(this.ctx.exporters ?? 1);
      }
      this.pending.shift();
      this.pendingBytes -= bytes;
    }
  }

  joinTrace(trace: HeldTrace, incomplete: string | undefined, now: number): JoinedTrace[] {
    const memory = this.memory.take(trace.spans[0]!.traceId);
    const stats: NormalizeStats = { traceIdWidth: 0, sharedSplit: 0, clockSkew: 0 };
    const results: JoinedTrace[] = [];
    for (const group of unifyTraceIds(trace.spans, memory, stats)) {
      const { spans: split, splits } = splitSharedSpans(group, memory, stats);
      let spans = this.config.clock_skew ? adjustClockSkew(split, stats) : split;
      if (incomplete) spans = spans.map((s) => withAttributes(s, { [ATTR_INCOMPLETE]: incomplete }));
      const report = findBreaks(spans, memory && { has: (id) => memory.has(id, SENT), size: memory.sentCount });
      this.verdicts[report.complete ? 'complete' : 'broken']++;
      for (const o of report.orphans) {
        const service = this.serviceLabel.value(o.service);
        this.m.orphans.inc({ processor: this.ctx.id, service });
        this.ctx.telemetry.warnLimited(
          `join-orphan:${this.ctx.id}:${service}`,
          { processor: this.ctx.id, trace_id: report.traceId, span_id: o.span.spanId, service: o.service, missing_parent_id: o.missingParentId },
          describeOrphan(report.traceId, o),
        );
      }
      if (report.orphans.length === 0 && report.roots.length > 1) {
        this.ctx.telemetry.warnLimited(
          `join-roots:${this.ctx.id}:${this.serviceLabel.value(serviceOf(report.roots[0]!))}`,
          { processor: this.ctx.id, trace_id: report.traceId, roots: report.roots.slice(0, 10).map((r) => `${serviceOf(r)}:${r.spanId}`) },
          `trace ${report.traceId} has ${report.roots.length} roots (${report.roots.slice(0, 10).map((r) => serviceOf(r)).join(', ')}): a service started a new trace instead of continuing the incoming one`,
        );
      }
      // A trace not remembered yet takes over the rows of the spans the window saw.
      const mem: TraceMemory = memory ?? emptyMemory(spans[0]!.traceId, now, trace.seen);
      mem.releasedAt = now;
      if (mem.traceId.length < spans[0]!.traceId.length || mem.traceId.startsWith('0000000000000000')) mem.traceId = spans[0]!.traceId;
      for (const s of spans) {
        const role = s.kind === 'client' ? CLIENT : s.kind === 'server' && attributeOf(s, ATTR_ORIGINAL_SPAN_ID) === undefined ? LONE_SERVER : 0;
        mem.mark(s.spanId, SENT | role);
      }
      if (memory) for (const s of trace.spans) mem.addSeen(s);
      mem.compact();
      for (const [k, v] of splits) (mem.shared ??= new Map()).set(k, v);
      this.memory.put(mem);
      const joined = { traceId: report.traceId, spans, complete: report.complete };
      this.onRelease?.(joined);
      results.push(joined);
    }
    if (stats.traceIdWidth) this.m.adjusted.inc({ processor: this.ctx.id, adjustment: 'trace_id_width' }, stats.traceIdWidth);
    if (stats.sharedSplit) this.m.adjusted.inc({ processor: this.ctx.id, adjustment: 'shared_span' }, stats.sharedSplit);
    if (stats.clockSkew) this.m.adjusted.inc({ processor: this.ctx.id, adjustment: 'clock_skew' }, stats.clockSkew);
    return results;
  }

  async shutdown(deadline = Date.now() + 5_000): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.releasing;
    const all = this.window.takeAll().map((trace) => ({ trace, reason: 'quiet' }));
    this.gauges();
    await this.release(all, Date.now());
    while (this.pending.length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, Math.min(100, Math.max(1, deadline - Date.now()))));
      await this.flushPending();
    }
    if (this.pending.length > 0) {
      // Spans written to the log are not lost: the next start sends them again.
      const lost = this.pending.reduce((n, b) => n + b.spans.filter((s) => !s.ack).length, 0);
      this.ctx.telemetry.lostAtShutdown += lost;
      this.ctx.telemetry.logger.error({ processor: this.ctx.id, spans: lost }, 'join: shutdown timed out with spans the exporters would not take');
    }
  }
}

export const joinProcessorFactory = processorFactory({
  type: 'join',
  config: joinConfig,
  create: (config, ctx) => new JoinProcessor(config, ctx),
});
