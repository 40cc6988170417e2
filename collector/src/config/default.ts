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
