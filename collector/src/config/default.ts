import { parseDocument } from 'yaml';

/** The environment variable that says where the embedded default listens (`run --listen-host` wins over it). */
export const LISTEN_HOST_ENV = 'SPAN_RELAY_LISTEN_HOST';
/**
 * Where the embedded default listens unless told otherwise: loopback, as Jaeger v2's all-in-one
 * (JAEGER_LISTEN_HOST) and the OpenTelemetry Collector (since v0.104) do. The store serves every
 * trace it holds, with URLs, headers and attributes, to whoever reaches :16686.
 */
export const DEFAULT_LISTEN_HOST = '127.0.0.1';

const BASE_YAML = `
receivers:
  zipkin:
  opencensus:
  otlp:
    protocols:
      grpc:
      http:
  jaeger:
    protocols:
      grpc:
      thrift_http:
      thrift_compact:
      thrift_binary:
processors:
  memory_limiter:
    limit_mib: 512
    spike_limit_mib: 128
  join:
  batch:
exporters:
  embedded:
    path: ./data/traces.db   # SQLite; the trace page and Jaeger's query API on :16686
service:
  pipelines:
    traces:
      receivers: [zipkin, opencensus, otlp, jaeger]
      processors: [memory_limiter, join, batch]
      exporters: [embedded]
`;

/** Every listening endpoint of the embedded default, by its standard port. */
const STANDARD_PORTS = { zipkin: 9411, opencensus: 55678, otlpGrpc: 4317, otlpHttp: 4318, jaegerGrpc: 14250, thriftHttp: 14268, thriftCompact: 6831, thriftBinary: 6832, query: 16686, admin: 8888 };
type EndpointName = keyof typeof STANDARD_PORTS;

/** host:port, with an IPv6 host in brackets. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A host for `--listen-host` / SPAN_RELAY_LISTEN_HOST: a name or an address, without a port. */
export function checkListenHost(host: string): string | undefined {
  if (!host) return 'is empty';
  if (/\s|\/|^\[.*\]:\d+$|^[^:[\]]+:\d+$/.test(host)) return `${JSON.stringify(host.slice(0, 64))} is not a host (no port, no scheme): 127.0.0.1, 0.0.0.0, ::, a name`;
  return undefined;
}

function placed(at: (name: EndpointName) => string, logLevel?: string): string {
  const doc = parseDocument(BASE_YAML);
  doc.setIn(['receivers', 'zipkin'], { endpoint: at('zipkin') });
  doc.setIn(['receivers', 'opencensus'], { endpoint: at('opencensus') });
  doc.setIn(['receivers', 'otlp', 'protocols'], { grpc: { endpoint: at('otlpGrpc') }, http: { endpoint: at('otlpHttp') } });
  doc.setIn(['receivers', 'jaeger', 'protocols'], { grpc: { endpoint: at('jaegerGrpc') }, thrift_http: { endpoint: at('thriftHttp') }, thrift_compact: { endpoint: at('thriftCompact') }, thrift_binary: { endpoint: at('thriftBinary') } });
  doc.setIn(['exporters', 'embedded', 'query'], { endpoint: at('query') });
  doc.setIn(['service', 'telemetry'], { ...(logLevel ? { logs: { level: logLevel } } : {}), metrics: { address: at('admin') } });
  return String(doc);
}

/**
 * The embedded default: every receiver on its standard port, joined into one trace per request,
 * batched, stored under ./data with the trace page on :16686, every endpoint on `listenHost`.
 * `span-relay run` uses it when no --config is given.
 */
export function defaultConfig(listenHost = DEFAULT_LISTEN_HOST): string {
  return placed((name) => hostPort(listenHost, STANDARD_PORTS[name]));
}

/** The embedded default on loopback. */
// Pure: the bundle (which never reads it) drops it, and no start builds a config it does not run.
export const DEFAULT_CONFIG_YAML = /* @__PURE__ */ defaultConfig();

/**
 * The embedded default with its admin endpoint (/metrics, /readyz) on `base` and every other
 * listening endpoint on `base + 1`, `base + 2`, …, on 127.0.0.1: for starts that must not take the
 * standard ports (the build's training start, the startup bench); nothing else changes.
 */
export function defaultConfigOnPorts(base: number): string {
  const order = Object.keys(STANDARD_PORTS).filter((n) => n !== 'admin');
  return placed((name) => `127.0.0.1:${name === 'admin' ? base : base + 1 + order.indexOf(name)}`, 'warn');
}
