/**
 * The kit's configuration, from the environment, as the OpenTelemetry conventions name it. A bad
 * value is reported once and replaced by its default: tracing must never stop the app starting.
 */
export interface KitConfig {
  exporters: ('otlp' | 'jaeger' | 'opencensus' | 'console' | 'none')[];
  otlpProtocol: 'http/protobuf' | 'grpc';
  ocAgentHost: string | undefined;
  propagators: string[];
  sampler: { name: string; arg: number | undefined };
  /** Spans kept in memory while the backend is slow or down (then dropped, counted). */
  maxQueueSize: number;
  disabled: boolean;
}

const EXPORTERS = new Set(['otlp', 'jaeger', 'opencensus', 'console', 'none']);
const PROPAGATORS = new Set(['tracecontext', 'baggage', 'b3', 'b3multi', 'none']);
const SAMPLERS = new Set(['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio']);

export function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
}

export function readConfig(env: NodeJS.ProcessEnv, problems: string[]): KitConfig {
  const ocAgentHost = env.OC_AGENT_HOST?.trim() || undefined;
  let exporters = list(env.OTEL_TRACES_EXPORTER);
  const unknown = exporters.filter((e) => !EXPORTERS.has(e));
  if (unknown.length > 0) {
    problems.push(`OTEL_TRACES_EXPORTER: unknown exporter(s) ${unknown.join(', ')}; expected otlp, jaeger, opencensus, console or none`);
    exporters = exporters.filter((e) => EXPORTERS.has(e));
  }
  // emojivoto's `kubectl set env --all deploy OC_AGENT_HOST=...` means "talk OpenCensus to that agent".
  if (exporters.length === 0) exporters = [ocAgentHost ? 'opencensus' : 'otlp'];

  let propagators = list(env.OTEL_PROPAGATORS);
  const badProp = propagators.filter((p) => !PROPAGATORS.has(p));
  if (badProp.length > 0) {
    problems.push(`OTEL_PROPAGATORS: unknown propagator(s) ${badProp.join(', ')}; expected tracecontext, baggage, b3, b3multi or none`);
    propagators = propagators.filter((p) => PROPAGATORS.has(p));
  }
  if (propagators.length === 0) propagators = ['tracecontext', 'baggage', 'b3multi'];

  let name = (env.OTEL_TRACES_SAMPLER ?? 'parentbased_always_on').trim().toLowerCase();
  if (!SAMPLERS.has(name)) {
    problems.push(`OTEL_TRACES_SAMPLER: unknown sampler ${name}; using parentbased_always_on`);
    name = 'parentbased_always_on';
  }
  let arg: number | undefined;
  if (env.OTEL_TRACES_SAMPLER_ARG !== undefined && env.OTEL_TRACES_SAMPLER_ARG !== '') {
    arg = Number(env.OTEL_TRACES_SAMPLER_ARG);
    if (!Number.isFinite(arg) || arg < 0 || arg > 1) {
      problems.push(`OTEL_TRACES_SAMPLER_ARG: ${env.OTEL_TRACES_SAMPLER_ARG} is not a ratio between 0 and 1; using 1`);
      arg = 1;
    }
  }
  const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf').trim();
  let otlpProtocol: KitConfig['otlpProtocol'] = 'http/protobuf';
  if (protocol === 'grpc') otlpProtocol = 'grpc';
  else if (protocol !== 'http/protobuf') problems.push(`OTEL_EXPORTER_OTLP_PROTOCOL: ${protocol} is not supported by the kit; using http/protobuf`);
  const queue = Number(env.OTEL_BSP_MAX_QUEUE_SIZE ?? 2048);
  return {
    exporters: exporters as KitConfig['exporters'],
    otlpProtocol,
    ocAgentHost,
    propagators,
    sampler: { name, arg },
    maxQueueSize: Number.isInteger(queue) && queue > 0 ? queue : 2048,
    disabled: (env.OTEL_SDK_DISABLED ?? '').toLowerCase() === 'true',
  };
}
