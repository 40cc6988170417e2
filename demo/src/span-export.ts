/**
 * How the demo's ingress and sidecars report spans: OpenCensus agent stream or OTLP/HTTP, as
 * linkerd-proxy does (LINKERD2_PROXY_TRACE_PROTOCOL), batched, never blocking the proxy.
 */
import * as grpc from '@grpc/grpc-js';
import type { Span } from '../../collector/src/model/span.js';
import { modelToOcRequests } from '../../collector/src/protocol/opencensus/encode.js';
import { encodeOtlpProto } from '../../collector/src/protocol/otlp/encode.js';

export class SpanReporter {
  private buffer: Span[] = [];
  private timer: NodeJS.Timeout;
  private ocClient: grpc.Client | undefined;
  private ocStream: grpc.ClientDuplexStream<Buffer, Buffer> | undefined;
  private sending: Promise<void> = Promise.resolve();

  constructor(
    private readonly protocol: 'opencensus' | 'otlp',
    private readonly endpoint: string,
  ) {
    this.timer = setInterval(() => void this.flush(), 100);
    this.timer.unref();
  }

  report(span: Span): void {
    // Bounded: a collector that is down costs spans, never the proxy's memory.
    if (this.buffer.length < 10_000) this.buffer.push(span);
  }

  flush(): Promise<void> {
    const spans = this.buffer;
    if (spans.length === 0) return this.sending;
    this.buffer = [];
    this.sending = this.sending.then(() => this.send(spans)).catch(() => {});
    return this.sending;
  }

  private async send(spans: Span[]): Promise<void> {
    if (this.protocol === 'otlp') {
      await fetch(`${this.endpoint.replace(/\/$/, '')}/v1/traces`, { method: 'POST', body: encodeOtlpProto({ spans }), headers: { 'content-type': 'application/x-protobuf' } }).then((r) => r.arrayBuffer());
      return;
    }
    if (!this.ocStream || this.ocStream.destroyed) {
      this.ocClient ??= new grpc.Client(this.endpoint, grpc.credentials.createInsecure());
      this.ocStream = this.ocClient.makeBidiStreamRequest('/opencensus.proto.agent.trace.v1.TraceService/Export', (b: Buffer) => b, (b: Buffer) => b);
      this.ocStream.on('error', () => (this.ocStream = undefined));
      this.ocStream.on('data', () => {});
    }
    for (const m of modelToOcRequests(spans)) await new Promise<void>((r) => this.ocStream!.write(m.bytes, () => r()));
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
    const s = this.ocStream;
    if (s) await new Promise<void>((r) => (s.once('close', r), s.once('error', () => r()), s.end(), setTimeout(r, 1000).unref()));
    this.ocClient?.close();
  }
}
