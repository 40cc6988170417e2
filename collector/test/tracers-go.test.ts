/**
 * Go tracers others wrote (peers/go-tracers, built from the Go module proxy by `npm run peers`),
 * each on its default transport, through the real receivers and the join to an OTLP sink: the
 * OpenTelemetry Go SDK over OTLP gRPC and OTLP HTTP, and OpenCensus Go with the ocagent exporter
 * and its ochttp/ocgrpc plugins (emojivoto's services with OC_AGENT_HOST set).
 *
 * The peer prints what its exporter put on the wire, caught on the way out and decoded with the
 * tracer's own protobuf types; each test compares every field of it with what the sink received.
 * OTLP in is OTLP out, field for field. OpenCensus in is OTLP out by the OpenTelemetry Collector's
 * translation (pkg/translator/opencensus) plus span-relay's own keys for what that drops, written
 * out once below (`fromOpenCensus`). Without the built peer the describe reports itself skipped by name.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { missingPeers, peer } from '../../peers/peers.js';
import { b64hex, OtlpGrpcSink, type OtlpSinkRequest, type RawAnyValue, type RawKeyValue } from './helpers/sinks.js';
import { eventually, startCollector, type RunningCollector, tracerRelayYaml } from './helpers/collector.js';

const run = promisify(execFile);

// ---- what the peer prints ---------------------------------------------------------------------

/** An OTLP AnyValue as OTLP/JSON writes it (int64 as a decimal string), IDs in hex. */
type Value =
  | { stringValue: string }
  | { intValue: string }
  | { doubleValue: number }
  | { boolValue: boolean }
  | { bytesValue: string }
  | { arrayValue: { values: Value[] } }
  | { kvlistValue: { values: Attrs } };
type Attrs = Record<string, Value>;

/** One span as the OTLP request carried it, with its resource and scope: the peer's and the sink's shape. */
interface WireSpan {
  resourceSchemaUrl?: string;
  resource: Attrs;
  resourceDroppedAttributesCount?: number;
  scopeSchemaUrl?: string;
  scope: { name: string; version?: string; attributes: Attrs; droppedAttributesCount?: number };
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  traceState?: string;
  flags?: number;
  name: string;
  kind: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Attrs;
  droppedAttributesCount?: number;
  events: { timeUnixNano: string; name: string; attributes: Attrs; droppedAttributesCount?: number }[];
  droppedEventsCount?: number;
  links: { traceId: string; spanId: string; traceState?: string; flags?: number; attributes: Attrs; droppedAttributesCount?: number }[];
  droppedLinksCount?: number;
  status: { code: string; message?: string };
}

interface OtlpSent {
  tracer: string;
  requests: number;
  spans: WireSpan[];
}

interface OcResource {
  type: string;
  labels: Record<string, string>;
}
interface OcSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  tracestate?: string;
  name: string;
  kind: 'SPAN_KIND_UNSPECIFIED' | 'SERVER' | 'CLIENT';
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Attrs;
  droppedAttributesCount?: number;
  timeEvents: {
    timeUnixNano: string;
    annotation?: { description: string; attributes: Attrs };
    /** uint64s as decimal strings. */
    messageEvent?: { type: string; id: string; uncompressedSize: string; compressedSize: string };
  }[];
  droppedAnnotationsCount?: number;
  droppedMessageEventsCount?: number;
  links: { traceId: string; spanId: string; type: string; tracestate?: string; attributes: Attrs }[];
  droppedLinksCount?: number;
  status?: { code: number; message?: string };
  sameProcessAsParentSpan?: boolean;
  childSpanCount?: number;
  resource?: OcResource;
}
interface OcSent {
  tracer: string;
  messages: { node: boolean; resource: boolean; spans: number }[];
  node: {
    hostName: string;
    pid: number;
    startTimeUnixNano: string;
    language: string;
    exporterVersion: string;
    coreLibraryVersion: string;
    serviceName: string;
    attributes: Record<string, string>;
  };
  resource: OcResource | null;
  spans: OcSpan[];
}

