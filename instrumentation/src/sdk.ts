import { register as registerHooks } from 'node:module';
import { diag, DiagLogLevel, type Attributes } from '@opentelemetry/api';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type Sampler,
  type SpanExporter,
} from '@opentelemetry/sdk-trace';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { ExpressInstrumentation } from '@opentelemetry/instrumentation-express';
import { GrpcInstrumentation } from '@opentelemetry/instrumentation-grpc';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { createRequire } from 'node:module';
import { readConfig, type KitConfig } from './config.js';
import { buildPropagator } from './propagation.js';
import { detectResource } from './resource.js';
import { GuardedExporter } from './exporters/guard.js';

// Exporters are loaded only when chosen: each costs 70-80 ms of startup to import.
const load = createRequire(import.meta.url);
type OtlpExporterModule = { OTLPTraceExporter: new () => SpanExporter };

export interface Kit {
  sdk: NodeSDK | undefined;
  config: KitConfig;
  resource: Attributes;
  shutdown(): Promise<void>;
}

function sampler(c: KitConfig['sampler']): Sampler {
  const ratio = new TraceIdRatioBasedSampler(c.arg ?? 1);
  switch (c.name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return ratio;
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratio });
    default:
      // The ingress decides (B3 sampled flag / traceparent flags); we follow it end to end.
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

function exporter(name: KitConfig['exporters'][number], config: KitConfig, resource: Attributes): SpanExporter | undefined {
  switch (name) {
    case 'otlp':
      // Both read OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT and _HEADERS themselves.
      return config.otlpProtocol === 'grpc'
        ? new (load('@opentelemetry/exporter-trace-otlp-grpc') as OtlpExporterModule).OTLPTraceExporter()
        : new (load('@opentelemetry/exporter-trace-otlp-proto') as OtlpExporterModule).OTLPTraceExporter();
    case 'jaeger':
      // Thrift over HTTP to OTEL_EXPORTER_JAEGER_ENDPOINT, else UDP to the agent.
      return new (load('@opentelemetry/exporter-jaeger') as { JaegerExporter: new () => SpanExporter }).JaegerExporter();
    case 'opencensus':
      return new (load('./exporters/opencensus.js') as typeof import('./exporters/opencensus.js')).OpenCensusAgentExporter(config.ocAgentHost ?? 'localhost:55678', String(resource['service.name']), resource);
    case 'console':
      return new ConsoleSpanExporter();
    default:
      return undefined;
  }
}

/** Starts tracing for this process. Problems are reported once through `warn`; it never throws. */
export function startKit(env: NodeJS.ProcessEnv = process.env, warn: (msg: string) => void = (m) => process.emitWarning(m, 'SpanRelayKit')): Kit {
  const problems: string[] = [];
  const config = readConfig(env, problems);
  for (const p of problems) warn(`span-relay kit: ${p}`);
  const resource = detectResource(env, process.cwd());
  if (config.disabled) return { sdk: undefined, config, resource, shutdown: async () => {} };
  if (env.OTEL_LOG_LEVEL?.toLowerCase() === 'debug') diag.setLogger({ error: warn, warn, info: warn, debug: warn, verbose: warn }, DiagLogLevel.DEBUG);

  // ESM apps (`node --import kit/register app.mjs`) need the import hook to patch express & co.
  try {
    registerHooks('@opentelemetry/instrumentation/hook.mjs', import.meta.url);
  } catch (err) {
    warn(`span-relay kit: ESM instrumentation unavailable (${(err as Error).message}); CommonJS modules are still traced`);
  }

  // NodeSDK would otherwise start OTLP metrics and logs exporters from its env defaults: the kit is
  // for traces, and those exporters cost ~8 s of failed exports at shutdown where nothing listens.
  if (env === process.env) {
    process.env.OTEL_METRICS_EXPORTER ??= 'none';
    process.env.OTEL_LOGS_EXPORTER ??= 'none';
  }

  const spanProcessors = config.exporters.flatMap((name) => {
    const e = exporter(name, config, resource);
    if (!e) return [];
    return [new BatchSpanProcessor({ exporter: new GuardedExporter(name, e, warn), maxQueueSize: config.maxQueueSize, scheduledDelayMillis: Number(env.OTEL_BSP_SCHEDULE_DELAY ?? 1000) })];
  });
  const propagator = buildPropagator(config.propagators);
  const sdk = new NodeSDK({
    resource: resourceFromAttributes(resource),
    autoDetectResources: false,
    spanProcessors,
    sampler: sampler(config.sampler),
    textMapPropagator: propagator ?? null,
    instrumentations: [
      new HttpInstrumentation(),
      new ExpressInstrumentation(),
      new GrpcInstrumentation(),
      new UndiciInstrumentation(),
    ],
  });
  sdk.start();
  let stopped: Promise<void> | undefined;
  return {
    sdk,
    config,
    resource,
    shutdown: () => (stopped ??= sdk.shutdown().catch((err: unknown) => warn(`span-relay kit: shutdown: ${(err as Error).message}`))),
  };
}
