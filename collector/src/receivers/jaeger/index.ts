import { z } from 'zod';
import { receiverFactory, type Consumer, type CreateContext, type Receiver } from '../../component.js';
import { authSettings, endpoint, grpcServerSettings, httpServerSettings, limitsConfig, section, serverTlsSettings } from '../../config/schema-helpers.js';
import { serverTls } from '../../security/server-tls.js';
import { authCheck } from '../../security/auth.js';
import { captureConfig } from '../../capture/writer.js';
import { GrpcUnaryServer } from '../../net/grpc-unary-server.js';
import { graceUntil } from '../../net/http-server.js';
import { refusedAsInvalidArgument, unaryIngest } from '../grpc-ingest.js';
import { JaegerAgentServer } from './agent.js';
import { decodeJaegerPostSpans } from '../../protocol/jaeger/decode-proto.js';
import { JaegerThriftHttpReceiver } from './thrift-http.js';

const thriftHttp = z.strictObject({ endpoint: endpoint('0.0.0.0:14268'), max_request_body_size: z.number().int().positive().default(20 * 1024 * 1024), ...httpServerSettings, tls: serverTlsSettings.optional(), auth: authSettings });
const grpcProtocol = z.strictObject({ endpoint: endpoint('0.0.0.0:14250'), max_recv_msg_size_mib: z.number().positive().default(4), ...grpcServerSettings, tls: serverTlsSettings.optional(), auth: authSettings });
const udp = (port: number) =>
  z.strictObject({
    endpoint: endpoint(`0.0.0.0:${port}`),
    /** The jaeger-agent's and the OpenTelemetry Collector's default. */
    max_packet_size: z.number().int().positive().max(65_535).default(65_000),
    /** SO_RCVBUF in bytes; 0 keeps the system's. */
    socket_buffer_size: z.number().int().nonnegative().default(0),
  });
const thriftCompact = udp(6831);
const thriftBinary = udp(6832);
const on = <T extends z.ZodType>(schema: T) => z.preprocess((v) => v ?? {}, schema).optional();

/** The OpenTelemetry Collector's jaeger receiver: only the protocols listed are started. */
export const jaegerReceiverConfig = section(
  z
    .strictObject({
      protocols: z
        .strictObject({
          grpc: on(grpcProtocol),
          thrift_http: on(thriftHttp),
          thrift_compact: on(thriftCompact),
          thrift_binary: on(thriftBinary),
        })
        .optional(),
      limits: limitsConfig,
      /** Applies to thrift_http and grpc; UDP datagrams are not captured. */
      capture: captureConfig,
    })
    // No protocols listed: thrift_http alone, as span-relay has always done.
    .transform((c) => ({ ...(c.protocols ?? { thrift_http: thriftHttp.parse({}) }), limits: c.limits, capture: c.capture })),
);
type JaegerReceiverConfig = z.output<typeof jaegerReceiverConfig>;

export const JAEGER_POST_SPANS_PATH = '/jaeger.api_v2.CollectorService/PostSpans';

/**
 * Everything a Jaeger client, agent or collector exporter sends: Thrift over HTTP (:14268), the
 * agent's UDP ports (compact :6831, binary :6832) and the collector's gRPC PostSpans (:14250).
 */
export class JaegerReceiver implements Receiver {
  private readonly http: JaegerThriftHttpReceiver | undefined;
  private readonly grpc: GrpcUnaryServer | undefined;
  private readonly agents: JaegerAgentServer[] = [];
  private next: Consumer | undefined;

  constructor(
    config: JaegerReceiverConfig,
    private readonly ctx: CreateContext,
  ) {
    if (config.thrift_http) this.http = new JaegerThriftHttpReceiver({ ...config.thrift_http, limits: config.limits, capture: config.capture }, ctx);
    if (config.thrift_compact) this.agents.push(new JaegerAgentServer('thrift_compact', { ...config.thrift_compact, limits: config.limits }, ctx));
    if (config.thrift_binary) this.agents.push(new JaegerAgentServer('thrift_binary', { ...config.thrift_binary, limits: config.limits }, ctx));
    if (config.grpc) {
      const g = config.grpc;
      const postSpans = unaryIngest(ctx, 'jaeger', () => this.next!, (body) => decodeJaegerPostSpans(body, config.limits), refusedAsInvalidArgument, undefined, authCheck(g.auth, ctx));
      const tls = serverTls(g.tls, `receivers.${ctx.id}.protocols.grpc`, g.endpoint, ctx.telemetry);
      this.grpc = new GrpcUnaryServer(g.endpoint, { ...g, tls }, { [JAEGER_POST_SPANS_PATH]: postSpans }, (err) => ctx.telemetry.reportUnexpected(err, `receiver ${ctx.id}`));
    }
  }

  async start(next: Consumer): Promise<void> {
    this.next = next;
    await this.http?.start(next);
    await this.grpc?.start();
    for (const a of this.agents) await a.start(next);
    this.ctx.telemetry.logger.info({ receiver: this.ctx.id, ...this.addresses() }, 'jaeger receiver listening');
  }

  addresses(): { thrift_http?: string; grpc?: string; thrift_compact?: string; thrift_binary?: string } {
    const out: Record<string, string> = {};
    if (this.http) out.thrift_http = this.http.address();
    if (this.grpc) out.grpc = this.grpc.address();
    for (const a of this.agents) out[a.protocol] = a.address();
    return out;
  }

  /** The thrift_http address (what tests and the CLI have always asked for). */
  address(): string {
    return this.http?.address() ?? '';
  }

  async shutdown(deadline?: number): Promise<void> {
    await Promise.all([this.http?.shutdown(deadline), this.grpc?.shutdown(graceUntil(deadline)), ...this.agents.map((a) => a.shutdown())]);
  }
}

export const jaegerReceiverFactory = receiverFactory({
  type: 'jaeger',
  config: jaegerReceiverConfig,
  create: (config, ctx) => new JaegerReceiver(config, ctx),
});
