/**
 * The embedded default: every receiver on its standard port, joined into one trace per request,
 * batched, written as OTLP JSON lines under ./data. `span-relay run` uses it when no --config is given.
 */
export const DEFAULT_CONFIG_YAML = `
receivers:
  zipkin:
  opencensus:
  otlp:
    protocols:
      grpc:
      http:
processors:
  join:
  batch:
exporters:
  file:
    path: ./data/traces.jsonl
service:
  pipelines:
    traces:
      receivers: [zipkin, opencensus, otlp]
      processors: [join, batch]
      exporters: [file]
`;