// ---- what the sink received, in the same shape -----------------------------------------------

type RawValue = RawAnyValue;
type RawKv = RawKeyValue;
interface RawSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  traceState?: string;
  flags?: number;
  name?: string;
  kind?: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes?: RawKv[];
  droppedAttributesCount?: number;
  events?: { timeUnixNano: string; name?: string; attributes?: RawKv[]; droppedAttributesCount?: number }[];
  droppedEventsCount?: number;
  links?: { traceId: string; spanId: string; traceState?: string; flags?: number; attributes?: RawKv[]; droppedAttributesCount?: number }[];
  droppedLinksCount?: number;
  status?: { code?: string; message?: string };
}
interface RawRequest {
  resourceSpans?: {
    resource?: { attributes?: RawKv[]; droppedAttributesCount?: number };
    schemaUrl?: string;
    scopeSpans?: { scope?: { name?: string; version?: string; attributes?: RawKv[]; droppedAttributesCount?: number }; schemaUrl?: string; spans?: RawSpan[] }[];
  }[];
}

/** proto-loader's AnyValue (oneofs: true names the set field in `value`) as OTLP/JSON writes it. */
function value(v: RawValue | undefined): Value {
  switch (v?.value) {
    case 'stringValue':
      return { stringValue: v.stringValue ?? '' };
    case 'intValue':
      return { intValue: v.intValue ?? '0' };
    case 'doubleValue':
      return { doubleValue: v.doubleValue ?? 0 };
    case 'boolValue':
      return { boolValue: v.boolValue ?? false };
    case 'bytesValue':
      return { bytesValue: b64hex(v.bytesValue) };
    case 'arrayValue':
      return { arrayValue: { values: (v.arrayValue?.values ?? []).map(value) } };
    case 'kvlistValue':
      return { kvlistValue: { values: attrs(v.kvlistValue?.values) } };
    default:
      throw new Error(`an AnyValue with no value: ${JSON.stringify(v)}`);
  }
}

function attrs(list: RawKv[] | undefined): Attrs {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, value(kv.value)]));
}

/** Fields the peer leaves out when zero or empty are left out here the same way. */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== '' && v !== 0)) as T;
}

function received(requests: OtlpSinkRequest[]): WireSpan[] {
  const out: WireSpan[] = [];
  for (const req of requests as RawRequest[])
    for (const rs of req.resourceSpans ?? [])
      for (const ss of rs.scopeSpans ?? [])
        for (const s of ss.spans ?? [])
          out.push(
            defined({
              resourceSchemaUrl: rs.schemaUrl,
              resource: attrs(rs.resource?.attributes),
              resourceDroppedAttributesCount: rs.resource?.droppedAttributesCount,
              scopeSchemaUrl: ss.schemaUrl,
              scope: { name: ss.scope?.name ?? '', ...defined({ version: ss.scope?.version, droppedAttributesCount: ss.scope?.droppedAttributesCount }), attributes: attrs(ss.scope?.attributes) },
              traceId: b64hex(s.traceId),
              spanId: b64hex(s.spanId),
              parentSpanId: s.parentSpanId ? b64hex(s.parentSpanId) : undefined,
              traceState: s.traceState,
              flags: s.flags,
              name: s.name ?? '',
              kind: s.kind ?? 'SPAN_KIND_UNSPECIFIED',
              startTimeUnixNano: s.startTimeUnixNano,
              endTimeUnixNano: s.endTimeUnixNano,
              attributes: attrs(s.attributes),
              droppedAttributesCount: s.droppedAttributesCount,
              events: (s.events ?? []).map((e) => defined({ timeUnixNano: e.timeUnixNano, name: e.name ?? '', attributes: attrs(e.attributes), droppedAttributesCount: e.droppedAttributesCount })),
              droppedEventsCount: s.droppedEventsCount,
              links: (s.links ?? []).map((l) =>
                defined({ traceId: b64hex(l.traceId), spanId: b64hex(l.spanId), traceState: l.traceState, flags: l.flags, attributes: attrs(l.attributes), droppedAttributesCount: l.droppedAttributesCount }),
              ),
              droppedLinksCount: s.droppedLinksCount,
              status: defined({ code: s.status?.code ?? 'STATUS_CODE_UNSET', message: s.status?.message }),
            }),
          );
  return out;
}

