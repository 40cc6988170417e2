/**
 * Java tracers from Maven Central (peers/java-tracers, built by `npm run peers`), each on its
 * default transport into span-relay's receivers, through the join, out over OTLP gRPC: Brave with
 * its Zipkin reporter (v2 JSON over HTTP, gzipped; a server span sharing its client's ID, as Brave
 * does by default) and the OpenTelemetry Java SDK's OTLP exporters (gRPC and HTTP/protobuf). Each
 * sender runs from source on the JDK and prints the tracer's own view of what it sent; every field
 * of that is checked against what the backend received. Without the built peer these tests report
 * themselves skipped by name.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { missingPeers, peer, PEERS_DIR } from '../../peers/peers.js';
import { b64hex, OtlpGrpcSink } from './helpers/sinks.js';
import { startCollector, type RunningCollector, tracerRelayYaml } from './helpers/collector.js';

const run = promisify(execFile);
const SOURCES = join(PEERS_DIR, 'java-tracers');

/**
 * Runs one sender with the single-file source launcher and parses what it printed. The JVM is kept
 * small and quick to start: class data sharing, the C1 compiler alone, the serial collector.
 */
async function java<T>(file: string, ...args: string[]): Promise<T> {
  const jvm = ['-Xshare:auto', '-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', '-Xmx128m', '-Xss512k'];
  const { stdout } = await run('java', [...jvm, '-cp', `${join(peer('java-tracers')!, 'libs')}/*`, join(SOURCES, file), ...args], { timeout: 20_000 });
  return JSON.parse(stdout) as T;
}

/** An IPv6 address in RFC 5952 form, by Node's URL parser (not span-relay's). */
const rfc5952 = (ip: string): string => (ip.includes(':') ? new URL(`http://[${ip}]/`).hostname.slice(1, -1) : ip);

let sink: OtlpGrpcSink;
let relay: RunningCollector;

