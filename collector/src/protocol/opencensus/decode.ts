import { DecodeError } from '../../model/errors.js';
import { emptyResult, type DecodeResult } from '../../model/decode-result.js';
import { bytesToHex, parentIdFromBytes, spanIdFromBytes, traceIdFromBytes } from '../../model/ids.js';
import type { AttributeValue, Attributes, Span, SpanEvent, SpanKind, SpanLink } from '../../model/span.js';
import { checkPlausible, isoTime, isPlausible, longToBigInt, longToBigIntSigned, maxPlausibleNanos, timestampToNanos } from '../../model/time.js';
import { countDropped } from '../../model/decode-result.js';
import { checkPerSpan, checkSpanCount, DEFAULT_LIMITS, type DecodeLimits } from '../../model/limits.js';
import { protoType } from '../proto.js';

type LongLike = { low: number; high: number };
interface OcTimestamp {
  seconds?: LongLike;
  nanos?: number;
}
interface OcTruncatable {
  value?: string;
}
interface OcAttributeValue {
  stringValue?: OcTruncatable;
  intValue?: LongLike;
  boolValue?: boolean;
  doubleValue?: number;
}
interface OcAttributes {
  attributeMap?: Record<string, OcAttributeValue>;
  droppedAttributesCount?: number;
}
export interface OcNode {
  identifier?: { hostName?: string; pid?: number; startTimestamp?: OcTimestamp };
  libraryInfo?: { language?: number; exporterVersion?: string; coreLibraryVersion?: string };
  serviceInfo?: { name?: string };
  attributes?: Record<string, string>;
}
export interface OcResource {
  type?: string;
  labels?: Record<string, string>;
}
interface OcSpan {
  traceId?: Uint8Array;
  spanId?: Uint8Array;
  tracestate?: { entries?: { key?: string; value?: string }[] };
  parentSpanId?: Uint8Array;
  name?: OcTruncatable;
  kind?: number;
  startTime?: OcTimestamp;
  endTime?: OcTimestamp;
  attributes?: OcAttributes;
  timeEvents?: {
    timeEvent?: {
      time?: OcTimestamp;
      annotation?: { description?: OcTruncatable; attributes?: OcAttributes };
      messageEvent?: { type?: number; id?: LongLike; uncompressedSize?: LongLike; compressedSize?: LongLike };
    }[];
    droppedAnnotationsCount?: number;
    droppedMessageEventsCount?: number;
  };
  links?: { link?: { traceId?: Uint8Array; spanId?: Uint8Array; type?: number; attributes?: OcAttributes }[]; droppedLinksCount?: number };
  status?: { code?: number; message?: string };
  sameProcessAsParentSpan?: { value?: boolean };
  childSpanCount?: { value?: number };
}
export interface OcExportRequest {
  node?: OcNode;
  spans?: OcSpan[];
  resource?: OcResource;
}

const LANGUAGES = ['', 'cpp', 'dotnet', 'erlang', 'go', 'java', 'nodejs', 'php', 'python', 'ruby', 'webjs'];
const KINDS: SpanKind[] = ['unspecified', 'server', 'client'];
const MESSAGE_TYPES = ['TYPE_UNSPECIFIED', 'SENT', 'RECEIVED'];
const LINK_TYPES = ['TYPE_UNSPECIFIED', 'CHILD_LINKED_SPAN', 'PARENT_LINKED_SPAN'];

export function decodeOcRequest(bytes: Uint8Array): OcExportRequest {
  try {
    return protoType('opencensus', 'opencensus.proto.agent.trace.v1.ExportTraceServiceRequest').decode(bytes) as unknown as OcExportRequest;
  } catch (err) {
    throw new DecodeError('malformed_protobuf', 'body', bytesToHex(bytes.subarray(0, 16)), `not an opencensus ExportTraceServiceRequest: ${(err as Error).message}`);
  }
}

/** Node and resource as resource attributes, with the names the OpenTelemetry Collector uses. */
export function ocResourceAttributes(node: OcNode | undefined, resource: OcResource | undefined): Attributes {
  const out: Attributes = {};
  if (node?.serviceInfo?.name) out['service.name'] = node.serviceInfo.name;
  const id = node?.identifier;
  if (id?.hostName) out['host.name'] = id.hostName;
  if (id?.pid) out['process.pid'] = id.pid;
  const start = timestampToNanos(id?.startTimestamp);
  // A process start time no calendar holds is left out, not thrown: it is not a span's time.
  const startText = start ? isoTime(start) : undefined;
  if (startText) out['opencensus.starttime'] = startText;
  const lib = node?.libraryInfo;
  if (lib?.language) out['telemetry.sdk.language'] = LANGUAGES[lib.language] ?? String(lib.language);
  if (lib?.exporterVersion) out['opencensus.exporterversion'] = lib.exporterVersion;
  if (lib?.coreLibraryVersion) out['telemetry.sdk.version'] = lib.coreLibraryVersion;
  if (node?.attributes) Object.assign(out, node.attributes);
  if (resource?.type) out['opencensus.resourcetype'] = resource.type;
  if (resource?.labels) Object.assign(out, resource.labels);
  return out;
}

function attributeValue(v: OcAttributeValue): AttributeValue {
  if (v.stringValue) return v.stringValue.value ?? '';
  if (Object.hasOwn(v, 'intValue')) {
    const big = longToBigIntSigned(v.intValue);
    return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
  }
  if (Object.hasOwn(v, 'boolValue')) return v.boolValue!;
  if (Object.hasOwn(v, 'doubleValue')) return Number(v.doubleValue);
  return '';
}

