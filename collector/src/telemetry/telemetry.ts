import { pino, type Logger } from 'pino';
import { Counter, Gauge, Registry } from 'prom-client';

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

  private readonly extra = new Map<string, Counter | Gauge>();

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

  constructor(options: { logger?: Logger; level?: string } = {}) {
    this.logger = options.logger ?? pino({ level: options.level ?? process.env.SPAN_RELAY_LOG_LEVEL ?? 'info' });
  }
}
