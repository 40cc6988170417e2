/** Model → OpenCensus agent ExportTraceServiceRequest messages, one per process (node). */
import type { AttributeValue, Attributes, Span } from '../../model/span.js';
import { hexToBytes, traceIdTo128 } from '../../model/ids.js';
import { nanosToTimestamp } from '../../model/time.js';
import { protoType } from '../proto.js';

const KIND: Partial<Record<Span['kind'], number>> = { server: 1, client: 2 };
// Resource attributes the OpenCensus receiver derives from the Node; written back there.
const NODE_KEYS = new Set(['service.name', 'host.name', 'process.pid', 'telemetry.sdk.language', 'opencensus.exporterversion', 'telemetry.sdk.version', 'opencensus.starttime', 'opencensus.resourcetype']);
const LANGUAGES = ['', 'cpp', 'dotnet', 'erlang', 'go', 'java', 'nodejs', 'php', 'python', 'ruby', 'webjs'];

function value(v: AttributeValue): object {
  if (typeof v === 'string') return { stringValue: { value: v } };
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { intValue: v } : { doubleValue: v };
  if (typeof v === 'bigint') return { intValue: v.toString() };
  return { stringValue: { value: JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x)) } };
}

function attributes(a: Attributes, skip: (k: string) => boolean = () => false): object {
  const attributeMap: Record<string, object> = {};
  for (const k in a) if (!skip(k)) attributeMap[k] = value(a[k]!);
  return { attributeMap };
}

export function ocNode(resource: Attributes): object {
  const str = (k: string) => (typeof resource[k] === 'string' ? (resource[k] as string) : undefined);
  const labels: Record<string, string> = {};
  for (const k in resource) if (!NODE_KEYS.has(k)) labels[k] = String(resource[k]);
  const lang = LANGUAGES.indexOf(str('telemetry.sdk.language') ?? '');
  return {
    identifier: { hostName: str('host.name') ?? '', pid: typeof resource['process.pid'] === 'number' ? resource['process.pid'] : 0 },
    libraryInfo: { language: lang > 0 ? lang : 0, exporterVersion: str('opencensus.exporterversion') ?? '', coreLibraryVersion: str('telemetry.sdk.version') ?? '' },
    serviceInfo: { name: str('service.name') ?? '' },
    attributes: labels,
  };
}

function ocSpan(s: Span): object {
  return {
    traceId: hexToBytes(traceIdTo128(s.traceId)),
    spanId: hexToBytes(s.spanId),
    ...(s.parentSpanId ? { parentSpanId: hexToBytes(s.parentSpanId) } : {}),
    name: { value: s.name },
    kind: KIND[s.kind] ?? 0,
    startTime: nanosToTimestamp(s.startTimeUnixNano),
    endTime: nanosToTimestamp(s.endTimeUnixNano),
    attributes: attributes(s.attributes, (k) => k === 'opencensus.status_code'),
    timeEvents: { timeEvent: s.events.map((e) => ({ time: nanosToTimestamp(e.timeUnixNano), annotation: { description: { value: e.name }, attributes: attributes(e.attributes) } })) },
    links: { link: s.links.map((l) => ({ traceId: hexToBytes(traceIdTo128(l.traceId)), spanId: hexToBytes(l.spanId), attributes: attributes(l.attributes) })) },
    ...(s.status.code === 'error' ? { status: { code: typeof s.attributes['opencensus.status_code'] === 'number' ? s.attributes['opencensus.status_code'] : 2, message: s.status.message ?? '' } } : {}),
    ...(s.traceState ? { tracestate: { entries: s.traceState.split(',').map((kv) => ({ key: kv.split('=')[0], value: kv.split('=')[1] })) } } : {}),
  };
}

/** One message per distinct resource, each carrying its node: what one OpenCensus process sends. */
export function modelToOcRequests(spans: Span[]): { resourceKey: string; bytes: Buffer; spans: number }[] {
  const type = protoType('opencensus', 'opencensus.proto.agent.trace.v1.ExportTraceServiceRequest');
  const groups = new Map<string, { resource: Attributes; spans: Span[] }>();
  for (const s of spans) {
    const key = JSON.stringify(s.resource.attributes, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
    const g = groups.get(key);
    if (g) g.spans.push(s);
    else groups.set(key, { resource: s.resource.attributes, spans: [s] });
  }
  return [...groups.entries()].map(([resourceKey, g]) => ({
    resourceKey,
    bytes: Buffer.from(type.encode(type.fromObject({ node: ocNode(g.resource), spans: g.spans.map(ocSpan) })).finish()),
    spans: g.spans.length,
  }));
}
