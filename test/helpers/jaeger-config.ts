/** Jaeger v2 as compose and deploy/ run it: the image and config the tests' peer runs (peers/jaeger). */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { substituteEnv } from '../../collector/src/config/load.js';

/** The Jaeger the tests run, as an image: Jaeger v1 (all-in-one, jaeger-collector…) is end of life. */
export const JAEGER_IMAGE = 'jaegertracing/jaeger:2.12.0';
export const JAEGER_CONFIG = readFileSync(new URL('../../peers/jaeger/config.yaml', import.meta.url), 'utf8');

/**
 * Where Jaeger v2 listens when it runs peers/jaeger/config.yaml with `env`, for what its service
 * section starts: `otlp/grpc`, `zipkin`, `jaeger_query/http`, `healthcheckv2/http`… → host:port.
 */
export function jaegerListens(env: Record<string, string>): Map<string, string> {
  type Pull = { pull?: { exporter?: { prometheus?: { host: string; port: string } } } };
  const c = substituteEnv(parse(JAEGER_CONFIG), env) as { service: { extensions: string[]; pipelines: { traces: { receivers: string[] } }; telemetry?: { metrics?: { readers?: Pull[] } } }; receivers: Record<string, unknown>; extensions: Record<string, unknown> };
  const on = new Map<string, string>();
  const walk = (at: string, v: unknown): void => {
    for (const [k, x] of Object.entries(v && typeof v === 'object' ? v : {})) if (k === 'endpoint' && typeof x === 'string') on.set(at, x); else walk(k === 'protocols' ? at : `${at}/${k}`, x);
  };
  for (const r of c.service.pipelines.traces.receivers) walk(r, c.receivers[r]);
  for (const e of c.service.extensions) walk(e, c.extensions[e]);
  for (const r of c.service.telemetry?.metrics?.readers ?? []) if (r.pull?.exporter?.prometheus) on.set('telemetry/prometheus', `${r.pull.exporter.prometheus.host}:${r.pull.exporter.prometheus.port}`);
  return on;
}

/** The Jaeger v2 receiver each of span-relay's exporter types speaks to (none for jaeger_thrift: the config runs no Thrift receiver). */
export const JAEGER_RECEIVER_FOR: Record<string, string> = { otlp: 'otlp/grpc', otlphttp: 'otlp/http', jaeger: 'jaeger/grpc' };
