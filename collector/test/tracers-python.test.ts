/**
 * Python tracers others wrote, from PyPI (peers/python-tracers and peers/python-opencensus, built
 * by `npm run peers`), each on its default transport, through the real receivers and the join to an
 * OTLP sink: the OpenTelemetry Python SDK over OTLP gRPC and OTLP HTTP/protobuf, py_zipkin 1.2.8 in
 * each encoding it still writes (V2 JSON by default, V2 proto3, V1 JSON), and the two OpenCensus agent
 * exporters (OC_AGENT_HOST's protocol): opentelemetry-exporter-opencensus under the OpenTelemetry
 * SDK, and OpenCensus Python's own opencensus-ext-ocagent.
 *
 * Each sender prints the tracer's own view of what it sent (the spans as the SDK handed them to its
 * exporter, IDs in hex, times in ns, attribute values typed); each test turns that into the OTLP
 * span span-relay should export and compares the whole span, field by field, with what the sink
 * received. Without a built peer, its describe reports itself skipped by name.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { missingPeers, peer, PEERS_DIR, type PeerName } from '../../peers/peers.js';
import { b64hex, OtlpGrpcSink, type RawAnyValue, type RawKeyValue } from './helpers/sinks.js';
import { startCollector, type RunningCollector, tracerRelayYaml } from './helpers/collector.js';

const run = promisify(execFile);

// ---- values, as the senders print them and as the sink receives them --------------------------

/** An OTLP AnyValue in OTLP/JSON's shape (int64 as a decimal string): how the senders keep a Python value's type. */
type Value = { stringValue: string } | { intValue: string } | { doubleValue: number } | { boolValue: boolean } | { arrayValue: { values: Value[] } };
type Attrs = Record<string, Value>;

type RawValue = RawAnyValue;
type RawKv = RawKeyValue;
interface RawSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  traceState?: string;
  flags?: number;
  name: string;
  kind?: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes?: RawKv[];
  events?: { timeUnixNano: string; name?: string; attributes?: RawKv[] }[];
  links?: { traceId: string; spanId: string; traceState?: string; flags?: number; attributes?: RawKv[] }[];
  status?: { code?: string; message?: string };
}
interface RawRequest {
  resourceSpans?: { resource?: { attributes?: RawKv[] }; schemaUrl?: string; scopeSpans?: { scope?: { name?: string; version?: string }; schemaUrl?: string; spans?: RawSpan[] }[] }[];
}

function value(v: RawValue): Value {
  if (v.arrayValue) return { arrayValue: { values: (v.arrayValue.values ?? []).map(value) } };
  if (v.stringValue !== undefined) return { stringValue: v.stringValue };
  if (v.intValue !== undefined) return { intValue: v.intValue };
  if (v.doubleValue !== undefined) return { doubleValue: v.doubleValue };
  if (v.boolValue !== undefined) return { boolValue: v.boolValue };
  throw new Error(`unexpected AnyValue ${JSON.stringify(v)}`);
}
const attrs = (list: RawKv[] | undefined): Attrs => Object.fromEntries((list ?? []).map((kv) => [kv.key, value(kv.value ?? {})]));
const str = (stringValue: string): Value => ({ stringValue });
const int = (n: number | string): Value => ({ intValue: String(n) });

/** A span as span-relay exported it, with its resource and scope: what every test compares whole. */
interface Exported {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  traceState: string;
  flags: number;
  name: string;
  kind: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Attrs;
  events: { name: string; timeUnixNano: string; attributes: Attrs }[];
  links: { traceId: string; spanId: string; traceState: string; flags: number; attributes: Attrs }[];
  status: { code: string; message: string };
  resource: Attrs;
  resourceSchemaUrl: string;
  scope: { name: string; version: string; schemaUrl: string } | undefined;
}

