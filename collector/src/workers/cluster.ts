/**
 * `span-relay run --workers N`: a primary process forks N workers that share the listening ports
 * (Node's cluster module hands each new connection to the next worker) and hand spans to the worker
 * that owns their trace (./affinity.ts). The primary serves /metrics (the workers' metrics summed,
 * each series by its labels), /healthz and /readyz once for the whole collector, forwards SIGTERM
 * and SIGINT, and restarts a worker that dies.
 */
import type { Cluster, Worker } from 'node:cluster';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { AggregatorRegistry } from 'prom-client';
import type { Consumer } from '../component.js';
import type { CollectorConfig } from '../config/load.js';
import { ConfigError } from '../model/errors.js';
import type { CollectorOptions } from '../pipeline.js';
import { serverTls } from '../security/server-tls.js';
import { AdminServer } from '../telemetry/admin.js';
import { Telemetry } from '../telemetry/telemetry.js';
import { HandoffServer } from './affinity.js';

const ENV_INDEX = 'SPAN_RELAY_WORKER';
const ENV_COUNT = 'SPAN_RELAY_WORKERS';
const ENV_DIR = 'SPAN_RELAY_WORKER_DIR';
const READY = 'span-relay:worker-ready';

/**
 * node:cluster, loaded when a process is a primary with workers or may be a worker: with
 * child_process, which it loads, it is ~17 ms of every start on the 2-core machine, and a single
 * process (the default) needs neither.
 */
// getBuiltinModule gives the module's exports, the cluster object itself (its types describe the ES namespace).
const clusterModule = (): Cluster => process.getBuiltinModule('node:cluster') as unknown as Cluster;

/** Whether this process is a worker forked by runPrimary (which sets ENV_INDEX in its environment). */
export function isWorker(): boolean {
  return process.env[ENV_INDEX] !== undefined && clusterModule().isWorker;
}

/** `--workers`: a count, or `auto` for the cores this process may use; absent means one process. */
export function parseWorkers(flag: string | undefined): number {
  if (flag === undefined) return 1;
  if (flag === 'auto') return availableParallelism();
  const n = Number(flag);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new ConfigError('--workers', `expected a whole number from 1 to 256, or auto; got '${flag}'`);
  return n;
}

/**
 * Components that own files cannot run once per worker: each worker would write the same store,
 * queue or capture files; nor can a kafka receiver. Every such key is named.
 */
export function checkWorkersConfig(config: CollectorConfig): void {
  const errors: string[] = [];
  for (const e of config.exporters.values()) {
    if (e.type === 'embedded' || e.type === 'file') errors.push(`exporters.${e.id}: the ${e.type} exporter writes files that one process owns`);
  }
  for (const x of config.extensions) if (x.type === 'file_storage') errors.push(`extensions.${x.id}: file_storage directories are owned by one process`);
  // Its offsets are committed once the spans are safe in this process, which a hand-off to
  // another worker would hide; the topic's partitions already spread the work: run more joiners.
  for (const r of config.receivers.values()) if (r.type === 'kafka') errors.push(`receivers.${r.id}: a kafka receiver scales by partitions, one process per member of its consumer group`);
  const walk = (v: unknown, path: string): void => {
    if (!v || typeof v !== 'object') return;
    for (const [k, x] of Object.entries(v)) {
      if (k === 'capture' && x && typeof x === 'object' && (x as { enabled?: unknown }).enabled !== false) errors.push(`${path}.capture: capture files are owned by one process`);
      else walk(x, `${path}.${k}`);
    }
  };
  for (const r of config.receivers.values()) walk(r.config, `receivers.${r.id}`);
  if (errors.length > 0) throw new ConfigError('', `--workers above 1 cannot run this config:\n${errors.join('\n')}\nrun it with --workers 1, or scale out with the loadbalancing exporter in front of single-process joiners`);
}

/** This process's worker index under --workers; undefined in a single process or the primary. */
export function workerIndex(): number | undefined {
  return isWorker() ? Number(process.env[ENV_INDEX]) : undefined;
}

