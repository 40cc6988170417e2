import { createSocket, type Socket } from 'node:dgram';
import type { Consumer, CreateContext } from '../../component.js';
import { DecodeError, ListenError } from '../../model/errors.js';
import type { DecodeResult } from '../../model/decode-result.js';
import { parseEndpoint } from '../../net/http-server.js';
import { BinaryThriftReader, CompactThriftReader, MessageType, T, type ThriftReader } from '../../protocol/thrift/reader.js';
import { readZipkinThriftSpans } from '../../protocol/zipkin/decode.js';
import { ingest, type IngestOutcome } from '../ingest.js';
import { readJaegerBatch } from '../../protocol/jaeger/decode.js';
import { DEFAULT_LIMITS, type DecodeLimits } from '../../model/limits.js';

export type AgentProtocol = 'thrift_compact' | 'thrift_binary';

export interface AgentSettings {
  endpoint: string;
  limits: DecodeLimits;
  max_packet_size: number;
  socket_buffer_size: number;
}

/**
 * One datagram of the jaeger-agent's UDP API: a Thrift message calling `Agent.emitBatch(Batch)`
 * (what the jaeger clients send) or `Agent.emitZipkinBatch(list<zipkincore.Span>)`.
 */
export function decodeAgentDatagram(protocol: AgentProtocol, datagram: Buffer, limits: DecodeLimits = DEFAULT_LIMITS): DecodeResult {
  const r: ThriftReader = protocol === 'thrift_compact' ? new CompactThriftReader(datagram) : new BinaryThriftReader(datagram);
  const header = r.message();
  if (header.type !== MessageType.ONEWAY && header.type !== MessageType.CALL) {
    throw new DecodeError('malformed_thrift', 'message.type', header.type, 'expected a oneway call');
  }
  if (header.name !== 'emitBatch' && header.name !== 'emitZipkinBatch') {
    throw new DecodeError('unknown_method', 'message.name', header.name, 'the jaeger agent API has emitBatch and emitZipkinBatch');
  }
  let result: DecodeResult | undefined;
  r.struct((id, t) => {
    if (id === 1 && header.name === 'emitBatch' && t === T.STRUCT) result = readJaegerBatch(r, limits);
    else if (id === 1 && header.name === 'emitZipkinBatch' && t === T.LIST) result = readZipkinThriftSpans(r, T.STRUCT, limits);
    else r.skip(t);
  });
  if (!result) throw new DecodeError('malformed_thrift', 'args.batch', undefined, `${header.name} without its argument`);
  return result;
}

const LOG_EVERY_MS = 60_000;

/**
 * The jaeger-agent's UDP ports (compact :6831, binary :6832). UDP has no answer: a datagram the
 * pipeline cannot take is lost by the nature of the transport, so it is counted (refused, with the
 * reason) and logged at most once a minute with how many were suppressed.
 */
export class JaegerAgentServer {
  private socket: Socket | undefined;
  private lastLog = 0;
  private suppressed = 0;
  private inFlight = new Set<Promise<IngestOutcome | void>>();

  constructor(
    readonly protocol: AgentProtocol,
    private readonly settings: AgentSettings,
    private readonly ctx: CreateContext,
  ) {}

  async start(next: Consumer): Promise<void> {
    const { host, port } = parseEndpoint(this.settings.endpoint);
    const socket = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', ...(this.settings.socket_buffer_size > 0 ? { recvBufferSize: this.settings.socket_buffer_size } : {}) });
    socket.on('message', (msg) => this.onDatagram(msg, next));
    socket.on('error', (err) => this.ctx.telemetry.logger.error({ err, receiver: this.ctx.id, protocol: this.protocol }, 'jaeger agent socket error'));
    await new Promise<void>((resolve, reject) => {
      const fail = (err: unknown) => {
        socket.close();
        reject(ListenError.from(this.settings.endpoint, err));
      };
      socket.once('error', fail);
      socket.bind(port, host, () => {
        socket.off('error', fail);
        resolve();
      });
    });
    this.socket = socket;
  }

  address(): string {
    const a = this.socket?.address();
    return a ? `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}` : '';
  }

  private onDatagram(msg: Buffer, next: Consumer): void {
    const transport = `udp_${this.protocol}`;
    const t = this.ctx.telemetry;
    let result: DecodeResult;
    try {
      if (msg.length > this.settings.max_packet_size) {
        throw new DecodeError('payload_too_large', 'datagram', msg.length, `datagram of ${msg.length} bytes is over max_packet_size (${this.settings.max_packet_size})`);
      }
      result = decodeAgentDatagram(this.protocol, msg, this.settings.limits);
    } catch (err) {
      const e = err instanceof DecodeError ? err : new DecodeError('malformed_thrift', 'datagram', undefined, (err as Error).message);
      t.refusedSpans.inc({ receiver: 'jaeger', transport, reason: e.code });
      this.logRateLimited(`bad datagram on jaeger ${this.protocol}: ${e.message}`);
      return;
    }
    const p = ingest(result, next, t, 'jaeger', transport).then(
      (outcome) => {
        if (outcome.kind === 'backpressure') this.logRateLimited(`jaeger ${this.protocol}: ${result.spans.length} span(s) lost, the pipeline is refusing (${outcome.message}); UDP cannot ask the client to retry`);
      },
      (err: unknown) => t.logger.error({ err, receiver: this.ctx.id }, 'jaeger agent ingest failed'),
    );
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  private logRateLimited(message: string): void {
    const now = Date.now();
    if (now - this.lastLog < LOG_EVERY_MS) {
      this.suppressed++;
      return;
    }
    this.ctx.telemetry.logger.warn({ receiver: this.ctx.id, protocol: this.protocol, suppressed: this.suppressed }, message);
    this.lastLog = now;
    this.suppressed = 0;
  }

  async shutdown(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
    await Promise.all(this.inFlight);
  }
}
