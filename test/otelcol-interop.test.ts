/**
 * span-relay beside the real OpenTelemetry Collector (the peers/ build, v0.165.0): spans that go
 * span-relay → Collector → backend, and Collector → span-relay → backend, arrive with every OTLP
 * field they left with: IDs, trace state, flags, times to the nanosecond, kind, status, attributes
 * of every value type, events, links, dropped counts, resource and scope.
 */
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PROTO_DIR } from '../collector/src/paths.js';
import { startCollector, type RunningCollector } from '../collector/test/helpers/collector.js';
import { portRun } from '../collector/test/helpers/ports.js';
import { OtlpGrpcSink, type OtlpSinkRequest } from '../collector/test/helpers/sinks.js';
import { missingPeers } from '../peers/peers.js';
import { startOtelcol } from '../peers/otelcol/start.js';
import { stopPeerProcesses, type PeerProcess } from '../peers/process.js';

const RequestType = protobuf.loadSync(join(PROTO_DIR, 'otlp.proto')).lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
// The sink decodes with @grpc/proto-loader under these options; the expected side is put in the same form.
const AS_SINK = { longs: String, enums: String, bytes: String, defaults: false, oneofs: true } as const;

const b64 = (hex: string) => Buffer.from(hex, 'hex').toString('base64');
const str = (v: string) => ({ stringValue: v });
const T = 1_796_000_000_123_456_789n; // ns, not a whole microsecond: times must survive to the nanosecond

/** Every field OTLP has for a span, each value type of an attribute, in two resources and scopes. */
function richRequest(seed: string): object {
  const trace = `${seed}0102030405060708090a0b0c0d0e0f`;
  const id = (n: number) => `${seed}${n.toString(16).padStart(14, '0')}`;
  const attrs = [
    { key: 'http.request.method', value: str('POST') },
    { key: 'http.response.status_code', value: { intValue: '503' } },
    { key: 'retry.ratio', value: { doubleValue: 0.25 } },
    { key: 'cache.hit', value: { boolValue: false } },
    { key: 'peer.ids', value: { arrayValue: { values: [{ intValue: '1' }, str('two'), { boolValue: true }] } } },
    { key: 'request.headers', value: { kvlistValue: { values: [{ key: 'accept', value: str('application/json') }, { key: 'x-n', value: { intValue: '-7' } }] } } },
    { key: 'payload.digest', value: { bytesValue: Buffer.from([0, 1, 2, 254, 255]).toString('base64') } },
    { key: 'empty', value: str('') },
  ];
  const span = (n: number, over: object) => ({
    traceId: b64(trace),
    spanId: b64(id(n)),
    startTimeUnixNano: String(T + BigInt(n) * 1_000_001n),
    endTimeUnixNano: String(T + BigInt(n) * 1_000_001n + 987_654_321n),
    ...over,
  });
  return {
    resourceSpans: [
      {
        resource: {
          attributes: [
            { key: 'service.name', value: str('web') },
            { key: 'host.name', value: str('web-pod-7c9') },
            { key: 'k8s.pod.uid', value: str('4a1b') },
            { key: 'process.pid', value: { intValue: '4242' } },
          ],
          droppedAttributesCount: 2,
        },
        schemaUrl: 'https://opentelemetry.io/schemas/1.26.0',
        scopeSpans: [
          {
            scope: { name: 'emojivoto-web', version: '1.4.2', attributes: [{ key: 'library.lang', value: str('go') }], droppedAttributesCount: 1 },
            schemaUrl: 'https://opentelemetry.io/schemas/1.26.0',
            spans: [
              span(1, {
                name: 'POST /api/vote',
                kind: 'SPAN_KIND_SERVER',
                traceState: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7',
                flags: 769,
                attributes: attrs,
                droppedAttributesCount: 3,
                events: [
                  { timeUnixNano: String(T + 5_000_003n), name: 'retry', attributes: [{ key: 'attempt', value: { intValue: '2' } }], droppedAttributesCount: 1 },
                  { timeUnixNano: String(T + 6_000_007n), name: 'exception', attributes: [{ key: 'exception.message', value: str('voting unavailable') }] },
                ],
                droppedEventsCount: 4,
                links: [
                  { traceId: b64(`ff${trace.slice(2)}`), spanId: b64('00000000000000aa'), traceState: 'rojo=1', attributes: [{ key: 'link.kind', value: str('follows') }], droppedAttributesCount: 1, flags: 257 },
                ],
                droppedLinksCount: 5,
                status: { code: 'STATUS_CODE_ERROR', message: 'voting unavailable' },
              }),
              span(2, { parentSpanId: b64(id(1)), name: 'VoteDoughnut', kind: 'SPAN_KIND_CLIENT', status: { code: 'STATUS_CODE_OK' } }),
              span(3, { parentSpanId: b64(id(1)), name: 'render', kind: 'SPAN_KIND_INTERNAL' }),
            ],
          },
        ],
      },
      {
        resource: { attributes: [{ key: 'service.name', value: str('voting-svc') }] },
        scopeSpans: [
          {
            scope: { name: 'voting' },
            spans: [
              span(4, { parentSpanId: b64(id(2)), name: 'publish vote', kind: 'SPAN_KIND_PRODUCER' }),
              span(5, { parentSpanId: b64(id(4)), name: 'consume vote', kind: 'SPAN_KIND_CONSUMER', status: { code: 'STATUS_CODE_UNSET' } }),
            ],
          },
        ],
      },
    ],
  };
}