/** In a worker: the collector options that put trace affinity in front of every receiver. */
export function workerRole(telemetry: Telemetry): { index: number; options: CollectorOptions; handoff: HandoffServer; ready(): void } | undefined {
  const index = workerIndex();
  if (index === undefined) return undefined;
  const count = Number(process.env[ENV_COUNT]);
  const dir = process.env[ENV_DIR]!;
  // Answers the primary's requests for this worker's metrics.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([telemetry.registry]);
  const heads = new Map<string, Consumer>();
  const handoff = new HandoffServer(dir, index, count, (receiver) => heads.get(receiver), telemetry);
  const pipelines = (receiver: string, local: Consumer): Consumer => {
    heads.set(receiver, local);
    return handoff.router(receiver, local);
  };
  return {
    index,
    handoff,
    options: { adminEndpoint: false, telemetry, receiverConsumer: pipelines },
    ready: () => process.send?.({ type: READY }),
  };
}

/** The primary: forks the workers, serves the admin endpoint, and returns the exit code once they have all stopped. */
export async function runPrimary(config: CollectorConfig, count: number): Promise<number> {
  checkWorkersConfig(config);
  const telemetry = new Telemetry({ level: config.telemetry.logLevel });
  const log = telemetry.logger.child({ role: 'primary' });
  const dir = mkdtempSync(join(tmpdir(), 'span-relay-workers-'));
  const cluster = clusterModule();
  const aggregator = new AggregatorRegistry();
  const workers = new Map<number, Worker>();
  const ready = new Set<number>();
  let stopping = false;
  let everStarted = false;
  let everyoneReady!: () => void;
  const allReady = new Promise<void>((resolve) => (everyoneReady = resolve));
  let anyExit!: (code: number) => void;
  const failedToStart = new Promise<number>((resolve) => (anyExit = resolve));

  const fork = (index: number): void => {
    const w = cluster.fork({ [ENV_INDEX]: String(index), [ENV_COUNT]: String(count), [ENV_DIR]: dir });
    workers.set(index, w);
    w.on('message', (m: { type?: string }) => {
      if (m?.type !== READY) return;
      ready.add(index);
      log.info({ worker: index, worker_pid: w.process.pid }, `worker ${index} ready`);
      if (ready.size === count) everyoneReady();
    });
    w.on('exit', (code, signal) => {
      const wasReady = ready.delete(index);
      if (stopping) return;
      // During startup a worker that exits (a port in use, a bad certificate) stops them all.
      if (!everStarted) return anyExit(code ?? 1);
      log.error({ worker: index, code, signal, was_ready: wasReady }, `worker ${index} exited (${signal ?? `code ${code}`}); starting another`);
      fork(index);
    });
  };

  const admin = new AdminServer(
    config.telemetry.metricsAddress,
    telemetry,
    () => !stopping && ready.size === count,
    serverTls(config.telemetry.metricsTls, 'service.telemetry.metrics', config.telemetry.metricsAddress, telemetry),
    async () => ({ body: await aggregator.clusterMetrics(), contentType: aggregator.contentType }),
  );
  const stopAll = async (signal: NodeJS.Signals): Promise<number> => {
    stopping = true;
    const codes = await Promise.all(
      [...workers.values()].map(
        (w) =>
          new Promise<number>((resolve) => {
            if (w.process.exitCode !== null) return resolve(w.process.exitCode);
            w.once('exit', (code) => resolve(code ?? 1));
            w.process.kill(signal);
          }),
      ),
    );
    await admin.shutdown(1000).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    return Math.max(0, ...codes);
  };

  await admin.start();
  for (let i = 0; i < count; i++) fork(i);
  const started = await Promise.race([allReady.then(() => undefined), failedToStart]);
  if (started !== undefined) {
    log.error({ code: started }, 'a worker could not start: stopping the others');
    await stopAll('SIGTERM');
    return started;
  }
  everStarted = true;
  log.info({ workers: count, admin: admin.address() }, `span-relay is running with ${count} workers`);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  log.info({ signal }, 'shutting down the workers');
  return stopAll('SIGTERM');
}
