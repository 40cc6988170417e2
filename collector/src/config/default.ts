import { parseDocument } from 'yaml';

/**
 * The embedded default: every receiver on its standard port, joined into one trace per request,
 * batched, stored under ./data with the trace page on :16686. `span-relay run` uses it when no --config is given.
 */
export const DEFAULT_CONFIG_YAML = `
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

/**
 * The embedded default with its admin endpoint (/metrics, /readyz) on `base` and every other
 * listening endpoint on `base + 1`, `base + 2`, …, on 127.0.0.1: for starts that must not take the
 * standard ports (the build's training start, the startup bench); nothing else changes.
 */
export function defaultConfigOnPorts(base: number): string {
  const doc = parseDocument(DEFAULT_CONFIG_YAML);
  let next = base + 1;
  const at = () => `127.0.0.1:${next++}`;
  doc.setIn(['receivers', 'zipkin'], { endpoint: at() });
  doc.setIn(['receivers', 'opencensus'], { endpoint: at() });
  doc.setIn(['receivers', 'otlp', 'protocols'], { grpc: { endpoint: at() }, http: { endpoint: at() } });
  doc.setIn(['receivers', 'jaeger', 'protocols'], { grpc: { endpoint: at() }, thrift_http: { endpoint: at() }, thrift_compact: { endpoint: at() }, thrift_binary: { endpoint: at() } });
  doc.setIn(['exporters', 'embedded', 'query'], { endpoint: at() });
  doc.setIn(['service', 'telemetry'], { logs: { level: 'warn' }, metrics: { address: `127.0.0.1:${base}` } });
  return String(doc);
}
