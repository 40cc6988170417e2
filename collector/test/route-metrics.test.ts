/**
 * Route metrics (#32): what the embedded store writes, counted per called service and route in the
 * spanmetrics connector's shape, with service and route label values capped as the join's orphan
 * counter caps its service label; and through a running collector's /metrics.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { RouteMetrics } from '../src/exporters/embedded/route-metrics.js';
import { modelToOtlpJson } from '../src/protocol/otlp/encode.js';
import { LABEL_VALUES_MAX, Telemetry } from '../src/telemetry/telemetry.js';
import { eventually, metricValue, startCollector } from './helpers/collector.js';
import { retriedVote } from './helpers/routes.js';
import { span } from './join/spans.js';

const votes = () => [retriedVote('f1', [503, 503, 200]), retriedVote('f2', [504, 504, 504]), retriedVote('f3', [503, 200]), retriedVote('f4', [200])];

describe('route metrics', () => {
  it('requests by outcome, attempts, timeouts and a duration histogram per called service and route', async () => {
    const telemetry = new Telemetry({ logger: pino({ level: 'silent' }) });
    new RouteMetrics(telemetry).record(votes());
    const text = await telemetry.registry.metrics();
    const route = { service: 'voting-svc', route: 'POST /vote' };
    expect(metricValue(text, 'span_relay_route_requests_total', { ...route, outcome: 'success' })).toBe(3);
    expect(metricValue(text, 'span_relay_route_requests_total', { ...route, outcome: 'failure' })).toBe(1);
    expect(metricValue(text, 'span_relay_route_attempts_total', route)).toBe(9);
    expect(metricValue(text, 'span_relay_route_timeouts_total', route)).toBe(3);
    // Each request took 98 ms from its first attempt to its last.
    expect(metricValue(text, 'span_relay_route_request_duration_seconds_count', route)).toBe(4);
    expect(metricValue(text, 'span_relay_route_request_duration_seconds_bucket', { ...route, le: '0.05' })).toBe(0);
    expect(metricValue(text, 'span_relay_route_request_duration_seconds_bucket', { ...route, le: '0.1' })).toBe(4);
    expect(metricValue(text, 'span_relay_route_request_duration_seconds_sum', route)).toBeCloseTo(0.392, 6);
    expect(text).not.toContain('service="web"');
  });

  it(`caps label values: ${LABEL_VALUES_MAX} services, ${LABEL_VALUES_MAX} routes a service, the rest counted as other`, async () => {
    const telemetry = new Telemetry({ logger: pino({ level: 'silent' }) });
    const m = new RouteMetrics(telemetry);
    const call = (trace: string, service: string, path: string) => {
      const t = { traceId: trace };
      return [
        span('1', undefined, 'caller', 0, 10, { ...t, kind: 'client', attributes: { 'http.request.method': 'GET', 'url.path': path } }),
        span('2', '1', service, 1, 9, t),
      ];
    };
    const n = LABEL_VALUES_MAX + 50;
    m.record(Array.from({ length: n }, (_, i) => call(`a${i}`, 'catalog', `/item/${i}`)));
    m.record(Array.from({ length: n }, (_, i) => call(`b${i}`, `svc-${i}`, '/')));
    const text = await telemetry.registry.metrics();
    const series = text.split('\n').filter((l) => l.startsWith('span_relay_route_attempts_total{'));
    expect(series.filter((l) => l.includes('service="catalog"'))).toHaveLength(LABEL_VALUES_MAX + 1);
    expect(metricValue(text, 'span_relay_route_attempts_total', { service: 'catalog', route: 'other' })).toBe(50);
    expect(metricValue(text, 'span_relay_route_attempts_total', { service: 'catalog', route: 'GET /item/0' })).toBe(1);
    // catalog took one of the service names: svc-0 … svc-98 keep theirs, the other 51 are one series.
    expect(new Set(series.map((l) => /service="([^"]+)"/.exec(l)![1])).size).toBe(LABEL_VALUES_MAX + 1);
    expect(metricValue(text, 'span_relay_route_attempts_total', { service: 'other', route: 'GET /' })).toBe(n - (LABEL_VALUES_MAX - 1));
  });

  it("a running collector's /metrics counts what its embedded store wrote", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'span-relay-route-metrics-'));
    const relay = await startCollector(`
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
exporters:
  embedded:
    path: ${join(dir, 'traces.db')}
    query: { enabled: false }
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [embedded]
`);
    try {
      const spans = votes()
        .flat()
        .map((s) => ({ ...s, traceId: s.traceId.padStart(32, '0') }));
      const res = await fetch(`${relay.url('otlp.http')}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(modelToOtlpJson({ spans })) });
      expect(res.status).toBe(200);
      const route = { service: 'voting-svc', route: 'POST /vote' };
      await eventually(async () => metricValue(await relay.metrics(), 'span_relay_route_attempts_total', route) === 9, 'route metrics', 10_000);
      const text = await relay.metrics();
      expect(metricValue(text, 'span_relay_route_requests_total', route)).toBe(4);
      expect(metricValue(text, 'span_relay_route_timeouts_total', route)).toBe(3);
    } finally {
      await relay.stop();
    }
  });
});