describe.skipIf(missingPeers('java-tracers'))('Java tracers (Maven Central) on their default transports', () => {
  beforeAll(async () => {
    sink = await new OtlpGrpcSink().start();
    relay = await startCollector(tracerRelayYaml(sink.endpoint, ['zipkin', 'otlp']));
  });
  afterAll(async () => {
    await relay?.stop();
    await sink?.stop();
  });
  beforeEach(() => {
    sink.clear();
  });

  it('Brave 6 + zipkin-reporter (URLConnectionSender, v2 JSON) → zipkin receiver → join: every field, and the shared server span split under its client', async () => {
    const sent = await java<BraveOutput>('BraveSender.java', `${relay.url('zipkin')}/api/v2/spans`);
    expect(sent.spans).toHaveLength(4);
    await sink.waitForSpans(4);
    const got = sink.spans();
    expect(got).toHaveLength(4);

    const client = sent.spans.find((s) => s.kind === 'CLIENT')!;
    const server = sent.spans.find((s) => s.kind === 'SERVER' && s.shared)!;
    // Brave's defaults, as the test relies on them: 64-bit trace IDs, B3 headers, a joined server span.
    expect(client.traceId).toMatch(/^[0-9a-f]{16}$/);
    expect(server.id).toBe(client.id);
    expect(sent.headers).toMatchObject({ 'X-B3-TraceId': client.traceId, 'X-B3-SpanId': client.id });

    // The server half took a new ID under its client half; the backend's own child moved under it.
    const splitServer = got.find((s) => s.kind === 'SPAN_KIND_SERVER' && s.parentSpanId === client.id)!;
    expect(splitServer).toBeDefined();
    expect(splitServer.spanId).not.toBe(client.id);
    expect(new Set(got.map((s) => s.spanId)).size).toBe(4);

    // span-relay's clock-skew rule (Jaeger's): each Tracing timed its part of the trace by its own
    // clock, so a server half that leaves its client's time is centred in it (or aligned to its start
    // when longer), and the spans of its process move with it. The sender's margins make this rare.
    const micros = (t: number) => BigInt(t) * 1000n;
    // Brave writes duration = max(finish - start, 1) µs.
    const end = (b: BraveSpan) => micros(b.startTimestamp + Math.max(b.finishTimestamp - b.startTimestamp, 1));
    const [cStart, cEnd, sStart, sEnd] = [micros(client.startTimestamp), end(client), micros(server.startTimestamp), end(server)];
    let skew = 0n;
    if (sStart < cStart || sEnd > cEnd) skew = (sEnd - sStart <= cEnd - cStart ? cStart + (cEnd - cStart - (sEnd - sStart)) / 2n : cStart) - sStart;

    for (const b of sent.spans) {
      const isSplit = b === server;
      const what = `${b.name} (${b.kind ?? 'local'})`;
      const o = isSplit ? splitServer : got.find((s) => s.spanId === b.id && s.kind === otlpKind(b.kind))!;
      expect(o, what).toBeDefined();
      const shift = b.localServiceName === server.localServiceName ? skew : 0n;
      const attributes: Record<string, unknown> = { ...b.tags };
      delete attributes.error;
      if (b.localIp) attributes['net.host.ip'] = rfc5952(b.localIp);
      if (b.localPort) attributes['net.host.port'] = b.localPort;
      if (b.remoteServiceName) attributes['peer.service'] = b.remoteServiceName;
      if (b.remoteIp) attributes['net.peer.ip'] = rfc5952(b.remoteIp);
      if (b.remotePort) attributes['net.peer.port'] = b.remotePort;
      if (isSplit) attributes['span_relay.original_span_id'] = b.id;
      if (shift !== 0n) attributes['span_relay.clock_skew_adjustment_ns'] = Number(shift);
      const errorMessage = b.tags.error ?? b.error;

      expect.soft(o.traceId, what).toBe(b.traceId.padStart(32, '0'));
      if (!isSplit) expect.soft(o.spanId, what).toBe(b.id);
      // The backend's own child of the shared ID now hangs under the server half.
      expect.soft(o.parentSpanId || null, what).toBe(isSplit ? client.id : b.parentId === server.id ? splitServer.spanId : b.parentId);
      expect.soft(o.name, what).toBe(b.name);
      expect.soft(o.kind, what).toBe(otlpKind(b.kind));
      expect.soft(o.startTimeUnixNano, what).toBe(String(micros(b.startTimestamp) + shift));
      expect.soft(o.endTimeUnixNano, what).toBe(String(end(b) + shift));
      expect.soft(o.resource, what).toEqual({ 'service.name': b.localServiceName });
      expect.soft(o.attributes, what).toEqual(attributes);
      expect.soft(o.events, what).toEqual(b.annotations.map((a) => ({ name: a.value, timeUnixNano: String(micros(a.timestamp) + shift), attributes: {} })));
      expect.soft(o.status ?? {}, what).toEqual(errorMessage !== null && errorMessage !== undefined ? { code: 'STATUS_CODE_ERROR', message: errorMessage } : {});
      expect.soft(o.links, what).toEqual([]);
      expect.soft(o.scope, what).toBeUndefined();
      expect.soft((o as { flags?: number }).flags, what).toBeUndefined();
    }
  });

  for (const protocol of ['grpc', 'http'] as const) {
    it(`OpenTelemetry Java SDK 1.68 + OTLP ${protocol === 'grpc' ? 'gRPC' : 'HTTP/protobuf'} exporter (OkHttp) → otlp receiver → join: every field`, async () => {
      const sent = await java<OtelOutput>('OtelSender.java', protocol, relay.url(`otlp.${protocol}`));
      expect(sent.spans).toHaveLength(4);
      await sink.waitForSpans(4);
      const got = rawSpans(sink);
      expect(got).toHaveLength(4);

      // The sender covers what OTLP can carry: every kind the test names, every AnyValue case.
      expect(sent.spans.map((j) => j.kind).sort()).toEqual(['CLIENT', 'INTERNAL', 'PRODUCER', 'SERVER']);
      const db = sent.spans.find((j) => j.kind === 'CLIENT')!;
      expect(new Set(Object.values(db.attributes).map((v) => Object.keys(v)[0]))).toEqual(new Set(['stringValue', 'intValue', 'doubleValue', 'boolValue', 'arrayValue', 'kvlistValue', 'bytesValue']));
      expect(db.links).toHaveLength(1);

      for (const j of sent.spans) {
        const found = got.find((g) => b64hex(g.span.spanId) === j.spanId);
        expect(found, j.name).toBeDefined();
        const { span: o, resource, resourceSchemaUrl, scope, scopeSchemaUrl } = found!;
        const field = (name: string) => `${j.name}: ${name}`;
        expect.soft(b64hex(o.traceId), field('traceId')).toBe(j.traceId);
        expect.soft(o.parentSpanId ? b64hex(o.parentSpanId) : null, field('parentSpanId')).toBe(j.parentSpanId);
        expect.soft(o.traceState ?? '', field('traceState')).toBe(j.traceState);
        expect.soft(o.name, field('name')).toBe(j.name);
        expect.soft(o.kind, field('kind')).toBe(`SPAN_KIND_${j.kind}`);
        expect.soft(o.startTimeUnixNano, field('startTimeUnixNano')).toBe(j.startEpochNanos);
        expect.soft(o.endTimeUnixNano, field('endTimeUnixNano')).toBe(j.endEpochNanos);
        // OTLP's span and link flags: the W3C trace flags, and bits 8 and 9 saying whether the
        // parent (the linked context) is known to be remote.
        expect.soft(o.flags, field('flags')).toBe(0x100 | (j.parentIsRemote ? 0x200 : 0) | j.traceFlags);
        expect.soft(attributeMap(o.attributes), field('attributes')).toEqual(j.attributes);
        expect.soft(o.droppedAttributesCount ?? 0, field('droppedAttributesCount')).toBe(j.totalAttributeCount - Object.keys(j.attributes).length);
        expect.soft((o.events ?? []).map((e) => ({ name: e.name, epochNanos: e.timeUnixNano, attributes: attributeMap(e.attributes) })), field('events')).toEqual(j.events);
        expect.soft(o.droppedEventsCount ?? 0, field('droppedEventsCount')).toBe(j.totalRecordedEvents - j.events.length);
        expect
          .soft(
            (o.links ?? []).map((l) => ({ traceId: b64hex(l.traceId), spanId: b64hex(l.spanId), traceState: l.traceState ?? '', flags: l.flags, attributes: attributeMap(l.attributes) })),
            field('links'),
          )
          .toEqual(j.links.map((l) => ({ traceId: l.traceId, spanId: l.spanId, traceState: l.traceState, flags: 0x100 | (l.isRemote ? 0x200 : 0) | l.traceFlags, attributes: l.attributes })));
        expect.soft(o.droppedLinksCount ?? 0, field('droppedLinksCount')).toBe(j.totalRecordedLinks - j.links.length);
        const code = { UNSET: undefined, OK: 'STATUS_CODE_OK', ERROR: 'STATUS_CODE_ERROR' }[j.status.code];
        expect.soft({ code: o.status?.code, message: o.status?.message ?? '' }, field('status')).toEqual({ code, message: j.status.description });
        expect.soft(attributeMap(resource.attributes), field('resource')).toEqual(j.resource.attributes);
        expect.soft(resourceSchemaUrl ?? '', field('resource schemaUrl')).toBe(j.resource.schemaUrl ?? '');
        expect
          .soft({ name: scope?.name, version: scope?.version, attributes: attributeMap(scope?.attributes) }, field('scope'))
          .toEqual({ name: j.scope.name, version: j.scope.version ?? undefined, attributes: j.scope.attributes });
        expect.soft(scopeSchemaUrl ?? '', field('scope schemaUrl')).toBe(j.scope.schemaUrl ?? '');
      }
    });
  }
});