/** Go's time.RFC3339Nano of a UTC instant: the fraction without trailing zeros, none when zero. */
function rfc3339Nano(unixNano: string): string {
  const ns = BigInt(unixNano);
  const seconds = new Date(Number(ns / 1_000_000_000n) * 1000).toISOString().slice(0, 19);
  const fraction = (ns % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${seconds}${fraction ? `.${fraction}` : ''}Z`;
}

const OC_LANGUAGES: Record<string, string> = { CPP: 'cpp', C_SHARP: 'dotnet', ERLANG: 'erlang', GO_LANG: 'go', JAVA: 'java', NODE_JS: 'nodejs', PHP: 'php', PYTHON: 'python', RUBY: 'ruby', WEB_JS: 'webjs' };
const OC_KINDS = { SPAN_KIND_UNSPECIFIED: 'SPAN_KIND_UNSPECIFIED', SERVER: 'SPAN_KIND_SERVER', CLIENT: 'SPAN_KIND_CLIENT' } as const;
const str = (s: string): Value => ({ stringValue: s });
const int = (n: number | string): Value => ({ intValue: String(n) });
/** A uint64 of the wire as OTLP's int64 takes it, as Go's int64() conversion does: 2^64-1 is -1. */
const int64Of = (uint64: string): Value => ({ intValue: BigInt.asIntN(64, BigInt(uint64)).toString() });

/**
 * An OpenCensus span as it should leave span-relay in OTLP. The OpenTelemetry Collector's
 * translation: the node and resource become resource attributes (service.name, host.name,
 * process.pid, opencensus.starttime in RFC 3339 to the nanosecond, telemetry.sdk.language and
 * .version, opencensus.exporterversion, opencensus.resourcetype, the labels), annotations become
 * events named by their description, a non-zero status code (gRPC's codes) is an error with its
 * message, same_process_as_parent_span becomes opencensus.same_process_as_parent_span. span-relay
 * keeps what the Collector drops under its own keys: the status code as opencensus.status_code, a
 * link's type as opencensus.link.type, a message event as an event `message` with message.type,
 * message.id, message.uncompressed_size and message.compressed_size (the Collector: messaging.*).
 */
function fromOpenCensus(sent: OcSent, s: OcSpan): WireSpan {
  const node = sent.node;
  const resource: Attrs = {
    ...Object.fromEntries(Object.entries(sent.resource?.labels ?? {}).map(([k, v]) => [k, str(v)])),
    ...Object.fromEntries(Object.entries(node.attributes).map(([k, v]) => [k, str(v)])),
    'service.name': str(node.serviceName),
    'opencensus.starttime': str(rfc3339Nano(node.startTimeUnixNano)),
    ...(node.hostName ? { 'host.name': str(node.hostName) } : {}),
    'process.pid': int(node.pid),
    'telemetry.sdk.version': str(node.coreLibraryVersion),
    'opencensus.exporterversion': str(node.exporterVersion),
    'telemetry.sdk.language': str(OC_LANGUAGES[node.language]!),
    ...(sent.resource?.type ? { 'opencensus.resourcetype': str(sent.resource.type) } : {}),
  };
  const attributes: Attrs = { ...s.attributes };
  if (s.status?.code) attributes['opencensus.status_code'] = int(s.status.code);
  if (s.sameProcessAsParentSpan !== undefined) attributes['opencensus.same_process_as_parent_span'] = { boolValue: s.sameProcessAsParentSpan };
  return defined({
    resource,
    scope: { name: '', attributes: {} },
    traceId: s.traceId,
    spanId: s.spanId,
    parentSpanId: s.parentSpanId,
    traceState: s.tracestate,
    name: s.name,
    kind: OC_KINDS[s.kind],
    startTimeUnixNano: s.startTimeUnixNano,
    endTimeUnixNano: s.endTimeUnixNano,
    attributes,
    droppedAttributesCount: s.droppedAttributesCount,
    events: s.timeEvents.map((e) =>
      e.messageEvent
        ? {
            timeUnixNano: e.timeUnixNano,
            name: 'message',
            attributes: {
              'message.type': str(e.messageEvent.type),
              'message.id': int64Of(e.messageEvent.id),
              'message.uncompressed_size': int64Of(e.messageEvent.uncompressedSize),
              'message.compressed_size': int64Of(e.messageEvent.compressedSize),
            },
          }
        : { timeUnixNano: e.timeUnixNano, name: e.annotation!.description, attributes: e.annotation!.attributes },
    ),
    droppedEventsCount: (s.droppedAnnotationsCount ?? 0) + (s.droppedMessageEventsCount ?? 0),
    links: s.links.map((l) =>
      defined({ traceId: l.traceId, spanId: l.spanId, traceState: l.tracestate, attributes: { ...l.attributes, ...(l.type !== 'TYPE_UNSPECIFIED' ? { 'opencensus.link.type': str(l.type) } : {}) } }),
    ),
    droppedLinksCount: s.droppedLinksCount,
    status: s.status?.code ? defined({ code: 'STATUS_CODE_ERROR', message: s.status.message }) : { code: 'STATUS_CODE_UNSET' },
  });
}

// ---- the tests ---------------------------------------------------------------------------------

describe.skipIf(missingPeers('go-tracers'))('Go tracers from the module proxy (peer go-tracers) → span-relay → OTLP: every field', () => {
  let sink: OtlpGrpcSink;
  let relay: RunningCollector;

  /** Runs the peer; what it sent, as it printed it. Bounded: the peer gives up after 20 s itself. */
  async function sendWith<T>(subcommand: string, address: string, env: Record<string, string> = {}): Promise<T> {
    const bin = join(peer('go-tracers')!, 'go-tracers');
    // Only what the test sets: an OTEL_* or OC_* variable of this shell would change what they send.
    const { stdout } = await run(bin, [subcommand, address], { timeout: 25_000, env });
    return JSON.parse(stdout) as T;
  }

  /** The sink's spans with these IDs, once all have arrived. */
  async function arrived(spanIds: string[]): Promise<Map<string, WireSpan>> {
    let got = new Map<string, WireSpan>();
    await eventually(
      () => {
        got = new Map(received(sink.requests).map((s) => [s.spanId, s]));
        return spanIds.every((id) => got.has(id));
      },
      `spans ${spanIds.join(', ')} at the sink`,
      10_000,
    );
    return got;
  }

  beforeAll(async () => {
    sink = await new OtlpGrpcSink().start();
    relay = await startCollector(tracerRelayYaml(sink.endpoint, ['opencensus', 'otlp']));
  });
  afterAll(async () => {
    await relay?.stop();
    await sink?.stop();
  });
  beforeEach(() => {
    sink.clear();
  });

  for (const [subcommand, receiver] of [
    ['otlp-grpc', 'otlp.grpc'],
    ['otlp-http', 'otlp.http'],
  ] as const) {
    it(`OpenTelemetry Go SDK v1.47.0, ${subcommand} → otlp receiver: what it sent arrives field for field`, async () => {
      const sent = await sendWith<OtlpSent>(subcommand, relay.address(receiver));
      expect(sent.tracer).toBe(`go.opentelemetry.io/otel/sdk v1.47.0, go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptrace${subcommand.slice(5)} v1.47.0`);

      // The trace the peer makes, so that a change there cannot quietly shrink what is compared.
      const byName = new Map(sent.spans.map((s) => [s.name, s]));
      expect([...byName.keys()].sort()).toEqual(['GET /api/vote', 'VotingService/VoteDoughnut', 'render leaderboard']);
      const root = byName.get('GET /api/vote')!;
      const child = byName.get('VotingService/VoteDoughnut')!;
      const render = byName.get('render leaderboard')!;
      expect(root).toMatchObject({ kind: 'SPAN_KIND_SERVER', status: { code: 'STATUS_CODE_OK' } });
      expect(root.parentSpanId).toBeUndefined();
      expect(child).toMatchObject({ parentSpanId: root.spanId, traceId: root.traceId, kind: 'SPAN_KIND_CLIENT', status: { code: 'STATUS_CODE_ERROR', message: 'doughnut is out of stock' } });
      expect(render).toMatchObject({ parentSpanId: root.spanId, kind: 'SPAN_KIND_INTERNAL' });
      expect(child.attributes).toMatchObject({
        'rpc.system': { stringValue: 'grpc' },
        'rpc.grpc.status_code': { intValue: '2' },
        'retry.backoff_ratio': { doubleValue: 0.25 },
        'cache.hit': { boolValue: false },
        'retry.delays_ms': { arrayValue: { values: [{ intValue: '20' }, { intValue: '40' }] } },
      });
      expect(child.events.map((e) => e.name)).toEqual(['retry', 'exception']);
      expect(child.events[0]!.attributes).toEqual({ attempt: { intValue: '2' }, backoff_ms: { doubleValue: 20.5 }, last: { boolValue: true }, reason: { stringValue: 'unavailable' } });
      // The linked context has a trace state (vendor=abc,other=x1); the Go exporter writes none for links.
      expect(child.links).toEqual([
        {
          traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
          spanId: '00f067aa0ba902b7',
          flags: 0x301, // sampled, and the linked context says it is remote
          attributes: { 'link.reason': { stringValue: 'batched vote' }, 'link.index': { intValue: '3' } },
        },
      ]);
      expect(root.resource).toMatchObject({
        'service.name': { stringValue: `go-${subcommand}` },
        'deployment.environment.name': { stringValue: 'ci' },
        'process.pid': { intValue: expect.stringMatching(/^\d+$/) },
        'telemetry.sdk.language': { stringValue: 'go' },
        'telemetry.sdk.version': { stringValue: '1.47.0' },
      });
      expect(root.resourceSchemaUrl).toMatch(/^https:\/\/opentelemetry\.io\/schemas\//);
      expect(root.scope).toEqual({ name: 'span-relay/peers/go-tracers', version: '0.3.1', attributes: {} });
      expect(root.flags).toBe(0x101); // sampled; the SDK knows the (absent) parent is not remote

      const got = await arrived(sent.spans.map((s) => s.spanId));
      expect(sent.spans.map((s) => got.get(s.spanId))).toEqual(sent.spans);
    }, 45_000);
  }

  it("OpenCensus Go 0.24.0 + ocagent 0.7.0 with ochttp and ocgrpc (emojivoto's stack) → opencensus receiver: every field, as the Collector translates it", async () => {
    // What a pod gives its containers: HOSTNAME is the pod's name; OC_RESOURCE_* read by ocagent.
    const sent = await sendWith<OcSent>('ocagent', relay.address('opencensus'), {
      HOSTNAME: 'web-7d9c6b8f5-x2k4q',
      OC_RESOURCE_TYPE: 'k8s',
      OC_RESOURCE_LABELS: 'k8s.pod.name="web-7d9c6b8f5-x2k4q",k8s.namespace.name="emojivoto"',
    });
    expect(sent.tracer).toBe('go.opencensus.io v0.24.0, contrib.go.opencensus.io/exporter/ocagent v0.7.0');

    // The stream: a first message with the node and resource and no spans, then spans.
    expect(sent.messages[0]).toEqual({ node: true, resource: true, spans: 0 });
    expect(sent.node).toMatchObject({ hostName: 'web-7d9c6b8f5-x2k4q', language: 'GO_LANG', exporterVersion: '0.0.1' /* ocagent v0.7.0's Version constant */, coreLibraryVersion: '0.24.0', serviceName: 'web', attributes: {} });
    expect(sent.resource).toEqual({ type: 'k8s', labels: { 'k8s.pod.name': 'web-7d9c6b8f5-x2k4q', 'k8s.namespace.name': 'emojivoto' } });

    // bot → web over HTTP (ochttp client and server), web → voting over gRPC (ocgrpc client and
    // server), and the voting service's own span.
    const spans = sent.spans;
    const find = (name: string, kind: OcSpan['kind']) => spans.find((s) => s.name === name && s.kind === kind)!;
    expect(spans.map((s) => `${s.kind} ${s.name}`).sort()).toEqual([
      'CLIENT /api/vote',
      'CLIENT grpc.health.v1.Health.Check',
      'SERVER /api/vote',
      'SERVER grpc.health.v1.Health.Check',
      'SPAN_KIND_UNSPECIFIED FindByShortcode',
    ]);
    const bot = find('/api/vote', 'CLIENT');
    const web = find('/api/vote', 'SERVER');
    const rpc = find('grpc.health.v1.Health.Check', 'CLIENT');
    const voting = find('grpc.health.v1.Health.Check', 'SERVER');
    const lookup = find('FindByShortcode', 'SPAN_KIND_UNSPECIFIED');
    expect(bot.parentSpanId).toBeUndefined();
    expect([web.parentSpanId, rpc.parentSpanId, voting.parentSpanId, lookup.parentSpanId]).toEqual([bot.spanId, web.spanId, rpc.spanId, voting.spanId]);
    for (const s of spans) expect(s.traceId).toBe(bot.traceId);
    expect(web.attributes).toMatchObject({ 'http.path': str('/api/vote'), 'http.method': str('GET'), 'http.status_code': int(500) });
    expect(web.status).toEqual({ code: 2, message: 'UNKNOWN' });
    expect(rpc.status).toEqual({ code: 13, message: 'doughnut is out of stock' });
    // Message events: the request out and in; the error answer carries no message.
    expect([rpc, voting, web].map((s) => s.timeEvents.map((e) => e.messageEvent?.type))).toEqual([['SENT'], ['RECEIVED'], ['SENT']]);
    // ochttp's server writes -1 for a compressed size it does not know: 2^64-1 in the uint64.
    expect(web.timeEvents[0]!.messageEvent).toMatchObject({ id: '0', compressedSize: '18446744073709551615' });
    // ocagent 0.7.0 writes no float attributes (its converter has no case for them) and no link
    // attributes: emoji.ratio and the link's reason never leave the process.
    expect(lookup.attributes).toEqual({ 'emoji.shortcode': str(':doughnut:'), 'emoji.votes': int(42), 'emoji.found': { boolValue: false } });
    expect(lookup.timeEvents).toEqual([{ timeUnixNano: expect.stringMatching(/^\d+$/), annotation: { description: 'lookup', attributes: { store: str('in-memory'), size: int(88), cold: { boolValue: true } } } }]);
    expect(lookup.links).toEqual([{ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', type: 'PARENT_LINKED_SPAN', attributes: {} }]);
    expect(lookup.status).toEqual({ code: 5, message: 'no emoji :doughnut:' });

    const got = await arrived(spans.map((s) => s.spanId));
    expect(spans.map((s) => got.get(s.spanId))).toEqual(spans.map((s) => fromOpenCensus(sent, s)));
  }, 45_000);
});
