/**
 * The OpenCensus agent protocol from an OpenTelemetry SDK: what emojivoto's Go services speak when
 * OC_AGENT_HOST is set, so a Node service behaves the same under the same command. One long-lived
 * Export stream; the first message carries the Node (service, host, pid, library).
 */
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import * as grpc from '@grpc/grpc-js';
import { SpanKind, SpanStatusCode, type AttributeValue, type HrTime } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import protobuf from 'protobufjs';

const require = createRequire(import.meta.url);
const EXPORT = '/opencensus.proto.agent.trace.v1.TraceService/Export';

let requestType: protobuf.Type | undefined;
function ExportRequest(): protobuf.Type {
  requestType ??= protobuf.loadSync(require.resolve('@span-relay/collector/proto/opencensus.proto')).lookupType('opencensus.proto.agent.trace.v1.ExportTraceServiceRequest');
  return requestType;
}

const ts = (t: HrTime) => ({ seconds: t[0], nanos: t[1] });

function attributeValue(v: AttributeValue | undefined): object | undefined {
  if (typeof v === 'string') return { stringValue: { value: v } };
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { intValue: v } : { doubleValue: v };
  if (Array.isArray(v)) return { stringValue: { value: JSON.stringify(v) } };
  return undefined;
}

function attributes(attrs: Record<string, AttributeValue | undefined>): object {
  const map: Record<string, object> = {};
  for (const [k, v] of Object.entries(attrs)) {
    const av = attributeValue(v);
    if (av) map[k] = av;
  }
  return { attributeMap: map };
}

export function toOcSpan(s: ReadableSpan): object {
  const ctx = s.spanContext();
  const parent = s.parentSpanContext?.spanId;
  const kind = s.kind === SpanKind.SERVER || s.kind === SpanKind.CONSUMER ? 1 : s.kind === SpanKind.CLIENT || s.kind === SpanKind.PRODUCER ? 2 : 0;
  return {
    traceId: Buffer.from(ctx.traceId, 'hex'),
    spanId: Buffer.from(ctx.spanId, 'hex'),
    ...(parent ? { parentSpanId: Buffer.from(parent, 'hex') } : {}),
    name: { value: s.name },
    kind,
    startTime: ts(s.startTime),
    endTime: ts(s.endTime),
    attributes: attributes(s.attributes),
    timeEvents: { timeEvent: s.events.map((e) => ({ time: ts(e.time), annotation: { description: { value: e.name }, attributes: attributes(e.attributes ?? {}) } })) },
    links: { link: s.links.map((l) => ({ traceId: Buffer.from(l.context.traceId, 'hex'), spanId: Buffer.from(l.context.spanId, 'hex'), attributes: attributes(l.attributes ?? {}) })) },
    // OpenCensus uses gRPC codes: 2 is UNKNOWN, the usual code for a failed span.
    status: s.status.code === SpanStatusCode.ERROR ? { code: 2, message: s.status.message ?? '' } : { code: 0 },
    ...(ctx.traceState ? { tracestate: { entries: ctx.traceState.serialize().split(',').filter(Boolean).map((kv) => ({ key: kv.split('=')[0], value: kv.split('=')[1] })) } } : {}),
  };
}

export class OpenCensusAgentExporter implements SpanExporter {
  private client: grpc.Client | undefined;
  private stream: grpc.ClientWritableStream<Buffer> | undefined;
  private sentNode = false;

  constructor(
    private readonly address: string,
    private readonly serviceName: string,
    private readonly resource: Record<string, AttributeValue | undefined>,
  ) {}

  private open(): grpc.ClientWritableStream<Buffer> {
    if (this.stream && !this.stream.destroyed) return this.stream;
    this.client ??= new grpc.Client(this.address.replace(/^[a-z]+:\/\//, ''), grpc.credentials.createInsecure());
    const stream = this.client.makeBidiStreamRequest(EXPORT, (b: Buffer) => b, (b: Buffer) => b);
    stream.on('data', () => {});
    // A broken stream is reopened on the next export; the error reaches the caller as FAILED.
    stream.on('error', () => {
      if (this.stream === stream) this.stream = undefined;
    });
    stream.on('end', () => {
      if (this.stream === stream) this.stream = undefined;
    });
    this.stream = stream;
    this.sentNode = false;
    return stream;
  }

  private node(): object {
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.resource)) if (v !== undefined && k !== 'service.name') labels[k] = String(v);
    return {
      identifier: { hostName: typeof this.resource['host.name'] === 'string' ? this.resource['host.name'] : hostname(), pid: process.pid, startTimestamp: ts([Math.floor(Date.now() / 1000), 0]) },
      libraryInfo: { language: 6, exporterVersion: 'span-relay-kit', coreLibraryVersion: 'opentelemetry-js' },
      serviceInfo: { name: this.serviceName },
      attributes: labels,
    };
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    let stream: grpc.ClientWritableStream<Buffer>;
    try {
      stream = this.open();
    } catch (err) {
      done({ code: ExportResultCode.FAILED, error: err as Error });
      return;
    }
    const message = { ...(this.sentNode ? {} : { node: this.node() }), spans: spans.map(toOcSpan) };
    const bytes = Buffer.from(ExportRequest().encode(ExportRequest().fromObject(message)).finish());
    this.sentNode = true;
    // The channel must be connected for the write to mean anything: wait for it (bounded).
    const channel = this.client!.getChannel();
    const deadline = Date.now() + 5000;
    const write = (): void => {
      const state = channel.getConnectivityState(true);
      if (state === grpc.connectivityState.READY) {
        stream.write(bytes, (err: Error | null | undefined) => done(err ? { code: ExportResultCode.FAILED, error: err } : { code: ExportResultCode.SUCCESS }));
        return;
      }
      if (Date.now() >= deadline || state === grpc.connectivityState.SHUTDOWN) {
        this.sentNode = false;
        done({ code: ExportResultCode.FAILED, error: new Error(`OpenCensus agent ${this.address} is not reachable (${grpc.connectivityState[state]})`) });
        return;
      }
      channel.watchConnectivityState(state, Math.min(deadline, Date.now() + 1000), write);
    };
    write();
  }

  async forceFlush(): Promise<void> {}

  async shutdown(): Promise<void> {
    const stream = this.stream;
    this.stream = undefined;
    if (stream) {
      await new Promise<void>((resolve) => {
        stream.once('close', resolve);
        stream.once('error', () => resolve());
        stream.end();
        setTimeout(resolve, 2000).unref();
      });
    }
    this.client?.close();
  }
}
