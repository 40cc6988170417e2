/**
 * What a Zipkin span means, the same whatever encoding carried it: OpenCensus and OpenTelemetry
 * status tags, scope tags, IPv6 text, and v1 Thrift (encoded here by thriftrw with jaeger-client's
 * copy of zipkincore.thrift, an encoder independent of span-relay's reader).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeZipkinProto, decodeZipkinV1Json, decodeZipkinV1Thrift, decodeZipkinV2Json } from '../src/protocol/zipkin/decode.js';
import { canonicalIPv6 } from '../src/model/ip.js';
import { protoType } from '../src/protocol/proto.js';
import { DecodeError } from '../src/model/errors.js';

const require = createRequire(import.meta.url);
const T0 = 1_700_000_000_000_000; // µs

const v2 = (tags: Record<string, string>, extra: Record<string, unknown> = {}) =>
  decodeZipkinV2Json(JSON.stringify([{ traceId: '4ed11df465275600', id: '0000000000000001', name: 'op', kind: 'SERVER', timestamp: T0, duration: 10, localEndpoint: { serviceName: 'svc' }, tags, ...extra }]));

describe('status and scope from tags, as the OpenTelemetry Collector maps them', () => {
  it.each([
    [{ 'census.status_code': '14', 'census.status_description': 'unavailable' }, { code: 'error', message: 'unavailable' }],
    [{ 'census.status_code': '0' }, { code: 'ok' }],
    // opencensus-go's Zipkin exporter: the canonical code name in `error`, the text beside it.
    [{ error: 'UNKNOWN', 'opencensus.status_description': 'db down' }, { code: 'error', message: 'db down' }],
    [{ 'census.status_code': '2', 'otel.status_code': 'OK' }, { code: 'error' }],
    [{ 'otel.status_code': 'ERROR', 'otel.status_description': 'boom' }, { code: 'error', message: 'boom' }],
    [{ 'otel.status_code': 'ERROR', error: 'doughnut' }, { code: 'error', message: 'doughnut' }],
    [{ error: 'true' }, { code: 'error' }],
    [{}, { code: 'unset' }],
  ])('%j → %j, and the status tags are gone from the attributes', (tags, status) => {
    const [span] = v2(tags).spans;
    expect(span!.status).toEqual(status);
    for (const k of ['census.status_code', 'census.status_description', 'opencensus.status_description', 'otel.status_code', 'otel.status_description', 'error']) {
      expect(span!.attributes[k]).toBeUndefined();
    }
  });

  it('otel.library.* and otel.scope.* become the instrumentation scope', () => {
    expect(v2({ 'otel.library.name': 'io.opentelemetry.jdbc', 'otel.library.version': '1.2.0', keep: 'me' }).spans[0]).toMatchObject({ scope: { name: 'io.opentelemetry.jdbc', version: '1.2.0' }, attributes: { keep: 'me' } });
    const s = v2({ 'otel.scope.name': 'express', 'otel.scope.version': '0.40.0' }).spans[0]!;
    expect(s.scope).toEqual({ name: 'express', version: '0.40.0' });
    expect(Object.keys(s.attributes).filter((k) => k.startsWith('otel.'))).toEqual([]);
    expect(v2({}).spans[0]!.scope).toBeUndefined();
  });
});

describe('IPv6 in RFC 5952 form everywhere', () => {
  it.each([
    ['2001:0db8:0000:0000:0000:0000:0000:0005', '2001:db8::5'],
    ['2001:db8:0:0:0:0:0:5', '2001:db8::5'],
    ['2001:DB8::5', '2001:db8::5'],
    ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['::ffff:192.0.2.1', '::ffff:192.0.2.1'],
    ['0:0:0:0:0:ffff:c000:0201', '::ffff:192.0.2.1'],
    ['fe80::1%eth0', 'fe80::1'],
    ['not an address', 'not an address'],
  ])('%s → %s', (input, out) => expect(canonicalIPv6(input)).toBe(out));

  it('proto3 bytes, v2 JSON text and v1 JSON text of one address read the same', () => {
    const bytes = Buffer.from('20010db8000000000000000000000005', 'hex');
    const proto = protoType('zipkin', 'zipkin.proto3.ListOfSpans')
      .encode({ spans: [{ traceId: Buffer.from('4ed11df465275600', 'hex'), id: Buffer.from('0000000000000001', 'hex'), kind: 2, name: 'op', timestamp: T0, duration: 5, localEndpoint: { serviceName: 's', ipv6: bytes }, remoteEndpoint: { ipv6: bytes } }] })
      .finish();
    const fromProto = decodeZipkinProto(proto).spans[0]!;
    const fromJson = v2({}, { localEndpoint: { serviceName: 's', ipv6: '2001:db8:0:0:0:0:0:5' }, remoteEndpoint: { ipv6: '2001:0db8::0005' } }).spans[0]!;
    const fromV1 = decodeZipkinV1Json(
      JSON.stringify([{ traceId: '4ed11df465275600', id: '0000000000000001', name: 'op', annotations: [{ timestamp: T0, value: 'sr', endpoint: { serviceName: 's', ipv6: '2001:DB8::0:5' } }, { timestamp: T0 + 5, value: 'ss', endpoint: { serviceName: 's', ipv6: '2001:DB8::0:5' } }] }]),
    ).spans[0]!;
    for (const s of [fromProto, fromJson]) expect(s.attributes).toMatchObject({ 'net.host.ip': '2001:db8::5', 'net.peer.ip': '2001:db8::5' });
    expect(fromV1.attributes['net.host.ip']).toBe('2001:db8::5');
  });
});

describe('Zipkin v1 Thrift', () => {
  interface ThriftType {
    toBufferResult(v: unknown): { err: Error | null; value: Buffer };
  }
  const thrift = (() => {
    const { Thrift } = require('thriftrw') as { Thrift: new (o: { source: string; allowOptionalArguments: boolean; strict: boolean }) => { getType(n: string): ThriftType } };
    const idl = join(dirname(require.resolve('jaeger-client/package.json')), 'dist/src/jaeger-idl/thrift/zipkincore.thrift');
    return new Thrift({ source: readFileSync(idl, 'utf8'), allowOptionalArguments: true, strict: false });
  })();
  const i64 = (hex: string) => Buffer.from(hex, 'hex');
  const encodeList = (spans: unknown[]): Buffer => {
    const header = Buffer.alloc(5);
    header.writeInt8(12, 0);
    header.writeInt32BE(spans.length, 1);
    return Buffer.concat([header, ...spans.map((s) => thrift.getType('Span').toBufferResult(s).value)]);
  };
  const endpoint = { ipv4: (10 << 24) | (1 << 16) | (2 << 8) | 3, port: -7536 /* 58000 as i16 */, service_name: 'frontend' };
  const str = (v: string) => Buffer.from(v);

  it('a list of spans: core annotations give kind and times, binary annotations tags and endpoints, each type as text', () => {
    const body = encodeList([
      {
        trace_id: i64('4ed11df465275600'),
        name: 'get /api',
        id: i64('c943743e25dc2cdf'),
        parent_id: i64('4ed11df465275600'),
        annotations: [
          { timestamp: i64((T0 + 10).toString(16).padStart(16, '0')), value: 'cs', host: endpoint },
          { timestamp: i64((T0 + 90).toString(16).padStart(16, '0')), value: 'cr', host: endpoint },
          { timestamp: i64((T0 + 50).toString(16).padStart(16, '0')), value: 'retry', host: endpoint },
        ],
        binary_annotations: [
          { key: 'http.path', value: str('/api'), annotation_type: 'STRING', host: endpoint },
          { key: 'sa', value: Buffer.from([1]), annotation_type: 'BOOL', host: { ipv4: (10 << 24) | 9, port: 9000, service_name: 'backend' } },
          { key: 'bytes', value: Buffer.from([0, 0, 0, 0, 0, 0, 1, 0]), annotation_type: 'I64', host: endpoint },
          { key: 'ok', value: Buffer.from([0]), annotation_type: 'BOOL', host: endpoint },
        ],
        debug: true,
      },
    ]);
    const { spans, rejected } = decodeZipkinV1Thrift(body);
    expect(rejected).toEqual([]);
    expect(spans).toHaveLength(1);
    expect(spans[0]).toMatchObject({
      traceId: '4ed11df465275600',
      spanId: 'c943743e25dc2cdf',
      parentSpanId: '4ed11df465275600',
      kind: 'client',
      name: 'get /api',
      startTimeUnixNano: BigInt(T0 + 10) * 1000n,
      endTimeUnixNano: BigInt(T0 + 90) * 1000n,
      resource: { attributes: { 'service.name': 'frontend' } },
      flags: 1,
    });
    expect(spans[0]!.attributes).toEqual({ 'http.path': '/api', bytes: '256', ok: 'false', 'net.host.ip': '10.1.2.3', 'net.host.port': 58000, 'peer.service': 'backend', 'net.peer.ip': '10.0.0.9', 'net.peer.port': 9000 });
    expect(spans[0]!.events.map((e) => e.name)).toEqual(['retry']);
  });

  it('a bad span ID costs that span only; truncated or absurdly nested Thrift is a DecodeError, never a crash', () => {
    const good = { trace_id: i64('4ed11df465275600'), name: 'a', id: i64('0000000000000001'), annotations: [{ timestamp: i64((T0).toString(16).padStart(16, '0')), value: 'sr', host: endpoint }], binary_annotations: [] };
    const bad = { ...good, id: i64('0000000000000000') };
    const { spans, rejected } = decodeZipkinV1Thrift(encodeList([bad, good]));
    expect(spans).toHaveLength(1);
    expect(rejected.map((e) => e.field)).toEqual(['spans[0].id']);
    const whole = encodeList([good]);
    expect(() => decodeZipkinV1Thrift(whole.subarray(0, whole.length - 3))).toThrow(DecodeError);
    // 10,000 nested lists in an unknown field: refused by depth, not by a stack overflow.
    const nested = Buffer.concat([Buffer.from([12, 0, 0, 0, 1, 15, 0, 99]), ...Array.from({ length: 10_000 }, () => Buffer.from([15, 0, 0, 0, 1]))]);
    expect(() => decodeZipkinV1Thrift(nested)).toThrow(/nested deeper than 64/);
    expect(() => decodeZipkinV1Thrift(Buffer.alloc(0))).toThrow(DecodeError);
  });
});