function otlpKind(kind: BraveSpan['kind']): string | undefined {
  // A Zipkin span without a kind is a local span: OTLP's SPAN_KIND_UNSPECIFIED, which is not written.
  return kind ? `SPAN_KIND_${kind}` : undefined;
}

// --- What the senders print -------------------------------------------------------------------

interface BraveSpan {
  traceId: string;
  parentId: string | null;
  id: string;
  kind: 'CLIENT' | 'SERVER' | 'PRODUCER' | 'CONSUMER' | null;
  name: string;
  startTimestamp: number;
  finishTimestamp: number;
  localServiceName: string;
  localIp: string | null;
  localPort: number;
  remoteServiceName: string | null;
  remoteIp: string | null;
  remotePort: number;
  shared: boolean;
  error: string | null;
  tags: Record<string, string>;
  annotations: { timestamp: number; value: string }[];
}
interface BraveOutput {
  headers: Record<string, string>;
  spans: BraveSpan[];
}

/** An OTLP AnyValue as proto3 JSON writes it (int64 as a string, bytes as base64). */
type AnyValue = Record<string, unknown>;
interface OtelSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  parentIsRemote: boolean;
  traceFlags: number;
  traceState: string;
  name: string;
  kind: string;
  startEpochNanos: string;
  endEpochNanos: string;
  attributes: Record<string, AnyValue>;
  totalAttributeCount: number;
  events: { name: string; epochNanos: string; attributes: Record<string, AnyValue> }[];
  totalRecordedEvents: number;
  links: { traceId: string; spanId: string; traceState: string; traceFlags: number; isRemote: boolean; attributes: Record<string, AnyValue> }[];
  totalRecordedLinks: number;
  status: { code: 'UNSET' | 'OK' | 'ERROR'; description: string };
  scope: { name: string; version: string | null; schemaUrl: string | null; attributes: Record<string, AnyValue> };
  resource: { schemaUrl: string | null; attributes: Record<string, AnyValue> };
}
interface OtelOutput {
  spans: OtelSpan[];
}

