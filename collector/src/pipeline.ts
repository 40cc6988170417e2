import type { Authenticator, Consumer, CreateContext, Exporter, Extension, Processor, Receiver, StorageProvider } from './component.js';
import { ConfigError } from './model/errors.js';
import { serverTls } from './security/server-tls.js';
import { builtinComponents, type Components } from './components.js';
import type { CollectorConfig, ComponentConfig } from './config/load.js';
import type { SpanBatch } from './model/span.js';
import { ListenError } from './model/errors.js';
import { AdminServer } from './telemetry/admin.js';
import { Telemetry } from './telemetry/telemetry.js';

/** Sends each batch to every consumer; refused if any refuses (the sender then retries). */
class Fanout implements Consumer {
  constructor(private readonly consumers: Consumer[]) {}
  async consume(batch: SpanBatch): Promise<void> {
    if (this.consumers.length === 1) return this.consumers[0]!.consume(batch);
    await Promise.all(this.consumers.map((c) => c.consume(batch)));
  }
}

/** `storage: <id>` on a processor or an exporter's sending_queue must name a storage extension the service runs. */
function checkStorageReferences(config: CollectorConfig): void {
  const running = new Set(config.extensions.map((e) => e.id));
  const errors: string[] = [];
  const check = (where: string, id: unknown): void => {
    if (typeof id === 'string' && !running.has(id)) errors.push(`${where}: storage '${id}' is not an extension listed in service.extensions`);
  };
  for (const p of config.processors.values()) check(`processors.${p.id}.storage`, (p.config as { storage?: unknown }).storage);
  for (const e of config.exporters.values()) check(`exporters.${e.id}.sending_queue.storage`, (e.config as { sending_queue?: { storage?: unknown } }).sending_queue?.storage);
  // `auth: { authenticator: <id> }` anywhere in a receiver's config.
  for (const r of config.receivers.values()) {
    const walk = (v: unknown, path: string): void => {
      if (!v || typeof v !== 'object') return;
      for (const [k, x] of Object.entries(v)) {
        if (k === 'auth' && x && typeof x === 'object' && typeof (x as { authenticator?: unknown }).authenticator === 'string') {
          const id = (x as { authenticator: string }).authenticator;
          if (!running.has(id)) errors.push(`${path}.auth.authenticator: '${id}' is not an extension listed in service.extensions`);
        } else walk(x, `${path}.${k}`);
      }
    };
    walk(r.config, `receivers.${r.id}`);
  }
  if (errors.length > 0) throw new ConfigError('', errors.join('\n'));
}

/** Runs a start step; a server that cannot listen is reported with the component that owns it. */
async function named(component: string, start: () => Promise<void> | undefined): Promise<void> {
  try {
    await start();
  } catch (err) {
    throw err instanceof ListenError ? err.in(component) : err;
  }
}

export interface CollectorOptions {
  components?: Components;
  telemetry?: Telemetry;
  /** Admin endpoint override (tests use 127.0.0.1:0); `false` turns the admin server off. */
  adminEndpoint?: string | false;
  /** Wraps what each receiver feeds (`span-relay run --workers N` puts trace affinity there). */
  receiverConsumer?: (receiver: string, pipelines: Consumer) => Consumer;
}

/**
 * Builds every component from the config and wires receivers → processors → exporters.
 * Nothing else knows the graph.
 */
export class Collector {
  readonly telemetry: Telemetry;
  readonly receivers = new Map<string, Receiver>();
  readonly exporters = new Map<string, Exporter>();
  private readonly processors: Processor[][] = [];
  private readonly extensions: Extension[] = [];
  private readonly admin: AdminServer | undefined;
  private running = false;
  private heads = new Map<string, Consumer[]>();
  private readonly receiverConsumer: CollectorOptions['receiverConsumer'];