function attributes(a: OcAttributes | undefined): Attributes {
  const out: Attributes = {};
  if (a?.attributeMap) for (const [k, v] of Object.entries(a.attributeMap)) out[k] = attributeValue(v);
  return out;
}

function time(ts: OcTimestamp | undefined, field: string, max: bigint): bigint {
  const nanos = timestampToNanos(ts);
  if (nanos === undefined) throw new DecodeError('invalid_timestamp', field, ts, 'missing');
  return checkPlausible(nanos, field, max);
}

type OcTimeEvent = NonNullable<NonNullable<OcSpan['timeEvents']>['timeEvent']>[number];

function ocEvent(te: OcTimeEvent, at: bigint): SpanEvent {
  if (te.messageEvent) {
    const m = te.messageEvent;
    return {
      timeUnixNano: at,
      name: 'message',
      attributes: {
        'message.type': MESSAGE_TYPES[m.type ?? 0] ?? String(m.type),
        'message.id': Number(longToBigInt(m.id)),
        'message.uncompressed_size': Number(longToBigInt(m.uncompressedSize)),
        'message.compressed_size': Number(longToBigInt(m.compressedSize)),
      },
    };
  }
  return { timeUnixNano: at, name: te.annotation?.description?.value ?? '', attributes: attributes(te.annotation?.attributes) };
}

function ocSpanToModel(s: OcSpan, resource: Attributes, field: string, max: bigint, limits: DecodeLimits, result: DecodeResult): Span {
  checkPerSpan(field, s.attributes?.attributeMap ? Object.keys(s.attributes.attributeMap).length : 0, s.timeEvents?.timeEvent?.length ?? 0, s.links?.link?.length ?? 0, limits);
  const start = time(s.startTime, `${field}.start_time`, max);
  // The OpenCensus spec: an unset end time means "same as start".
  const end = s.endTime ? time(s.endTime, `${field}.end_time`, max) : start;
  if (end < start) throw new DecodeError('invalid_timestamp', `${field}.end_time`, end, 'span ends before it starts');
  const events: SpanEvent[] = [];
  for (const te of s.timeEvents?.timeEvent ?? []) {
    const at = timestampToNanos(te.time) ?? start;
    // An event with an absurd time must not cost the span: dropped and counted.
    if (!isPlausible(at, max)) {
      countDropped(result, 'event_timestamp');
      continue;
    }
    events.push(ocEvent(te, at));
  }
  const links: SpanLink[] = (s.links?.link ?? []).map((l, i) => {
    const attrs = attributes(l.attributes);
    if (l.type) attrs['opencensus.link.type'] = LINK_TYPES[l.type] ?? String(l.type);
    return { traceId: traceIdFromBytes(l.traceId, `${field}.links[${i}].trace_id`), spanId: spanIdFromBytes(l.spanId, `${field}.links[${i}].span_id`), attributes: attrs };
  });
  const traceId = traceIdFromBytes(s.traceId, `${field}.trace_id`);
  if (traceId.length !== 32) throw new DecodeError('invalid_trace_id', `${field}.trace_id`, traceId, 'expected 16 bytes');
  const span: Span = {
    traceId,
    spanId: spanIdFromBytes(s.spanId, `${field}.span_id`),
    name: s.name?.value ?? '',
    kind: KINDS[s.kind ?? 0] ?? 'unspecified',
    startTimeUnixNano: start,
    endTimeUnixNano: end,
    attributes: attributes(s.attributes),
    events,
    links,
    // OpenCensus status codes are gRPC codes: 0 is OK, anything else an error.
    status: s.status ? (s.status.code ? { code: 'error', ...(s.status.message ? { message: s.status.message } : {}) } : { code: 'unset' }) : { code: 'unset' },
    resource: { attributes: resource },
    source: 'opencensus',
  };
  if (s.status?.code) span.attributes['opencensus.status_code'] = s.status.code;
  const parent = parentIdFromBytes(s.parentSpanId, `${field}.parent_span_id`);
  if (parent) span.parentSpanId = parent;
  const entries = s.tracestate?.entries ?? [];
  if (entries.length > 0) span.traceState = entries.map((e) => `${e.key}=${e.value}`).join(',');
  if (s.sameProcessAsParentSpan) span.attributes['opencensus.same_process_as_parent_span'] = Boolean(s.sameProcessAsParentSpan.value);
  if (s.attributes?.droppedAttributesCount) span.droppedAttributesCount = s.attributes.droppedAttributesCount;
  const droppedEvents = (s.timeEvents?.droppedAnnotationsCount ?? 0) + (s.timeEvents?.droppedMessageEventsCount ?? 0);
  if (droppedEvents) span.droppedEventsCount = droppedEvents;
  if (s.links?.droppedLinksCount) span.droppedLinksCount = s.links.droppedLinksCount;
  return span;
}

export function ocRequestToModel(spans: OcSpan[] | undefined, resource: Attributes, limits: DecodeLimits = DEFAULT_LIMITS): DecodeResult {
  checkSpanCount(spans?.length ?? 0, limits);
  const result = emptyResult();
  const max = maxPlausibleNanos();
  (spans ?? []).forEach((s, i) => {
    try {
      result.spans.push(ocSpanToModel(s, resource, `spans[${i}]`, max, limits, result));
    } catch (err) {
      if (err instanceof DecodeError) result.rejected.push(err);
      else throw err;
    }
  });
  return result;
}
