// node:dns's `promises` is a getter that loads node's promise resolver (~3 ms) when first read: read at a
// lookup, not at every start (node:dns/promises imported by name loads it with the bundle).
import { promises as dnsPromises } from 'node:dns';
import { z } from 'zod';
import { exporterFactory, type CreateContext, type Exporter } from '../../component.js';
import { duration, section } from '../../config/schema-helpers.js';
import { BackpressureError } from '../../model/errors.js';
import { serviceNameOf, type Span, type SpanBatch } from '../../model/span.js';
import { traceKey } from '../../trace/key.js';
import { otlpExporterFactory, otlpGrpcExporterConfig } from '../otlp/index.js';
import type { QueuedExporter } from '../sender.js';
import { HashRing } from './ring.js';

const backendSettings = otlpGrpcExporterConfig.omit({ endpoint: true }).partial({ tls: true, headers: true, compression: true, timeout: true, sending_queue: true, retry_on_failure: true });

export const loadbalancingExporterConfig = z.strictObject({
  /** traceID: the low 64 bits of the trace ID, so every width of one request's ID lands together. */
  routing_key: z.enum(['traceID', 'service']).default('traceID'),
  protocol: z.strictObject({ otlp: section(backendSettings) }),
  resolver: z
    .strictObject({
      static: z.strictObject({ hostnames: z.array(z.string().regex(/^.+:\d{1,5}$/, 'expected host:port')).min(1) }).optional(),
      dns: z
        .strictObject({
          hostname: z.string().min(1),
          port: z.number().int().min(1).max(65_535).default(4317),
          interval: duration('5s'),
          timeout: duration('1s'),
        })
        .optional(),
    })
    .refine((r) => (r.static === undefined) !== (r.dns === undefined), { message: 'set exactly one of static or dns' }),
});
type LoadbalancingConfig = z.output<typeof loadbalancingExporterConfig>;

/**
 * The OpenTelemetry Collector's loadbalancing exporter, routing on the low 64 bits of the trace ID
 * (a 64-bit Zipkin ID and the 128-bit ID of the same request reach the same backend) over a
 * consistent-hash ring of OTLP backends from a static list or a DNS name (a headless Service).
 * When a backend leaves the ring, what was queued for it, and what it was still sending, goes to
 * the backends that own those traces now: not lost (the OTel exporter's contrib#35378).
 */
export class LoadbalancingExporter implements Exporter {
  private ring = new HashRing([]);
  private readonly backends = new Map<string, QueuedExporter>();
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private readonly mBackends;

  constructor(
    private readonly config: LoadbalancingConfig,
    private readonly ctx: CreateContext,
  ) {
    this.mBackends = ctx.telemetry.gauge('span_relay_loadbalancer_backends', 'Backends on the loadbalancing ring.', ['exporter'] as const);
  }

  async start(): Promise<void> {
    const r = this.config.resolver;
    if (r.static) await this.setBackends(r.static.hostnames);
    else {
      await this.resolve();
      this.timer = setInterval(() => void this.resolve(), r.dns!.interval);
      this.timer.unref();
    }
  }

  private async resolve(): Promise<void> {
    const dns = this.config.resolver.dns!;
    try {
      const found = await Promise.race([
        dnsPromises.lookup(dns.hostname, { all: true }),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${dns.timeout} ms`)), dns.timeout).unref()),
      ]);
      const endpoints = [...new Set(found.map((a) => (a.family === 6 ? `[${a.address}]:${dns.port}` : `${a.address}:${dns.port}`)))].sort();
      await this.setBackends(endpoints);
    } catch (err) {
      // Keep the ring we have: a DNS hiccup must not empty it.
      this.ctx.telemetry.warnLimited(`lb-dns:${this.ctx.id}`, { exporter: this.ctx.id, hostname: dns.hostname }, `loadbalancing: cannot resolve ${dns.hostname}: ${(err as Error).message}; keeping ${this.backends.size} backend(s)`, 30_000);
    }
  }

  /** The ring becomes `endpoints`; a backend that left hands what it held to the new owners. */
  async setBackends(endpoints: readonly string[]): Promise<void> {
    const next = [...new Set(endpoints)].sort();
    const current = [...this.backends.keys()].sort();
    if (next.join(',') === current.join(',')) return;
    const added = next.filter((e) => !this.backends.has(e));
    const removed = current.filter((e) => !next.includes(e));
    for (const e of added) {
      const exporter = otlpExporterFactory.create(otlpGrpcExporterConfig.parse({ ...this.config.protocol.otlp, endpoint: e }), { ...this.ctx, id: `${this.ctx.id}/${e}` }) as QueuedExporter;
      await exporter.start();
      this.backends.set(e, exporter);
    }
    this.ring = new HashRing(next);
    this.mBackends.set({ exporter: this.ctx.id }, next.length);
    this.ctx.telemetry.logger.info({ exporter: this.ctx.id, backends: next, added, removed }, `loadbalancing: ring now has ${next.length} backend(s)`);
    for (const e of removed) {
      const gone = this.backends.get(e)!;
      this.backends.delete(e);
      const rerouted: Span[] = [];
      gone.handBack = (batch) => {
        for (const s of batch.spans) rerouted.push(s);
      };
      // What it is sending now gets a moment to finish; the rest comes back here.
      await gone.shutdown(Date.now() + 2000);
      if (rerouted.length > 0) {
        this.ctx.telemetry.logger.info({ exporter: this.ctx.id, backend: e, spans: rerouted.length }, 'loadbalancing: re-routing what a departed backend still held');
        await this.route(rerouted, true);
      }
    }
  }

  private keyOf(s: Span): string {
    return this.config.routing_key === 'service' ? (serviceNameOf(s) ?? '') : traceKey(s.traceId);
  }

  async consume(batch: SpanBatch): Promise<void> {
    if (this.stopping) throw new BackpressureError(`exporter ${this.ctx.id} is shutting down`, 'shutting_down');
    await this.route(batch.spans, false);
  }

  /** Splits spans by owner and hands each part to its backend; `retry`: keep trying a refusing backend (re-routed spans are already acknowledged). */
  private async route(spans: readonly Span[], retry: boolean): Promise<void> {
    const parts = new Map<string, Span[]>();
    for (const s of spans) {
      const owner = this.ring.get(this.keyOf(s));
      if (!owner) throw new BackpressureError(`exporter ${this.ctx.id}: no backend on the ring`, 'queue_full');
      const p = parts.get(owner);
      if (p) p.push(s);
      else parts.set(owner, [s]);
    }
    // A refusal refuses the whole batch upstream; the parts already queued go again with it, and
    // the joiners' duplicate check drops those repeats.
    await Promise.all(
      [...parts].map(async ([owner, part]) => {
        for (let attempt = 0; ; attempt++) {
          try {
            await this.backends.get(owner)!.consume({ spans: part });
            return;
          } catch (err) {
            if (!retry || !(err instanceof BackpressureError) || attempt > 600) throw err;
            await new Promise((r) => setTimeout(r, 100));
          }
        }
      }),
    );
  }

  async shutdown(deadline = Date.now() + 10_000): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    await Promise.all([...this.backends.values()].map((b) => b.shutdown(deadline)));
  }
}

export const loadbalancingExporterFactory = exporterFactory({
  type: 'loadbalancing',
  config: loadbalancingExporterConfig,
  create: (config, ctx) => new LoadbalancingExporter(config, ctx),
});