// --- What the backend received, undecoded past the proto (every OTLP field, AnyValues as they are) ---

interface RawKv {
  key: string;
  value: AnyValue;
}
interface RawSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  traceState?: string;
  name: string;
  kind?: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  flags?: number;
  attributes?: RawKv[];
  droppedAttributesCount?: number;
  events?: { timeUnixNano: string; name: string; attributes?: RawKv[] }[];
  droppedEventsCount?: number;
  links?: { traceId: string; spanId: string; traceState?: string; flags?: number; attributes?: RawKv[] }[];
  droppedLinksCount?: number;
  status?: { code?: string; message?: string };
}
interface RawRequest {
  resourceSpans?: {
    resource?: { attributes?: RawKv[] };
    schemaUrl?: string;
    scopeSpans?: { scope?: { name?: string; version?: string; attributes?: RawKv[] }; schemaUrl?: string; spans?: RawSpan[] }[];
  }[];
}

function rawSpans(s: OtlpGrpcSink) {
  return (s.requests as RawRequest[]).flatMap((req) =>
    (req.resourceSpans ?? []).flatMap((rs) =>
      (rs.scopeSpans ?? []).flatMap((ss) =>
        (ss.spans ?? []).map((span) => ({ span, resource: rs.resource ?? {}, resourceSchemaUrl: rs.schemaUrl, scope: ss.scope, scopeSchemaUrl: ss.schemaUrl })),
      ),
    ),
  );
}

/** An AnyValue from @grpc/proto-loader (oneofs: true) without the name of its oneof case, at every depth. */
function anyValue(v: AnyValue): AnyValue {
  const out: AnyValue = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === 'value') continue; // the oneof's discriminator
    if (k === 'arrayValue') out[k] = { values: ((x as { values?: AnyValue[] }).values ?? []).map(anyValue) };
    else if (k === 'kvlistValue') out[k] = { values: ((x as { values?: RawKv[] }).values ?? []).map((kv) => ({ key: kv.key, value: anyValue(kv.value) })) };
    else out[k] = x;
  }
  return out;
}

function attributeMap(list: RawKv[] | undefined): Record<string, AnyValue> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, anyValue(kv.value)]));
}

