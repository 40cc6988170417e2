import { z } from 'zod';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { exporterFactory, type CreateContext } from '../../component.js';
import { UnaryGrpcClient } from '../../net/grpc-client.js';
import { encodeOtlpProto } from '../../protocol/otlp/encode.js';
import { protoType } from '../../protocol/proto.js';
import { ExportError, httpStatusError, QueuedExporter, senderSettings } from '../sender.js';
import { clientTlsSource, headersSetting, isInsecure, tlsSettings } from '../tls.js';
import { headerValue, HttpPoster, type HttpAnswer } from '../../net/http-client.js';

const TRACE_EXPORT = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

function logPartialSuccess(ctx: CreateContext, bytes: Uint8Array): void {
  if (bytes.length === 0) return;
  const res = protoType('otlp', 'opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse').decode(bytes) as unknown as {
    partialSuccess?: { rejectedSpans?: { low: number } | number; errorMessage?: string };
  };
  const ps = res.partialSuccess;
  const rejected = ps ? Number(typeof ps.rejectedSpans === 'object' ? ps.rejectedSpans.low : (ps.rejectedSpans ?? 0)) : 0;
  if (rejected > 0) {
    ctx.telemetry.failedSpans.inc({ exporter: ctx.id, reason: 'partial_success' }, rejected);
    ctx.telemetry.logger.warn({ exporter: ctx.id, rejected }, `backend refused part of the batch: ${ps?.errorMessage ?? ''}`);
  }
}

export const otlpGrpcExporterConfig = z.strictObject({
  endpoint: z.string().min(1),
  tls: tlsSettings,
  headers: headersSetting,
  compression: z.enum(['gzip', 'none']).default('gzip'),
  ...senderSettings,
});

/** OTLP over gRPC: how Jaeger (≥1.35) and any OpenTelemetry Collector take traces. */
export const otlpExporterFactory = exporterFactory({
  type: 'otlp',
  config: otlpGrpcExporterConfig,
  create: (config, ctx) => {
    const client = new UnaryGrpcClient({ endpoint: config.endpoint, insecure: isInsecure(config.endpoint, config.tls), insecureSkipVerify: config.tls.insecure_skip_verify, tls: clientTlsSource(config.tls, ctx), serverNameOverride: config.tls.server_name_override, headers: config.headers, compression: config.compression });
    return new QueuedExporter(
      ctx,
      config,
      async (batch, signal) => logPartialSuccess(ctx, await client.call(TRACE_EXPORT, encodeOtlpProto(batch), signal)),
      async () => client.close(),
    );
  },
});

export const otlpHttpExporterConfig = z
  .strictObject({
    endpoint: z.string().url().optional(),
    traces_endpoint: z.string().url().optional(),
    tls: tlsSettings,
    headers: headersSetting,
    compression: z.enum(['gzip', 'none']).default('gzip'),
    ...senderSettings,
  })
  .refine((c) => c.endpoint ?? c.traces_endpoint, { message: 'set endpoint (base URL, /v1/traces is appended) or traces_endpoint' });

/** OTLP/HTTP with protobuf bodies, POSTed to <endpoint>/v1/traces. */
export const otlpHttpExporterFactory = exporterFactory({
  type: 'otlphttp',
  config: otlpHttpExporterConfig,
  create: (config, ctx) => {
    const url = config.traces_endpoint ?? `${config.endpoint!.replace(/\/$/, '')}/v1/traces`;
    const { gzip } = config.compression === 'gzip' ? { gzip: true } : { gzip: false };
    const poster = new HttpPoster({ source: clientTlsSource(config.tls, ctx), skipVerify: config.tls.insecure_skip_verify, serverName: config.tls.server_name_override });
    const target = new URL(url);
    return new QueuedExporter(
      ctx,
      config,
      async (batch, signal) => {
        let body: Uint8Array = encodeOtlpProto(batch);
        if (gzip) body = await gzipAsync(body);
        let res: HttpAnswer;
        try {
          res = await poster.post(target, body, { 'content-type': 'application/x-protobuf', ...(gzip ? { 'content-encoding': 'gzip' } : {}), ...config.headers }, signal);
        } catch (err) {
          throw new ExportError('connection_failed', `POST ${url}: ${(err as Error).message}`, true);
        }
        if (res.status < 200 || res.status >= 300) throw httpStatusError(res.status, res.body.toString('utf8'), headerValue(res.headers['retry-after']));
        if ((headerValue(res.headers['content-type']) ?? '').includes('protobuf')) logPartialSuccess(ctx, res.body);
      },
      async () => poster.close(),
    );
  },
});

// node:zlib is imported statically (the HTTP server loads it at start anyway): the command runs the
// bundle through vm.Script, where a dynamic import() fails on Node 20 ("A dynamic import callback
// was not specified"), which made every gzip export fail there until the real Jaeger v2 test caught it.
const gzipAsync: (body: Uint8Array) => Promise<Uint8Array> = promisify(gzip);