function exported(sink: OtlpGrpcSink): Exported[] {
  const out: Exported[] = [];
  for (const req of sink.requests as RawRequest[])
    for (const rs of req.resourceSpans ?? [])
      for (const ss of rs.scopeSpans ?? [])
        for (const s of ss.spans ?? [])
          out.push({
            traceId: b64hex(s.traceId),
            spanId: b64hex(s.spanId),
            parentSpanId: b64hex(s.parentSpanId),
            traceState: s.traceState ?? '',
            flags: s.flags ?? 0,
            name: s.name,
            kind: s.kind ?? 'SPAN_KIND_UNSPECIFIED',
            startTimeUnixNano: s.startTimeUnixNano,
            endTimeUnixNano: s.endTimeUnixNano,
            attributes: attrs(s.attributes),
            events: (s.events ?? []).map((e) => ({ name: e.name ?? '', timeUnixNano: e.timeUnixNano, attributes: attrs(e.attributes) })),
            links: (s.links ?? []).map((l) => ({ traceId: b64hex(l.traceId), spanId: b64hex(l.spanId), traceState: l.traceState ?? '', flags: l.flags ?? 0, attributes: attrs(l.attributes) })),
            status: { code: s.status?.code ?? 'STATUS_CODE_UNSET', message: s.status?.message ?? '' },
            resource: attrs(rs.resource?.attributes),
            resourceSchemaUrl: rs.schemaUrl ?? '',
            scope: ss.scope ? { name: ss.scope.name ?? '', version: ss.scope.version ?? '', schemaUrl: ss.schemaUrl ?? '' } : undefined,
          });
  return out;
}

/** The exported span with this span ID; fails naming the IDs that did arrive. */
function find(spans: Exported[], spanId: string): Exported {
  const s = spans.find((x) => x.spanId === spanId);
  if (!s) throw new Error(`span ${spanId} not exported; got ${spans.map((x) => `${x.spanId} ${x.name}`).join(', ')}`);
  return s;
}

// ---- running a sender ---------------------------------------------------------------------------

/**
 * The senders' environment: none of the test runner's OTEL_* settings, no proxy for loopback, and no
 * __pycache__ written beside the scripts in the checkout.
 */
const senderEnv = Object.fromEntries(
  Object.entries({ ...process.env, NO_PROXY: '127.0.0.1', no_proxy: '127.0.0.1', PYTHONDONTWRITEBYTECODE: '1' }).filter(([k]) => !k.startsWith('OTEL_')),
);

/** Runs peers/<name>/<script> with the peer's virtualenv and returns the JSON it prints. */
async function send<T>(name: PeerName, script: string, ...args: string[]): Promise<T> {
  const python = join(peer(name)!, 'venv', 'bin', 'python');
  const { stdout } = await run(python, [join(PEERS_DIR, name, script), ...args], { timeout: 60_000, env: senderEnv });
  return JSON.parse(stdout) as T;
}

let sink: OtlpGrpcSink;
let relay: RunningCollector;

beforeAll(async () => {
  sink = await new OtlpGrpcSink().start();
  relay = await startCollector(tracerRelayYaml(sink.endpoint, ['zipkin', 'opencensus', 'otlp']));
});
afterAll(async () => {
  await relay?.stop();
  await sink?.stop();
});
beforeEach(() => {
  sink.clear();
});

/** Waits for `n` spans, then a little longer than the join's quiet period, so that a span too many would show. */
async function received(n: number): Promise<Exported[]> {
  await sink.waitForSpans(n, 20_000);
  await new Promise((r) => setTimeout(r, 400));
  const spans = exported(sink);
  expect(spans, 'spans exported').toHaveLength(n);
  return spans;
}

// ---- the OpenTelemetry Python SDK (peers/python-tracers/otel_trace.py) --------------------------

interface OtelSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  parentIsRemote: boolean | null;
  traceState: string;
  traceFlags: number;
  name: string;
  kind: 'INTERNAL' | 'SERVER' | 'CLIENT' | 'PRODUCER' | 'CONSUMER';
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Attrs;
  events: { name: string; timeUnixNano: string; attributes: Attrs }[];
  links: { traceId: string; spanId: string; traceState: string; traceFlags: number; isRemote: boolean; attributes: Attrs }[];
  status: { code: 'UNSET' | 'OK' | 'ERROR'; description: string | null };
  scope: { name: string; version: string | null; schemaUrl: string | null; attributes: Attrs };
}
interface OtelSent {
  exportResults: string[];
  resource: Attrs;
  resourceSchemaUrl: string;
  spans: OtelSpan[];
  /** With the OpenCensus exporter (python-opencensus/send_otel.py): the Node it sent. */
  node?: OcNode;
}