/**
 * Each span with its resource and scope, in one canonical form, ordered by span ID. An empty status
 * message and an empty parent span ID are what leaving them out means on the wire, so both count as absent.
 */
function spansOf(requests: OtlpSinkRequest[]): object[] {
  type Obj = Record<string, unknown>;
  const canonical = (span: Obj): Obj => {
    const { status, parentSpanId, ...rest } = span;
    return { ...rest, ...(parentSpanId ? { parentSpanId } : {}), ...(status && Object.keys(status).length ? { status } : {}) };
  };
  const out: { key: string; value: object }[] = [];
  for (const req of requests)
    for (const rs of (req as Obj).resourceSpans as Obj[]) {
      const { scopeSpans, ...resource } = rs;
      for (const ss of scopeSpans as Obj[]) {
        const { spans, ...scope } = ss;
        for (const span of spans as Obj[]) out.push({ key: String(span.spanId), value: { resource, scope, span: canonical(span) } });
      }
    }
  return out.sort((a, b) => a.key.localeCompare(b.key)).map((x) => x.value);
}

/** What went in, in the form the sink decodes to. */
function expected(request: object): object[] {
  return spansOf([RequestType.toObject(RequestType.fromObject(request), AS_SINK) as OtlpSinkRequest]);
}

/**
 * One OTLP receiver (gRPC and HTTP on the ports given, 0 for any) → batch → the one exporter
 * `exporter` defines: the same config for span-relay and for the Collector, which read one shape.
 */
const PIPELINE_YAML = (grpcPort: number, httpPort: number, exporter: string) => `
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:${grpcPort}
      http:
        endpoint: 127.0.0.1:${httpPort}
processors:
  batch:
    timeout: 10ms
exporters:
${exporter}
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [${exporter.trim().split(':')[0]}]
`;

/** POSTs the request as OTLP/HTTP protobuf (what the SDKs send by default). */
async function postOtlp(url: string, request: object): Promise<void> {
  const body = RequestType.encode(RequestType.fromObject(request)).finish();
  const res = await fetch(`${url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body });
  expect(res.status, await res.text()).toBe(200);
}

describe.skipIf(missingPeers('otelcol'))('span-relay and the OpenTelemetry Collector v0.165.0, either way round: every OTLP field kept', () => {
  let sink: OtlpGrpcSink;
  const running: { relay?: RunningCollector; otelcol?: PeerProcess }[] = [];

  beforeAll(async () => {
    sink = await new OtlpGrpcSink().start();
  });
  beforeEach(() => sink.clear());
  afterAll(async () => {
    for (const r of running) await r.relay?.stop();
    await stopPeerProcesses();
    await sink.stop();
  });

  for (const via of ['otlp', 'otlphttp'] as const) {
    it(`span-relay (${via} exporter) → Collector (otlp receiver) → backend`, async () => {
      const base = await portRun(2);
      const otelcol = await startOtelcol(PIPELINE_YAML(base, base + 1, `  otlp:\n    endpoint: ${sink.endpoint}\n    tls:\n      insecure: true`));
      const exporter = via === 'otlp' ? `  otlp:\n    endpoint: 127.0.0.1:${base}\n    tls:\n      insecure: true` : `  otlphttp:\n    endpoint: http://127.0.0.1:${base + 1}`;
      const relay = await startCollector(PIPELINE_YAML(0, 0, exporter));
      running.push({ relay, otelcol });
      const request = richRequest(via === 'otlp' ? 'a1' : 'a2');
      await postOtlp(relay.url('otlp.http'), request);
      await sink.waitForSpans(5);
      expect(spansOf(sink.requests)).toEqual(expected(request));
    });

    it(`Collector (${via} exporter) → span-relay (otlp receiver) → backend`, async () => {
      const relay = await startCollector(PIPELINE_YAML(0, 0, `  otlp:\n    endpoint: ${sink.endpoint}\n    tls:\n      insecure: true`));
      const base = await portRun(2);
      const exporter = via === 'otlp' ? `  otlp:\n    endpoint: ${relay.address('otlp.grpc')}\n    tls:\n      insecure: true` : `  otlphttp:\n    endpoint: ${relay.url('otlp.http')}`;
      const otelcol = await startOtelcol(PIPELINE_YAML(base, base + 1, exporter));
      running.push({ relay, otelcol });
      const request = richRequest(via === 'otlp' ? 'b1' : 'b2');
      await postOtlp(`http://127.0.0.1:${base + 1}`, request);
      await sink.waitForSpans(5);
      expect(spansOf(sink.requests)).toEqual(expected(request));
    });
  }
});
