/**
 * The hand-written OpenCensus agent decoder, on a request protobufjs writes from the schema with
 * every field the model reads, and on messages that are not well-formed.
 */
import { describe, expect, it } from 'vitest';
import { decodeOcRequest, ocRequestToModel, ocResourceAttributes } from '../src/protocol/opencensus/decode.js';
import { protoType } from '../src/protocol/proto.js';
import { DecodeError } from '../src/model/errors.js';

const Request = protoType('opencensus', 'opencensus.proto.agent.trace.v1.ExportTraceServiceRequest');
const S = 1_700_000_000;
const ts = (sec: number, nanos = 0) => ({ seconds: sec, nanos });
const str = (value: string) => ({ value });

function encode(o: Record<string, unknown>): Buffer {
  return Buffer.from(Request.encode(Request.fromObject(o)).finish());
}

const full = {
  node: {
    identifier: { hostName: 'web-6d5b7b8c9-abcde', pid: 7, startTimestamp: ts(S - 60) },
    libraryInfo: { language: 4, exporterVersion: '0.1.0', coreLibraryVersion: '0.22.0' },
    serviceInfo: { name: 'web' },
    attributes: { 'k8s.pod.ip': '10.42.0.17' },
  },
  resource: { type: 'k8s', labels: { 'k8s.namespace.name': 'emojivoto' } },
  spans: [
    {
      traceId: Buffer.from('0af7651916cd43dd8448eb211c80319c', 'hex'),
      spanId: Buffer.from('b7ad6b7169203331', 'hex'),
      parentSpanId: Buffer.from('00f067aa0ba902b7', 'hex'),
      tracestate: { entries: [{ key: 'a', value: '1' }, { key: 'b', value: '2' }] },
      name: str('/emojivoto.v1.VotingService/VoteDoughnut'),
      kind: 2,
      startTime: ts(S, 500),
      endTime: ts(S, 1_000_500),
      attributes: { attributeMap: { 'http.status_code': { intValue: -5 }, big: { intValue: '9223372036854775807' }, ok: { boolValue: true }, ratio: { doubleValue: 0.5 }, path: { stringValue: str('/api/vote') } }, droppedAttributesCount: 2 },
      timeEvents: {
        timeEvent: [
          { time: ts(S, 600), annotation: { description: str('cache miss'), attributes: { attributeMap: { k: { stringValue: str('v') } } } } },
          { time: ts(S, 700), messageEvent: { type: 1, id: 3, uncompressedSize: 120, compressedSize: 80 } },
          { annotation: { description: str('no time: the span start') } },
          { time: ts(5), annotation: { description: str('absurd') } },
        ],
        droppedAnnotationsCount: 1,
        droppedMessageEventsCount: 2,
      },
      links: { link: [{ traceId: Buffer.from('1af7651916cd43dd8448eb211c80319c', 'hex'), spanId: Buffer.from('c7ad6b7169203331', 'hex'), type: 2, attributes: { attributeMap: { x: { boolValue: false } } } }], droppedLinksCount: 3 },
      status: { code: 14, message: 'upstream reset' },
      sameProcessAsParentSpan: { value: false },
      childSpanCount: { value: 2 },
    },
    { traceId: Buffer.from([1, 2, 3]), spanId: Buffer.from('b7ad6b7169203332', 'hex'), startTime: ts(S) },
    { traceId: Buffer.from('0af7651916cd43dd8448eb211c80319c', 'hex'), spanId: Buffer.from('b7ad6b7169203333', 'hex'), startTime: ts(S) },
  ],
};