/** The trace otel_trace.py makes, whatever carries it: a server root over a client and an internal child. */
function checkOtelTrace(sent: OtelSent): void {
  expect(sent.exportResults, 'what the exporter answered').toEqual(['SUCCESS']);
  expect(sent.spans.map((s) => `${s.kind} ${s.name}`).sort()).toEqual(['CLIENT SELECT orders', 'INTERNAL render', 'SERVER GET /checkout']);
  const root = sent.spans.find((s) => s.kind === 'SERVER')!;
  for (const s of sent.spans) expect(s.traceId).toBe(root.traceId);
  expect(sent.spans.filter((s) => s !== root).map((s) => s.parentSpanId)).toEqual([root.spanId, root.spanId]);
}

/**
 * OTLP span (and link) flags as the Python OTLP exporter writes them (trace_encoder's
 * `_span_flags`): the "is-remote is known" bit, and the is-remote bit for a remote parent or linked span.
 */
const remoteFlags = (remote: boolean | null): number => 0x100 | (remote ? 0x200 : 0);

/** What span-relay should export for a span the SDK sent over OTLP: every field as it was sent. */
function fromOtlp(s: OtelSpan, sent: OtelSent): Exported {
  return {
    traceId: s.traceId,
    spanId: s.spanId,
    parentSpanId: s.parentSpanId ?? '',
    traceState: s.traceState,
    flags: remoteFlags(s.parentIsRemote),
    name: s.name,
    kind: `SPAN_KIND_${s.kind}`,
    startTimeUnixNano: s.startTimeUnixNano,
    endTimeUnixNano: s.endTimeUnixNano,
    attributes: s.attributes,
    events: s.events,
    // The Python OTLP exporter (1.45) writes no link trace_state (its _encode_links leaves it out).
    links: s.links.map((l) => ({ traceId: l.traceId, spanId: l.spanId, traceState: '', flags: remoteFlags(l.isRemote), attributes: l.attributes })),
    status: { code: `STATUS_CODE_${s.status.code}`, message: s.status.description ?? '' },
    resource: sent.resource,
    resourceSchemaUrl: sent.resourceSchemaUrl,
    scope: { name: s.scope.name, version: s.scope.version ?? '', schemaUrl: s.scope.schemaUrl ?? '' },
  };
}

describe.skipIf(missingPeers('python-tracers'))('OpenTelemetry Python SDK → OTLP (peer python-tracers)', () => {
  for (const transport of ['grpc', 'http'] as const) {
    it(`opentelemetry-exporter-otlp-proto-${transport} → otlp ${transport} → join → OTLP: every field as the SDK sent it`, async () => {
      const sent = await send<OtelSent>('python-tracers', 'send_otlp.py', transport, relay.address(`otlp.${transport}`));
      checkOtelTrace(sent);
      const spans = await received(3);
      for (const s of sent.spans) expect(find(spans, s.spanId), s.name).toEqual(fromOtlp(s, sent));
    });
  }
});

// ---- py_zipkin (peers/python-tracers/send_py_zipkin.py) -----------------------------------------

interface ZipkinEndpoint {
  serviceName: string | null;
  ipv4: string | null;
  ipv6: string | null;
  port: number | null;
}
interface ZipkinSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  name: string;
  kind: 'CLIENT' | 'SERVER' | 'PRODUCER' | 'CONSUMER' | 'LOCAL';
  timestampMicros: number;
  durationMicros: number;
  shared: boolean;
  debug: boolean;
  localEndpoint: ZipkinEndpoint;
  remoteEndpoint: ZipkinEndpoint | null;
  annotations: { value: string; timestampMicros: number }[];
  tags: Record<string, string>;
}

const micros = (us: number): string => String(BigInt(us) * 1000n);

/**
 * What span-relay should export for a py_zipkin span (README, "How Zipkin maps to the span model"):
 * a 64-bit trace ID left-padded, tags as string attributes, the endpoints as net.host.* / peer.service
 * and net.peer.*, `error` as the error status with its text, annotations as events, the service as the
 * resource. py_zipkin's local spans carry no kind: unspecified, as the OpenTelemetry Collector reads them.
 */
