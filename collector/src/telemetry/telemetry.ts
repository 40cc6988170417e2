import { pino, type Logger } from 'pino';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The collector's own metrics and logs. One instance per running collector (tests start many), so
 * nothing is registered globally.
 */
export class Telemetry {
  readonly registry = new Registry();
  readonly logger: Logger;

  readonly receivedSpans = new Counter({
    name: 'span_relay_receiver_accepted_spans_total',
    help: 'Spans a receiver decoded and passed on.',
    labelNames: ['receiver', 'transport'] as const,
    registers: [this.registry],
  });
  readonly refusedSpans = new Counter({
    name: 'span_relay_receiver_refused_spans_total',
    help: 'Spans (or requests, where spans cannot be counted) a receiver refused, by reason.',
    labelNames: ['receiver', 'transport', 'reason'] as const,
    registers: [this.registry],
  });
  readonly droppedFields = new Counter({
    name: 'span_relay_receiver_dropped_fields_total',
    help: 'Parts of otherwise good spans that were dropped as malformed (e.g. an annotation with an absurd timestamp).',
    labelNames: ['receiver', 'reason'] as const,
    registers: [this.registry],
  });
  readonly exportedSpans = new Counter({
    name: 'span_relay_exporter_sent_spans_total',
    help: 'Spans an exporter delivered.',
    labelNames: ['exporter'] as const,
    registers: [this.registry],
  });
  readonly failedSpans = new Counter({
    name: 'span_relay_exporter_send_failed_spans_total',
    help: 'Spans an exporter gave up on after retries, or that the backend refused permanently.',
    labelNames: ['exporter', 'reason'] as const,
    registers: [this.registry],
  });
  readonly droppedSpans = new Counter({
    name: 'span_relay_exporter_enqueue_failed_spans_total',
    help: 'Spans dropped because an exporter queue was full.',
    labelNames: ['exporter'] as const,
    registers: [this.registry],
  });
  readonly queueSize = new Gauge({
    name: 'span_relay_exporter_queue_size',
    help: 'Batches waiting in an exporter queue.',
    labelNames: ['exporter'] as const,
    registers: [this.registry],
  });
  readonly queueCapacity = new Gauge({
    name: 'span_relay_exporter_queue_capacity',
    help: 'Capacity of an exporter queue, in batches.',
    labelNames: ['exporter'] as const,
    registers: [this.registry],
  });

  readonly unexpectedErrors = new Counter({
    name: 'span_relay_unexpected_errors_total',
    help: 'Errors no code path expected (a bug): logged, counted, and the collector stays up.',
    labelNames: ['component'] as const,
    registers: [this.registry],
  });
  readonly suppressedLogs = new Counter({
    name: 'span_relay_log_lines_suppressed_total',
    help: 'Repeated log lines not written because the same line was written within the last interval.',
    labelNames: ['key'] as const,
    registers: [this.registry],
  });

  /** Acknowledged spans that shutdown could not deliver within service.shutdown_timeout. */
  lostAtShutdown = 0;

  /** Components that stopped working, with why: /readyz answers 503 and lists them. */
  readonly failed = new Map<string, string>();
  private readonly lastLogged = new Map<string, { at: number; suppressed: number }>();
  private readonly extra = new Map<string, Counter | Gauge | Histogram>();

  /** Runs `write` at most once per `intervalMs` per key, telling it how many were suppressed since. */
  private limited(key: string, intervalMs: number, write: (suppressed: number) => void): void {
    const now = Date.now();
    const seen = this.lastLogged.get(key);
    if (seen && now - seen.at < intervalMs) {
      seen.suppressed++;
      this.suppressedLogs.inc({ key: key.split(':')[0]! });
      return;
    }
    if (this.lastLogged.size > 10_000) this.lastLogged.clear();
    write(seen?.suppressed ?? 0);
    this.lastLogged.set(key, { at: now, suppressed: 0 });
  }

  /**
   * A line that can repeat without bound (per span, per request): written at most once per
   * `intervalMs` per key, with how many were suppressed since the last one.
   */
  warnLimited(key: string, fields: Record<string, unknown>, message: string, intervalMs = 10_000): void {
    this.limited(key, intervalMs, (suppressed) => this.logger.warn({ ...fields, ...(suppressed ? { suppressed } : {}) }, message));
  }

  /** An error nothing expected: counted and logged (rate-limited), never thrown on. */
  reportUnexpected(err: unknown, component: string): void {
    this.unexpectedErrors.inc({ component });
    const e = err instanceof Error ? err : new Error(String(err));
    this.limited(`unexpected:${component}`, 10_000, (suppressed) => this.logger.error({ err: e, component, ...(suppressed ? { suppressed } : {}) }, `unexpected error in ${component}: ${e.message}`));
  }

  /** A component that can no longer do its job: /readyz reports it until it recovers. */
  markFailed(component: string, reason: string): void {
    if (!this.failed.has(component)) this.logger.error({ component, reason }, `${component} failed: ${reason}`);
    this.failed.set(component, reason);
  }

  markRecovered(component: string): void {
    if (this.failed.delete(component)) this.logger.info({ component }, `${component} recovered`);
  }

  /** A component's own counter, created once per collector (two instances share it by label). */
  counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
    let m = this.extra.get(name);
    if (!m) this.extra.set(name, (m = new Counter({ name, help, labelNames, registers: [this.registry] })));
    return m as Counter<L>;
  }

  gauge<L extends string>(name: string, help: string, labelNames: readonly L[]): Gauge<L> {
    let m = this.extra.get(name);
    if (!m) this.extra.set(name, (m = new Gauge({ name, help, labelNames, registers: [this.registry] })));
    return m as Gauge<L>;
  }

  histogram<L extends string>(name: string, help: string, labelNames: readonly L[], buckets: number[]): Histogram<L> {
    let m = this.extra.get(name);
    if (!m) this.extra.set(name, (m = new Histogram({ name, help, labelNames, buckets, registers: [this.registry] })));
    return m as Histogram<L>;
  }

  /** `bindings`: fields on every log line (a worker's index under --workers). */
  constructor(options: { logger?: Logger; level?: string; bindings?: Record<string, unknown> } = {}) {
    const logger = options.logger ?? pino({ level: options.level ?? process.env.SPAN_RELAY_LOG_LEVEL ?? 'info' });
    this.logger = options.bindings ? logger.child(options.bindings) : logger;
  }
}

/**
 * Label values that come from span data (service names): the first `max` distinct values are kept,
 * any further one is reported as `other`, so hostile or buggy senders cannot create series
 * without bound.
 */
export const LABEL_VALUES_MAX = 100;

export class BoundedLabel {
  private readonly seen = new Set<string>();
  constructor(private readonly max = LABEL_VALUES_MAX) {}
  value(v: string): string {
    if (this.seen.has(v)) return v;
    if (this.seen.size >= this.max) return 'other';
    this.seen.add(v);
    return v;
  }
}
