import { z } from 'zod';
import { DEFAULT_LIMITS, type DecodeLimits } from '../model/limits.js';
export type { HttpServerOptions } from '../net/http-server.js';
export type { GrpcServerOptions } from '../net/grpc-server.js';

/** A config section where a key with no value (YAML null) means "all defaults", as in otelcol. */
export function section<T extends z.ZodType>(schema: T) {
  return z.preprocess((v) => v ?? {}, schema);
}

export const endpoint = (defaultValue: string) =>
  z
    .string()
    .regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s]*):\d{1,5}$/, 'expected host:port')
    .refine((v) => Number(v.slice(v.lastIndexOf(':') + 1)) <= 65_535, { message: 'port is out of range (0-65535)' })
    .default(defaultValue);

export const duration = (defaultValue: string) =>
  z
    .union([z.string(), z.number()])
    .default(defaultValue)
    .transform((v, ctx) => {
      const ms = parseDuration(v);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: 'expected a duration such as 200ms, 5s or 1m' });
        return z.NEVER;
      }
      return ms;
    });

/** Go-style durations as otelcol configs use them ("5s", "200ms", "1m30s"); a bare number is ms. */
export function parseDuration(v: string | number): number | undefined {
  if (typeof v === 'number') return v >= 0 ? v : undefined;
  const re = /(\d+(?:\.\d+)?)(ns|us|\u00b5s|ms|s|m|h)/g;
  let total = 0;
  let consumed = 0;
  for (const m of v.matchAll(re)) {
    const n = Number(m[1]);
    const unit = m[2]!;
    const factor = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit]!;
    total += n * factor;
    consumed += m[0].length;
  }
  return consumed === v.length && consumed > 0 ? total : undefined;
}

/**
 * `limits:` on every receiver: how much work one request may ask (see model/limits.ts). A request
 * over max_spans_per_request is refused whole (413 / INVALID_ARGUMENT); a span over a per-span
 * bound is refused alone.
 */
export const limitsConfig = section(
  z.strictObject({
    max_spans_per_request: z.number().int().positive().default(DEFAULT_LIMITS.maxSpansPerRequest),
    max_attributes_per_span: z.number().int().positive().default(DEFAULT_LIMITS.maxAttributesPerSpan),
    max_events_per_span: z.number().int().positive().default(DEFAULT_LIMITS.maxEventsPerSpan),
    max_links_per_span: z.number().int().positive().default(DEFAULT_LIMITS.maxLinksPerSpan),
    max_array_elements: z.number().int().positive().default(DEFAULT_LIMITS.maxArrayElements),
    max_value_depth: z.number().int().positive().max(64).default(DEFAULT_LIMITS.maxValueDepth),
  }),
).transform(
  (c): DecodeLimits => ({
    maxSpansPerRequest: c.max_spans_per_request,
    maxAttributesPerSpan: c.max_attributes_per_span,
    maxEventsPerSpan: c.max_events_per_span,
    maxLinksPerSpan: c.max_links_per_span,
    maxArrayElements: c.max_array_elements,
    maxValueDepth: c.max_value_depth,
  }),
);

/**
 * An HTTP receiver's defences against slow and idle clients (the OpenTelemetry Collector's
 * confighttp names, plus a connection cap). Defaults: a client has 10 s to send its headers and
 * 30 s for the whole request; an idle keep-alive connection is closed after 60 s.
 */
export const httpServerSettings = {
  read_header_timeout: duration('10s'),
  read_timeout: duration('30s'),
  idle_timeout: duration('60s'),
  max_connections: z.number().int().positive().default(4096),
};
/**
 * A gRPC receiver's keepalive and stream bounds (configgrpc's names). Defaults close a connection
 * idle for 5 min and any connection after 30 min (with 30 s to finish what is in flight, and the
 * client reconnects), so stalled calls and never-ending streams end; 100 streams per connection.
 */
export const grpcServerSettings = {
  max_concurrent_streams: z.number().int().positive().default(100),
  keepalive: section(
    z.strictObject({
      server_parameters: section(
        z.strictObject({
          max_connection_idle: duration('5m'),
          max_connection_age: duration('30m'),
          max_connection_age_grace: duration('30s'),
          time: duration('2m'),
          timeout: duration('20s'),
        }),
      ),
      enforcement_policy: section(z.strictObject({ min_time: duration('10s'), permit_without_stream: z.boolean().default(true) })),
    }),
  ),
};

const tlsVersion = z.enum(['1.0', '1.1', '1.2', '1.3']);
const pemFields = {
  cert_file: z.string().min(1).optional(),
  key_file: z.string().min(1).optional(),
  cert_pem: z.string().min(1).optional(),
  key_pem: z.string().min(1).optional(),
  min_version: tlsVersion.default('1.2'),
  max_version: tlsVersion.optional(),
  /** Besides watching the files, read them again this often. */
  reload_interval: duration('1m'),
};

/** TLS on a receiver or an admin endpoint (the OpenTelemetry Collector's configtls names). */
export const serverTlsSettings = z
  .strictObject({
    ...pemFields,
    /** Require client certificates signed by this CA (mTLS). */
    client_ca_file: z.string().min(1).optional(),
  })
  .refine((t) => (t.cert_file || t.cert_pem) && (t.key_file || t.key_pem), { message: 'a TLS server needs cert_file and key_file (or cert_pem and key_pem)' });
export type ServerTlsSettings = z.output<typeof serverTlsSettings>;

/** TLS on an exporter: plaintext with `insecure`, else verified against the system CAs or `ca_file`. */
export const clientTlsSettings = section(
  z.strictObject({
    ...pemFields,
    insecure: z.boolean().default(false),
    /** Testing only: do not check the server's certificate. */
    insecure_skip_verify: z.boolean().default(false),
    ca_file: z.string().min(1).optional(),
    ca_pem: z.string().min(1).optional(),
    /** The name to check the server's certificate against, when it is not the endpoint's host. */
    server_name_override: z.string().min(1).optional(),
  }),
);
export type ClientTlsSettings = z.output<typeof clientTlsSettings>;

/** `auth: { authenticator: <extension id> }` on a receiver protocol (the OTel shape). */
export const authSettings = z.strictObject({ authenticator: z.string().min(1) }).optional();
