import { z } from 'zod';
import { extensionFactory, type Extension, type Host } from '../../component.js';
import { HttpServer, sendJson } from '../../net/http-server.js';
import { endpoint, section, serverTlsSettings } from '../../config/schema-helpers.js';
import { serverTls } from '../../security/server-tls.js';
import { DEFAULT_HTTP_SERVER } from '../../net/http-server.js';

export const healthCheckConfig = section(z.strictObject({ endpoint: endpoint('0.0.0.0:13133'), path: z.string().default('/'), tls: serverTlsSettings.optional() }));

/** The OpenTelemetry Collector's health_check: 200 while the pipelines run, 503 otherwise. */
export const healthCheckExtensionFactory = extensionFactory({
  type: 'health_check',
  config: healthCheckConfig,
  create: (config, ctx): Extension => {
    let host: Host | undefined;
    const server = new HttpServer(
      config.endpoint,
      async (req, res) => {
        if ((req.url ?? '').split('?')[0] !== config.path) {
          sendJson(res, 404, { error: 'not found' });
          return;
        }
        const up = host?.ready() ?? false;
        sendJson(res, up ? 200 : 503, { status: up ? 'Server available' : 'Server not available' });
      },
      (err) => ctx.telemetry.logger.error({ err }, 'health_check failed'),
      { ...DEFAULT_HTTP_SERVER, tls: serverTls(config.tls, `extensions.${ctx.id}`, config.endpoint, ctx.telemetry) },
    );
    return {
      async start(h) {
        host = h;
        await server.start();
        ctx.telemetry.logger.info({ extension: ctx.id, endpoint: server.address() }, 'health_check listening');
      },
      shutdown: () => server.shutdown(),
    };
  },
});