function fromZipkin(s: ZipkinSpan): Exported {
  const { error, ...tags } = s.tags;
  const attributes: Attrs = Object.fromEntries(Object.entries(tags).map(([k, v]) => [k, str(v)]));
  const local = s.localEndpoint;
  if (local.ipv4 ?? local.ipv6) attributes['net.host.ip'] = str((local.ipv4 ?? local.ipv6)!);
  if (local.port) attributes['net.host.port'] = int(local.port);
  const remote = s.remoteEndpoint;
  if (remote?.serviceName) attributes['peer.service'] = str(remote.serviceName);
  if (remote && (remote.ipv4 ?? remote.ipv6)) attributes['net.peer.ip'] = str((remote.ipv4 ?? remote.ipv6)!);
  if (remote?.port) attributes['net.peer.port'] = int(remote.port);
  return {
    traceId: s.traceId.padStart(32, '0'),
    spanId: s.spanId,
    parentSpanId: s.parentSpanId ?? '',
    traceState: '',
    flags: s.debug ? 1 : 0,
    name: s.name,
    kind: s.kind === 'LOCAL' ? 'SPAN_KIND_UNSPECIFIED' : `SPAN_KIND_${s.kind}`,
    startTimeUnixNano: micros(s.timestampMicros),
    endTimeUnixNano: micros(s.timestampMicros + s.durationMicros),
    attributes,
    events: s.annotations.map((a) => ({ name: a.value, timeUnixNano: micros(a.timestampMicros), attributes: {} })),
    links: [],
    status: error === undefined ? { code: 'STATUS_CODE_UNSET', message: '' } : { code: 'STATUS_CODE_ERROR', message: error },
    resource: { 'service.name': str(local.serviceName!) },
    resourceSchemaUrl: '',
    scope: undefined,
  };
}

describe.skipIf(missingPeers('python-tracers'))('py_zipkin through its SimpleHTTPTransport (peer python-tracers)', () => {
  for (const encoding of ['V2_JSON', 'V2_PROTO3', 'V1_JSON']) {
    it(`py_zipkin ${encoding}${encoding === 'V2_JSON' ? ' (its default)' : ''} → zipkin → join → OTLP: every field as py_zipkin sent it`, async () => {
      const sent = await send<{ payloadsSent: number; spans: ZipkinSpan[] }>('python-tracers', 'send_py_zipkin.py', encoding, relay.address('zipkin'));
      expect(sent.payloadsSent, 'POSTs answered 202').toBe(1);
      expect(sent.spans.map((s) => `${s.kind} ${s.name}`).sort()).toEqual(['CLIENT get stock', 'LOCAL render', 'SERVER GET /cart']);
      expect(sent.spans[0]!.traceId).toHaveLength(encoding === 'V2_PROTO3' ? 32 : 16);
      const spans = await received(3);
      for (const s of sent.spans) expect(find(spans, s.spanId), s.name).toEqual(fromZipkin(s));
    });
  }
});

// ---- the OpenCensus agent exporters (peers/python-opencensus) -----------------------------------

interface OcNode {
  hostName: string;
  pid: number;
  startTimeUnixNano: string;
  language: string;
  exporterVersion: string;
  coreLibraryVersion: string;
  serviceName: string;
}

