import { z } from 'zod';
import { exporterFactory, type CreateContext } from '../../component.js';
import { duration, endpoint, section, serverTlsSettings } from '../../config/schema-helpers.js';
import { DEFAULT_HTTP_SERVER, HttpServer } from '../../net/http-server.js';
import { authCheck } from '../../security/auth.js';
import { ConfigError } from '../../model/errors.js';
import { serverTls } from '../../security/server-tls.js';
import { QueuedExporter, senderSettings } from '../sender.js';
import { TraceStore } from './store.js';
import { queryHandler } from './query.js';
import { RouteMetrics } from './route-metrics.js';

export const embeddedExporterConfig = z.strictObject({
  /** The SQLite file (relative: from the working directory). */
  path: z.string().min(1).default('./data/traces.db'),
  retention: section(
    z.strictObject({
      max_age: duration('72h'),
      max_bytes: z.number().int().positive().default(1024 * 1024 * 1024),
      check_interval: duration('10s'),
    }),
  ),
  /** Jaeger's query API and span-relay's trace page; `enabled: false` keeps the store headless. */
  query: section(
    z.strictObject({
      enabled: z.boolean().default(true),
      endpoint: endpoint('0.0.0.0:16686'),
      tls: serverTlsSettings.optional(),
      /** An authenticator extension (bearertokenauth) every request must satisfy, as on a receiver. */
      auth: z.strictObject({ authenticator: z.string().min(1) }).optional(),
    }),
  ),
  ...senderSettings,
});
export type EmbeddedExporterConfig = z.output<typeof embeddedExporterConfig>;

/**
 * Stores what the join released in an embedded SQLite file and serves it: Jaeger's query API
 * (Grafana's Jaeger data source and Jaeger UI can point at it) and a trace page at `/`.
 */
export class EmbeddedExporter extends QueuedExporter {
  readonly store: TraceStore;
  private readonly query: HttpServer | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly dropped;

  constructor(
    private readonly cfg: EmbeddedExporterConfig,
    private readonly c: CreateContext,
  ) {
    const store = new TraceStore(cfg.path);
    const routes = new RouteMetrics(c.telemetry);
    super(c, { ...cfg, sending_queue: { ...cfg.sending_queue, num_consumers: 1 } }, async (batch) => {
        const traces = store.write(batch.spans);
        // Stored is delivered: a fault in the counting must not send the batch round again.
        try {
          routes.record([...traces.values()]);
        } catch (err) {
          c.telemetry.reportUnexpected(err, `exporter ${c.id} (route metrics)`);
        }
      }, async () => this.closeStore());
    this.store = store;
    this.dropped = c.telemetry.counter('span_relay_store_dropped_traces_total', 'Traces the embedded store dropped to stay within its retention, by reason.', ['exporter', 'reason'] as const);
    if (cfg.query.enabled) {
      // Fail at start rather than answer every request 401: the authenticator must be a running extension.
      if (cfg.query.auth && !c.authenticator?.(cfg.query.auth.authenticator)) {
        throw new ConfigError(`exporters.${c.id}.query.auth.authenticator`, `'${cfg.query.auth.authenticator}' is not an authenticator extension listed in service.extensions`);
      }
      this.query = new HttpServer(cfg.query.endpoint, queryHandler(store, authCheck(cfg.query.auth, c)), (err) => c.telemetry.reportUnexpected(err, `exporter ${c.id} (query)`), {
        ...DEFAULT_HTTP_SERVER,
        tls: serverTls(cfg.query.tls, `exporters.${c.id}.query`, cfg.query.endpoint, c.telemetry),
      });
    }
  }

  override async start(): Promise<void> {
    await super.start();
    this.enforce();
    this.timer = setInterval(() => this.enforce(), this.cfg.retention.check_interval);
    this.timer.unref();
    if (this.query) {
      await this.query.start();
      this.c.telemetry.logger.info({ exporter: this.c.id, endpoint: this.query.address(), path: this.cfg.path }, `trace page and Jaeger query API on http${this.cfg.query.tls ? 's' : ''}://${this.query.address()}/`);
    }
  }

  /** host:port of the query API and page. */
  address(): string {
    return this.query?.address() ?? '';
  }

  private enforce(): void {
    const d = this.store.enforce({ maxAgeMs: this.cfg.retention.max_age, maxBytes: this.cfg.retention.max_bytes });
    if (d.max_age) this.dropped.inc({ exporter: this.c.id, reason: 'max_age' }, d.max_age);
    if (d.max_bytes) this.dropped.inc({ exporter: this.c.id, reason: 'max_bytes' }, d.max_bytes);
  }

  private async closeStore(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.query?.shutdown(1000);
    this.store.close();
  }
}

export const embeddedExporterFactory = exporterFactory({
  type: 'embedded',
  config: embeddedExporterConfig,
  create: (config, ctx) => new EmbeddedExporter(config, ctx),
});
