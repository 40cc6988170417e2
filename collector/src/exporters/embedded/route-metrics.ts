/**
 * Route metrics (#32) in the shape of the OpenTelemetry Collector's spanmetrics connector: a request
 * counter by outcome, an attempts counter and a duration histogram per called service and route,
 * counted from what the embedded store writes (in its queue's one consumer, after the SQLite
 * transaction, so neither a receiver nor the join waits on it). Service and route label values come
 * from span data, so both are capped as the join's orphan counter caps its service label: the first
 * LABEL_VALUES_MAX services, and the first LABEL_VALUES_MAX routes of each, keep their names; any
 * further one is `other`.
 *
 * A trace is counted from the spans of the batch it arrives in: one that grows after it was stored
 * (a late span past the join's window) adds the requests whose client span came late, and a retry
 * whose request span was stored earlier is not counted again.
 */
import type { Span } from '../../model/span.js';
import { BoundedLabel, LABEL_VALUES_MAX, type Telemetry } from '../../telemetry/telemetry.js';
import { routeRequests } from './routes.js';

/** The spanmetrics connector's default bounds (2 ms … 15 s), in seconds as Prometheus names them. */
export const ROUTE_DURATION_BUCKETS = [0.002, 0.004, 0.006, 0.008, 0.01, 0.05, 0.1, 0.2, 0.4, 0.8, 1, 1.4, 2, 5, 10, 15];

export class RouteMetrics {
  private readonly services = new BoundedLabel(LABEL_VALUES_MAX);
  private readonly routes = new Map<string, BoundedLabel>();
  private readonly m;
  /** Each series' child by service and route (raw, before capping), so a request costs no label hashing. */
  private readonly series = new Map<string, ReturnType<RouteMetrics['bind']>>();

  constructor(telemetry: Telemetry) {
    this.m = {
      requests: telemetry.counter('span_relay_route_requests_total', 'Requests per called service and route (a request retried is one), by the outcome of its last attempt: success or failure.', ['service', 'route', 'outcome'] as const),
      attempts: telemetry.counter('span_relay_route_attempts_total', 'Attempts per called service and route: the requests actually sent, retries included.', ['service', 'route'] as const),
      timeouts: telemetry.counter('span_relay_route_timeouts_total', 'Attempts that timed out (HTTP 504, gRPC DEADLINE_EXCEEDED, the proxy\'s timeout error) per called service and route.', ['service', 'route'] as const),
      duration: telemetry.histogram('span_relay_route_request_duration_seconds', 'Requests per called service and route by how long the caller waited, from the first attempt to the end of the last.', ['service', 'route'] as const, ROUTE_DURATION_BUCKETS),
    };
  }

  /** Counts the requests in these traces (each a trace's spans as released). */
  record(traces: readonly Span[][]): void {
    for (const q of routeRequests(traces)) {
      const key = `${q.service}\u0000${q.route}`;
      let series = this.series.get(key);
      // Bounded: at most LABEL_VALUES_MAX² + 1 capped pairs, and the raw keys are forgotten past a limit.
      if (!series) {
        if (this.series.size >= LABEL_VALUES_MAX * LABEL_VALUES_MAX) this.series.clear();
        this.series.set(key, (series = this.bind(q.service, q.route)));
      }
      (q.ok ? series.success : series.failure).inc();
      series.attempts.inc(q.attempts);
      if (q.timeouts) series.timeouts.inc(q.timeouts);
      series.duration.observe(q.durationMs / 1000);
    }
  }

  private bind(rawService: string, rawRoute: string) {
    const service = this.services.value(rawService);
    let routes = this.routes.get(service);
    if (!routes) this.routes.set(service, (routes = new BoundedLabel(LABEL_VALUES_MAX)));
    const labels = { service, route: routes.value(rawRoute) };
    return {
      success: this.m.requests.labels({ ...labels, outcome: 'success' }),
      failure: this.m.requests.labels({ ...labels, outcome: 'failure' }),
      attempts: this.m.attempts.labels(labels),
      timeouts: this.m.timeouts.labels(labels),
      duration: this.m.duration.labels(labels),
    };
  }
}
