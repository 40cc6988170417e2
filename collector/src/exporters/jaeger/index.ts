import { z } from 'zod';
import { exporterFactory } from '../../component.js';
import type { SpanBatch } from '../../model/span.js';
import { UnaryGrpcClient } from '../../net/grpc-client.js';
import { ExportError, httpStatusError, QueuedExporter, senderSettings } from '../sender.js';
import { clientTlsSource, headersSetting, isInsecure, tlsSettings } from '../tls.js';
import { headerValue, HttpPoster, type HttpAnswer } from '../../net/http-client.js';
import { encodeJaegerThriftBatch } from '../../protocol/jaeger/encode.js';
import { toJaegerBatches } from '../../protocol/jaeger/model.js';
import { encodePostSpansRequest } from '../../protocol/jaeger/encode-proto.js';

const POST_SPANS = '/jaeger.api_v2.CollectorService/PostSpans';

export const jaegerGrpcExporterConfig = z.strictObject({
  endpoint: z.string().min(1),
  tls: tlsSettings,
  headers: headersSetting,
  compression: z.enum(['gzip', 'none']).default('none'),
  ...senderSettings,
});

/** Jaeger's own gRPC ingest (collector :14250), as the linkerd-jaeger collector config uses. */
export const jaegerExporterFactory = exporterFactory({
  type: 'jaeger',
  config: jaegerGrpcExporterConfig,
  create: (config, ctx) => {
    const client = new UnaryGrpcClient({ endpoint: config.endpoint, insecure: isInsecure(config.endpoint, config.tls), insecureSkipVerify: config.tls.insecure_skip_verify, tls: clientTlsSource(config.tls, ctx), serverNameOverride: config.tls.server_name_override, headers: config.headers, compression: config.compression });
    return new QueuedExporter(
      ctx,
      config,
      async (batch: SpanBatch, signal) => {
        for (const b of toJaegerBatches(batch)) await client.call(POST_SPANS, encodePostSpansRequest(b), signal);
      },
      async () => client.close(),
    );
  },
});

export const jaegerThriftExporterConfig = z.strictObject({
  endpoint: z.string().url().describe('the collector URL, e.g. http://jaeger:14268/api/traces'),
  tls: tlsSettings,
  headers: headersSetting,
  ...senderSettings,
});

/** Thrift over HTTP to Jaeger's collector (POST /api/traces), for Jaeger versions before OTLP. */
export const jaegerThriftExporterFactory = exporterFactory({
  type: 'jaeger_thrift',
  config: jaegerThriftExporterConfig,
  create: (config, ctx) => {
    const url = new URL(config.endpoint);
    if (url.pathname === '/' || url.pathname === '') url.pathname = '/api/traces';
    const poster = new HttpPoster({ source: clientTlsSource(config.tls, ctx), skipVerify: config.tls.insecure_skip_verify, serverName: config.tls.server_name_override });
    return new QueuedExporter(
      ctx,
      config,
      async (batch, signal) => {
        for (const b of toJaegerBatches(batch)) {
          let res: HttpAnswer;
          try {
            res = await poster.post(url, encodeJaegerThriftBatch(b), { 'content-type': 'application/vnd.apache.thrift.binary', ...config.headers }, signal);
          } catch (err) {
            throw new ExportError('connection_failed', `POST ${url.href}: ${(err as Error).message}`, true);
          }
          if (res.status < 200 || res.status >= 300) throw httpStatusError(res.status, res.body.toString('utf8'), headerValue(res.headers['retry-after']));
        }
      },
      async () => poster.close(),
    );
  },
});