describe('hand-written OpenCensus decoder', () => {
  it('reads every field the model takes, as the OpenTelemetry Collector names them', () => {
    const req = decodeOcRequest(encode(full));
    const resource = ocResourceAttributes(req.node, req.resource);
    expect(resource).toMatchObject({ 'service.name': 'web', 'host.name': 'web-6d5b7b8c9-abcde', 'process.pid': 7, 'telemetry.sdk.language': 'go', 'telemetry.sdk.version': '0.22.0', 'opencensus.exporterversion': '0.1.0', 'k8s.pod.ip': '10.42.0.17', 'opencensus.resourcetype': 'k8s', 'k8s.namespace.name': 'emojivoto' });
    // The process start time (identifier.start_timestamp, S - 60 s) in RFC 3339, as the Collector writes it.
    expect(resource['opencensus.starttime']).toBe('2023-11-14T22:12:20Z');
    const result = ocRequestToModel(req.spans, resource);
    expect(result.rejected.map((e) => e.message)).toEqual([expect.stringMatching(/spans\[1\]\.trace_id/)]);
    expect(result.droppedFields.get('event_timestamp')).toBe(1);
    const [s, bare] = result.spans;
    expect(s).toMatchObject({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      parentSpanId: '00f067aa0ba902b7',
      traceState: 'a=1,b=2',
      name: '/emojivoto.v1.VotingService/VoteDoughnut',
      kind: 'client',
      startTimeUnixNano: BigInt(S) * 1_000_000_000n + 500n,
      endTimeUnixNano: BigInt(S) * 1_000_000_000n + 1_000_500n,
      status: { code: 'error', message: 'upstream reset' },
      droppedAttributesCount: 2,
      droppedEventsCount: 3,
      droppedLinksCount: 3,
      source: 'opencensus',
    });
    expect(s!.attributes).toEqual({ 'http.status_code': -5, big: 9223372036854775807n, ok: true, ratio: 0.5, path: '/api/vote', 'opencensus.status_code': 14, 'opencensus.same_process_as_parent_span': false });
    expect(s!.events).toEqual([
      { timeUnixNano: BigInt(S) * 1_000_000_000n + 600n, name: 'cache miss', attributes: { k: 'v' } },
      { timeUnixNano: BigInt(S) * 1_000_000_000n + 700n, name: 'message', attributes: { 'message.type': 'SENT', 'message.id': 3, 'message.uncompressed_size': 120, 'message.compressed_size': 80 } },
      { timeUnixNano: BigInt(S) * 1_000_000_000n + 500n, name: 'no time: the span start', attributes: {} },
    ]);
    expect(s!.links).toEqual([{ traceId: '1af7651916cd43dd8448eb211c80319c', spanId: 'c7ad6b7169203331', attributes: { x: false, 'opencensus.link.type': 'PARENT_LINKED_SPAN' } }]);
    // No end time: the same as the start (the OpenCensus spec).
    expect(bare!.endTimeUnixNano).toBe(bare!.startTimeUnixNano);
    expect(bare!.status).toEqual({ code: 'unset' });
  });

  it('refuses absent, short and all-zero span IDs with the field named; an all-zero or empty parent is no parent', () => {
    const span = (ids: Record<string, Buffer | undefined>) => ({ traceId: Buffer.alloc(16, 1), spanId: Buffer.alloc(8, 2), name: str('s'), startTime: ts(S), endTime: ts(S + 1), ...ids });
    const req = decodeOcRequest(
      encode({
        spans: [
          span({ spanId: undefined }),
          span({ spanId: Buffer.alloc(7, 2) }),
          span({ spanId: Buffer.alloc(8) }),
          span({ parentSpanId: Buffer.alloc(7, 3) }),
          span({ parentSpanId: Buffer.alloc(8) }),
          span({ parentSpanId: Buffer.alloc(0) }),
          span({ parentSpanId: Buffer.alloc(8, 3) }),
        ],
      }),
    );
    const result = ocRequestToModel(req.spans, {});
    expect(result.rejected.map((e) => [e.field, e.code])).toEqual([
      ['spans[0].span_id', 'invalid_span_id'],
      ['spans[1].span_id', 'invalid_span_id'],
      ['spans[2].span_id', 'invalid_span_id'],
      ['spans[3].parent_span_id', 'invalid_span_id'],
    ]);
    expect(result.spans.map((s) => [s.spanId, s.parentSpanId])).toEqual([
      ['0202020202020202', undefined],
      ['0202020202020202', undefined],
      ['0202020202020202', '0303030303030303'],
    ]);
  });

  it('a start time keeps its nanoseconds (RFC 3339 as Go writes it), and a message size of 2^64-1 is the int64 -1, as the Collector reads both', () => {
    const span = { traceId: Buffer.alloc(16, 1), spanId: Buffer.alloc(8, 2), name: str('s'), startTime: ts(S), endTime: ts(S + 1) };
    const events = { timeEvent: [{ time: ts(S), messageEvent: { type: 2, id: '9007199254740993', uncompressedSize: '18446744073709551615', compressedSize: 0 } }] };
    for (const [nanos, text] of [
      [497_411_420, '2023-11-14T22:13:20.49741142Z'],
      [5, '2023-11-14T22:13:20.000000005Z'],
      [0, '2023-11-14T22:13:20Z'],
    ] as const) {
      const req = decodeOcRequest(encode({ node: { identifier: { startTimestamp: ts(S, nanos) } }, spans: [{ ...span, timeEvents: events }] }));
      expect(ocResourceAttributes(req.node, req.resource)['opencensus.starttime']).toBe(text);
      const [decoded] = ocRequestToModel(req.spans, {}).spans;
      expect(decoded!.events[0]!.attributes).toEqual({ 'message.type': 'RECEIVED', 'message.id': 9007199254740993n, 'message.uncompressed_size': -1, 'message.compressed_size': 0 });
    }
  });

  it('refuses a message that is not well-formed protobuf, whole, with a reason', () => {
    const good = encode(full);
    expect(() => decodeOcRequest(good.subarray(0, good.length - 5))).toThrow(DecodeError);
    // A span whose name claims more bytes than the span has: caught inside the span, not read from the next.
    const bad = Buffer.from([0x12, 0x04, 0x22, 0x03, 0x0a, 0x01, 0x12, 0x05, 0x0a, 0x03, 0x41, 0x42, 0x43]);
    const req = decodeOcRequest(bad);
    expect(() => ocRequestToModel(req.spans, {})).toThrow(/not an opencensus Span/);
  });
});