/** Go's time.RFC3339Nano (trailing zeros of the fraction dropped), as the Collector writes a node's start time. */
function rfc3339Nano(ns: bigint): string {
  const fraction = (ns % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${new Date(Number(ns / 1_000_000n)).toISOString().slice(0, 19)}${fraction ? `.${fraction}` : ''}Z`;
}

/** The resource a Node makes, with the OpenTelemetry Collector's names (its pkg/translator/opencensus). */
function fromNode(node: OcNode): Attrs {
  return {
    'service.name': str(node.serviceName),
    'host.name': str(node.hostName),
    'process.pid': int(node.pid),
    'opencensus.starttime': str(rfc3339Nano(BigInt(node.startTimeUnixNano))),
    'telemetry.sdk.language': str(node.language.toLowerCase()),
    'opencensus.exporterversion': str(node.exporterVersion),
    'telemetry.sdk.version': str(node.coreLibraryVersion),
  };
}

/** The resource span-relay gives an OpenCensus node, as the Collector translates it (start time to the nanosecond). */
function checkResource(got: Attrs, node: OcNode): void {
  expect(got).toEqual(fromNode(node));
}

/** Python's str() of a tuple of strings, ints and bools, as opentelemetry-exporter-opencensus sends a sequence attribute. */
function pyTuple(values: Value[]): string {
  const items = values.map((v) => {
    if ('stringValue' in v && !/['\\]/.test(v.stringValue)) return `'${v.stringValue}'`;
    if ('intValue' in v) return v.intValue;
    if ('boolValue' in v) return v.boolValue ? 'True' : 'False';
    throw new Error(`no Python text written here for ${JSON.stringify(v)}`);
  });
  return `(${items.join(', ')}${items.length === 1 ? ',' : ''})`;
}

/** OpenTelemetry's StatusCode values, which opentelemetry-exporter-opencensus sends as the OpenCensus (gRPC) code. */
const OTEL_STATUS_VALUE = { UNSET: 0, OK: 1, ERROR: 2 } as const;

/**
 * What span-relay should export for an SDK span sent by opentelemetry-exporter-opencensus: what that
 * exporter puts on the wire, read as the Collector reads OpenCensus. The exporter sends the Node
 * (service name from the resource, host name as configured, its own pid and time) instead of the
 * resource, no scope, no link trace state; INTERNAL, PRODUCER and CONSUMER have no OpenCensus kind;
 * a sequence attribute goes as Python's text of it; and the OpenTelemetry status code goes out as the
 * gRPC code, so OK (1) arrives as CANCELLED, an error. span-relay keeps a non-zero code as
 * `opencensus.status_code`.
 */
function fromOcExporter(s: OtelSpan, node: OcNode): Exported {
  const oc = (a: Attrs): Attrs => Object.fromEntries(Object.entries(a).map(([k, v]) => [k, 'arrayValue' in v ? str(pyTuple(v.arrayValue.values)) : v]));
  const code = OTEL_STATUS_VALUE[s.status.code];
  return {
    traceId: s.traceId,
    spanId: s.spanId,
    parentSpanId: s.parentSpanId ?? '',
    traceState: s.traceState,
    flags: 0,
    name: s.name,
    kind: s.kind === 'SERVER' || s.kind === 'CLIENT' ? `SPAN_KIND_${s.kind}` : 'SPAN_KIND_UNSPECIFIED',
    startTimeUnixNano: s.startTimeUnixNano,
    endTimeUnixNano: s.endTimeUnixNano,
    attributes: { ...oc(s.attributes), ...(code ? { 'opencensus.status_code': int(code) } : {}) },
    events: s.events.map((e) => ({ ...e, attributes: oc(e.attributes) })),
    links: s.links.map((l) => ({ traceId: l.traceId, spanId: l.spanId, traceState: '', flags: 0, attributes: oc(l.attributes) })),
    status: code ? { code: 'STATUS_CODE_ERROR', message: s.status.description ?? '' } : { code: 'STATUS_CODE_UNSET', message: '' },
    resource: fromNode(node),
    resourceSchemaUrl: '',
    scope: undefined,
  };
}

interface OcPythonSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  traceState: string;
  name: string;
  kind: 'UNSPECIFIED' | 'SERVER' | 'CLIENT';
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Attrs;
  annotations: { description: string; timeUnixNano: string; attributes: Attrs }[];
  messageEvents: { type: number; id: number; uncompressedSize: number; compressedSize: number; timeUnixNano: string }[];
  links: { traceId: string; spanId: string; type: number; attributes: Attrs }[];
  status: { code: number; message: string | null };
  sameProcessAsParentSpan: boolean | null;
  childSpanCount: number;
}

const MESSAGE_TYPES = ['TYPE_UNSPECIFIED', 'SENT', 'RECEIVED'];
const LINK_TYPES = ['TYPE_UNSPECIFIED', 'CHILD_LINKED_SPAN', 'PARENT_LINKED_SPAN'];

/**
 * What span-relay should export for an OpenCensus Python span: the Collector's reading of OpenCensus
 * (annotations as events; code 0 is unset, any other an error; same_process_as_parent_span as
 * `opencensus.same_process_as_parent_span`; child_span_count dropped, as the Collector drops it) and
 * span-relay's keys for what that loses: the status code as `opencensus.status_code`, a message event
 * as a `message` event with `message.*` attributes, a link's type as `opencensus.link.type`.
 */
function fromOcPython(s: OcPythonSpan, node: OcNode): Exported {
  return {
    traceId: s.traceId,
    spanId: s.spanId,
    parentSpanId: s.parentSpanId ?? '',
    traceState: s.traceState,
    flags: 0,
    name: s.name,
    kind: `SPAN_KIND_${s.kind}`,
    startTimeUnixNano: s.startTimeUnixNano,
    endTimeUnixNano: s.endTimeUnixNano,
    attributes: {
      ...s.attributes,
      ...(s.status.code ? { 'opencensus.status_code': int(s.status.code) } : {}),
      ...(s.sameProcessAsParentSpan === null ? {} : { 'opencensus.same_process_as_parent_span': { boolValue: s.sameProcessAsParentSpan } }),
    },
    events: [
      ...s.annotations.map((a) => ({ name: a.description, timeUnixNano: a.timeUnixNano, attributes: a.attributes })),
      ...s.messageEvents.map((m) => ({
        name: 'message',
        timeUnixNano: m.timeUnixNano,
        attributes: { 'message.type': str(MESSAGE_TYPES[m.type]!), 'message.id': int(m.id), 'message.uncompressed_size': int(m.uncompressedSize), 'message.compressed_size': int(m.compressedSize) },
      })),
    ],
    links: s.links.map((l) => ({ traceId: l.traceId, spanId: l.spanId, traceState: '', flags: 0, attributes: { ...l.attributes, ...(l.type ? { 'opencensus.link.type': str(LINK_TYPES[l.type]!) } : {}) } })),
    status: s.status.code ? { code: 'STATUS_CODE_ERROR', message: s.status.message ?? '' } : { code: 'STATUS_CODE_UNSET', message: '' },
    resource: fromNode(node),
    resourceSchemaUrl: '',
    scope: undefined,
  };
}

/** Compares an exported span whole with the expected one, the node's start time as checkResource does. */
function expectOcSpan(got: Exported, want: Exported, node: OcNode, what: string): void {
  const { resource, ...rest } = got;
  const { resource: _r, ...wantRest } = want;
  expect(rest, what).toEqual(wantRest);
  checkResource(resource, node);
}

describe.skipIf(missingPeers('python-opencensus'))('OpenCensus agent gRPC senders (peer python-opencensus)', () => {
  it('OpenTelemetry SDK → opentelemetry-exporter-opencensus → opencensus → join → OTLP: every field the exporter sends', async () => {
    const sent = await send<OtelSent>('python-opencensus', 'send_otel.py', relay.address('opencensus'));
    checkOtelTrace(sent);
    const spans = await received(3);
    for (const s of sent.spans) expectOcSpan(find(spans, s.spanId), fromOcExporter(s, sent.node!), sent.node!, s.name);
  });

  it('OpenCensus Python → opencensus-ext-ocagent (a stream per span) → opencensus → join → OTLP: every field', async () => {
    const sent = await send<{ node: OcNode; spans: OcPythonSpan[] }>('python-opencensus', 'send_ocagent.py', relay.address('opencensus'));
    expect(sent.spans.map((s) => `${s.kind} ${s.name}`).sort()).toEqual(['CLIENT SELECT orders', 'SERVER GET /orders']);
    const root = sent.spans.find((s) => s.kind === 'SERVER')!;
    expect(sent.spans.find((s) => s !== root)!.parentSpanId).toBe(root.spanId);
    const spans = await received(2);
    for (const s of sent.spans) expectOcSpan(find(spans, s.spanId), fromOcPython(s, sent.node), sent.node, s.name);
  });

  it('the Node start time (opencensus.starttime) comes out to the nanosecond, as the Collector writes it', async () => {
    const sent = await send<OtelSent>('python-opencensus', 'send_otel.py', relay.address('opencensus'));
    const spans = await received(3);
    expect(BigInt(sent.node!.startTimeUnixNano) % 1_000_000n, 'the sender gave a start time finer than a millisecond').not.toBe(0n);
    for (const s of spans) expect(s.resource['opencensus.starttime']).toEqual(str(rfc3339Nano(BigInt(sent.node!.startTimeUnixNano))));
  });
});
