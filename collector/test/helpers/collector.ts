import { pino, type Logger } from 'pino';
import { Collector } from '../../src/pipeline.js';
import { builtinComponents } from '../../src/components.js';
import { parseConfig } from '../../src/config/load.js';
import { Telemetry } from '../../src/telemetry/telemetry.js';

export interface RunningCollector {
  collector: Collector;
  telemetry: Telemetry;
  /** host:port of a receiver (`zipkin`, `opencensus`) or of one protocol (`otlp.grpc`, `jaeger.thrift_compact`). */
  address(id: string): string;
  url(id: string): string;
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

/** Starts a collector from YAML (ports 0 on 127.0.0.1 by the caller's config), logging silenced. */
export async function startCollector(yaml: string, env: NodeJS.ProcessEnv = {}, options: { logger?: Logger } = {}): Promise<RunningCollector> {
  const telemetry = new Telemetry({ logger: options.logger ?? pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }) });
  const config = parseConfig(yaml, builtinComponents, env);
  const collector = new Collector(config, { telemetry, adminEndpoint: '127.0.0.1:0' });
  await collector.start();
  const address = (id: string): string => {
    const [rid, proto] = id.split('.');
    const r = collector.receivers.get(rid!);
    if (!r) throw new Error(`no receiver ${rid}`);
    if (proto) return (r as unknown as { addresses(): Record<string, string | undefined> }).addresses()[proto]!;
    return (r as unknown as { address(): string }).address();
  };
  return {
    collector,
    telemetry,
    address,
    url: (id) => `http://${address(id)}`,
    metrics: () => telemetry.registry.metrics(),
    stop: () => collector.shutdown(),
  };
}

/** A small metric reader: the value of one series, 0 when absent. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/** Fast-retry exporter settings so tests don't wait on production backoff. */
export const FAST_RETRY = `
    retry_on_failure:
      initial_interval: 20ms
      max_interval: 100ms
      max_elapsed_time: 3s`;

export const ZIPKIN_OC_OTLP_RECEIVERS = `
receivers:
  zipkin:
    endpoint: 127.0.0.1:0
  opencensus:
    endpoint: 127.0.0.1:0
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
      http:
        endpoint: 127.0.0.1:0
  jaeger:
    protocols:
      thrift_http:
        endpoint: 127.0.0.1:0
`;

/** All receivers → batch → otlp exporter at `sinkEndpoint`. */
export function otlpPipelineYaml(sinkEndpoint: string, extra = ''): string {
  return `${ZIPKIN_OC_OTLP_RECEIVERS}
processors:
  batch:
    timeout: 10ms
exporters:
  otlp:
    endpoint: ${sinkEndpoint}
    tls:
      insecure: true${FAST_RETRY}
${extra}
service:
  pipelines:
    traces:
      receivers: [zipkin, opencensus, otlp]
      processors: [batch]
      exporters: [otlp]
`;
}

/** Polls `check` until it returns true (bounded: `timeoutMs`, 20 ms apart). */
export async function eventually(check: () => Promise<boolean> | boolean, what = 'condition', timeoutMs = 2000): Promise<void> {
  for (let i = 0; i < timeoutMs / 20; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A pino logger whose lines (parsed) land in `lines`, for asserting on what a user would read. */
export function capturingLogger(): { logger: Logger; lines: { level: number; msg: string; [k: string]: unknown }[] } {
  const lines: { level: number; msg: string }[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as { level: number; msg: string }) });
  return { logger, lines };
}

/**
 * The tracer tests' pipeline: the named receivers (each on 127.0.0.1:0; `otlp` with gRPC and HTTP,
 * `jaeger` with the protocols listed after a colon, as `jaeger:thrift_compact,grpc`) → the join
 * with a short quiet period → batch → OTLP gRPC to `sinkEndpoint`.
 */
export function tracerRelayYaml(sinkEndpoint: string, receivers: string[]): string {
  const receiver = (r: string): string => {
    const [type, protocols] = r.split(':') as [string, string | undefined];
    if (type === 'otlp') return '  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:0\n      http:\n        endpoint: 127.0.0.1:0\n';
    if (protocols) return `  ${type}:\n    protocols:\n${protocols.split(',').map((p) => `      ${p}:\n        endpoint: 127.0.0.1:0\n`).join('')}`;
    return `  ${type}:\n    endpoint: 127.0.0.1:0\n`;
  };
  return `
receivers:
${receivers.map(receiver).join('')}processors:
  join:
    quiet_period: 300ms
    check_interval: 20ms
  batch:
    timeout: 10ms
exporters:
  otlp:
    endpoint: ${sinkEndpoint}
    tls: { insecure: true }
service:
  pipelines:
    traces:
      receivers: [${receivers.map((r) => r.split(':')[0]).join(', ')}]
      processors: [join, batch]
      exporters: [otlp]
`;
}
