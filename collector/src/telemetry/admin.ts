import { DEFAULT_HTTP_SERVER, HttpServer, sendJson, sendText } from '../net/http-server.js';
import type { ServerTls } from '../net/tls.js';
import type { Telemetry } from './telemetry.js';

/** Admin port: Prometheus /metrics, /healthz (process up) and /readyz (pipelines running). */
export class AdminServer {
  private readonly server: HttpServer;

  /** `metrics`: where /metrics comes from when not this process's registry (the workers' sum, under --workers). */
  constructor(endpoint: string, telemetry: Telemetry, ready: () => boolean, tls?: ServerTls, metrics?: () => Promise<{ body: string; contentType: string }>) {
    this.server = new HttpServer(
      endpoint,
      async (req, res) => {
        switch ((req.url ?? '').split('?')[0]) {
          case '/metrics': {
            const m = metrics ? await metrics() : { body: await telemetry.registry.metrics(), contentType: telemetry.registry.contentType };
            sendText(res, 200, m.body, m.contentType);
            return;
          }
          case '/healthz':
            sendJson(res, 200, { status: 'ok' });
            return;
          case '/readyz': {
            const failed = Object.fromEntries(telemetry.failed);
            const ok = ready() && telemetry.failed.size === 0;
            sendJson(res, ok ? 200 : 503, { status: ok ? 'ready' : 'not ready', ...(telemetry.failed.size ? { failed } : {}) });
            return;
          }
          default:
            sendJson(res, 404, { error: 'not found; try /metrics, /healthz or /readyz' });
        }
      },
      (err) => telemetry.logger.error({ err }, 'admin server failed'),
      { ...DEFAULT_HTTP_SERVER, tls },
    );
  }

  start(): Promise<void> {
    return this.server.start();
  }
  address(): string {
    return this.server.address();
  }
  shutdown(graceMs?: number): Promise<void> {
    return this.server.shutdown(graceMs);
  }
}