  constructor(
    private readonly config: CollectorConfig,
    options: CollectorOptions = {},
  ) {
    const components = options.components ?? builtinComponents;
    this.receiverConsumer = options.receiverConsumer;
    this.telemetry = options.telemetry ?? new Telemetry({ level: config.telemetry.logLevel });
    const storages = new Map<string, StorageProvider>();
    const authenticators = new Map<string, Authenticator>();
    const make = <T>(c: ComponentConfig, extra: Partial<CreateContext> = {}): T => {
      const factory = components[c.kind].find((f) => f.type === c.type)!;
      const ctx: CreateContext = { id: c.id, telemetry: this.telemetry, storage: (id) => storages.get(id), authenticator: (id) => authenticators.get(id), ...extra };
      return (factory.create as (cfg: unknown, ctx: CreateContext) => T)(c.config, ctx);
    };
    checkStorageReferences(config);
    for (const c of config.extensions) {
      const e = make<Extension>(c);
      this.extensions.push(e);
      if ('openLog' in e) storages.set(c.id, e as unknown as StorageProvider);
      if ('authenticate' in e) authenticators.set(c.id, e as unknown as Authenticator);
    }
    for (const c of config.exporters.values()) this.exporters.set(c.id, make<Exporter>(c));
    for (const p of config.pipelines) {
      // Each pipeline gets its own processor instances, as in the OpenTelemetry Collector.
      this.processors.push(p.processors.map((id) => make<Processor>(config.processors.get(id)!, { exporters: p.exporters.length, id: config.pipelines.length > 1 ? `${id}@${p.name}` : id })));
    }
    // A receiver's spans are settled once by every exporter of every pipeline it feeds.
    const fanout = (receiver: string): number => config.pipelines.reduce((n, p) => n + (p.receivers.includes(receiver) ? p.exporters.length : 0), 0);
    for (const c of config.receivers.values()) this.receivers.set(c.id, make<Receiver>(c, { exporters: fanout(c.id) }));
    const adminEndpoint = options.adminEndpoint ?? config.telemetry.metricsAddress;
    if (adminEndpoint !== false) this.admin = new AdminServer(adminEndpoint, this.telemetry, () => this.running, serverTls(config.telemetry.metricsTls, 'service.telemetry.metrics', adminEndpoint, this.telemetry));
  }

  async start(): Promise<void> {
    const host = { telemetry: this.telemetry, ready: () => this.running };
    await named('the admin endpoint (service.telemetry.metrics.address)', () => this.admin?.start());
    for (const [i, e] of this.extensions.entries()) await named(`extension '${this.config.extensions[i]!.id}'`, () => e.start(host));
    for (const e of this.exporters.values()) await e.start();
    const starts: Promise<void>[] = [];
    this.config.pipelines.forEach((p, i) => {
      let next: Consumer = new Fanout(p.exporters.map((id) => this.exporters.get(id)!));
      const procs = this.processors[i]!;
      for (let j = procs.length - 1; j >= 0; j--) {
        starts.push(procs[j]!.start(next));
        next = procs[j]!;
      }
      for (const r of p.receivers) this.heads.set(r, [...(this.heads.get(r) ?? []), next]);
    });
    // Processors that keep a log put back what it held before any receiver takes new spans.
    await Promise.all(starts);
    for (const [id, r] of this.receivers) {
      const pipelines = new Fanout(this.heads.get(id)!);
      await named(`receiver '${id}'`, () => r.start(this.receiverConsumer ? this.receiverConsumer(id, pipelines) : pipelines));
    }
    this.running = true;
    this.telemetry.logger.info({ pipelines: this.config.pipelines.map((p) => p.name), admin: this.admin?.address() }, 'span-relay is running');
  }

  adminAddress(): string | undefined {
    return this.admin?.address();
  }

  /**
   * Within service.shutdown_timeout: receivers stop accepting (requests in flight get up to a third
   * of it, then their connections are cut), processors flush, exporters drain their queues until
   * the deadline; whatever is still undelivered then is counted in `telemetry.lostAtShutdown`.
   */
  async shutdown(timeoutMs = this.config.shutdownTimeoutMs): Promise<void> {
    this.running = false;
    const started = Date.now();
    const deadline = started + timeoutMs;
    const receiversDone = started + Math.min(10_000, Math.floor(timeoutMs / 3));
    await Promise.all([...this.receivers.values()].map((r) => r.shutdown(receiversDone)));
    // Processors and exporters share what is left; a pipeline's processors flush before its exporters drain.
    for (const procs of this.processors) for (const p of procs) await p.shutdown(deadline - 500);
    await Promise.all([...this.exporters.values()].map((e) => e.shutdown(deadline)));
    await Promise.all([...this.receivers.values()].map((r) => r.drained?.(deadline)));
    for (const e of this.extensions) await e.shutdown();
    await this.admin?.shutdown(1000);
    this.telemetry.logger.info({ took_ms: Date.now() - started, undelivered_spans: this.telemetry.lostAtShutdown }, 'span-relay stopped');
  }
}
