import { z } from 'zod';
import { exporterFactory } from '../../component.js';
import { hexToBytes } from '../../model/ids.js';
import type { SpanBatch } from '../../model/span.js';
import { bigIntToLong, nanosToTimestamp } from '../../model/time.js';
import { UnaryGrpcClient } from '../../net/grpc-client.js';
import { protoType } from '../../protocol/proto.js';
import { ExportError, httpStatusError, QueuedExporter, senderSettings } from '../sender.js';
import { clientTlsSource, headersSetting, isInsecure, tlsSettings } from '../tls.js';
import { headerValue, HttpPoster, type HttpAnswer } from '../../net/http-client.js';
import { encodeJaegerThriftBatch } from './thrift.js';
import { toJaegerBatches, type JaegerBatch, type JaegerTag } from './translate.js';

const POST_SPANS = '/jaeger.api_v2.CollectorService/PostSpans';
const V_TYPES = { string: 0, bool: 1, int64: 2, float64: 3, binary: 4 } as const;

function protoTag(t: JaegerTag): Record<string, unknown> {
  const kv: Record<string, unknown> = { key: t.key, vType: V_TYPES[t.type] };
  if (t.type === 'string') kv.vStr = t.value;
  else if (t.type === 'bool') kv.vBool = t.value;
  else if (t.type === 'int64') kv.vInt64 = bigIntToLong(t.value);
  else if (t.type === 'float64') kv.vFloat64 = t.value;
  else kv.vBinary = t.value;
  return kv;
}

export function encodePostSpansRequest(b: JaegerBatch): Uint8Array {
  const duration = (n: bigint) => ({ seconds: bigIntToLong(n / 1_000_000_000n), nanos: Number(n % 1_000_000_000n) });
  const batch = {
    process: { serviceName: b.process.serviceName, tags: b.process.tags.map(protoTag) },
    spans: b.spans.map((s) => ({
      traceId: hexToBytes(s.traceIdHigh + s.traceIdLow),
      spanId: hexToBytes(s.spanId),
      operationName: s.operationName,
      references: s.references.map((r) => ({ traceId: hexToBytes(r.traceIdHigh + r.traceIdLow), spanId: hexToBytes(r.spanId), refType: r.type === 'child_of' ? 0 : 1 })),
      flags: s.flags,
      startTime: nanosToTimestamp(s.startNanos),
      duration: duration(s.durationNanos),
      tags: s.tags.map(protoTag),
      logs: s.logs.map((l) => ({ timestamp: nanosToTimestamp(l.timestampNanos), fields: l.fields.map(protoTag) })),
    })),
  };
  return protoType('jaeger', 'jaeger.api_v2.PostSpansRequest').encode({ batch }).finish();
}

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
