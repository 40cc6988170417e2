/**
 * An attribute a sender named `__proto__` is an attribute like any other: every path that copies
 * attributes keeps it as an own key, and none turns it into the object's prototype (which would
 * drop it from the span and hand its value's fields to every lookup on that object).
 */
import { describe, expect, it } from 'vitest';
import { setAttribute, type Attributes } from '../src/model/span.js';
import { shifted, withAttributes } from '../src/model/lazy-span.js';
import { decodeOtlpProto } from '../src/protocol/otlp/decode.js';
import { encodeOtlpProto } from '../src/protocol/otlp/encode.js';
import { ocResourceAttributes } from '../src/protocol/opencensus/decode.js';
import { decodeZipkinV2Json } from '../src/protocol/zipkin/decode.js';
import { applyActions } from '../src/processors/resource/index.js';
import { span } from './join/spans.js';

function withProtoKey(value: Attributes[string], rest: Attributes = {}): Attributes {
  const a: Attributes = { ...rest };
  setAttribute(a, '__proto__', value);
  return a;
}

function expectOwnProtoKey(a: Attributes, value: unknown): void {
  expect(Object.getPrototypeOf(a)).toBe(Object.prototype);
  expect(Object.hasOwn(a, '__proto__')).toBe(true);
  expect(Object.getOwnPropertyDescriptor(a, '__proto__')?.value).toEqual(value);
}

describe('an attribute named __proto__', () => {
  // A kvlist value: as a prototype it would lend `polluted` to the object.
  const value = { polluted: 'yes' } as unknown as Attributes[string];

  it('survives a lazy OTLP span that a stage added attributes to, read or written', () => {
    const body = encodeOtlpProto({ spans: [span('a1', undefined, 'web', 0, 5, { attributes: withProtoKey('x', { k: 'v' }) })] });
    for (const stage of [(s: Parameters<typeof withAttributes>[0]) => withAttributes(s, { added: 7 }), (s: Parameters<typeof shifted>[0]) => shifted(s, 1000n, { added: 7 })]) {
      // Unread when the stage adds (the encoder writes the bytes, then the addition)...
      const [lazy] = decodeOtlpProto(body, undefined, { lazy: true }).spans;
      const out = stage(lazy!);
      expectOwnProtoKey(out.attributes, 'x');
      expect(out.attributes['added']).toBe(7);
      const [again] = decodeOtlpProto(encodeOtlpProto({ spans: [out] })).spans;
      expectOwnProtoKey(again!.attributes, 'x');
      expect(again!.attributes['k']).toBe('v');
      // ...and read before it adds.
      const [read] = decodeOtlpProto(body, undefined, { lazy: true }).spans;
      void read!.attributes;
      expectOwnProtoKey(stage(read!).attributes, 'x');
    }
  });

  it('survives the resource processor and OpenCensus node and resource labels', () => {
    const out = applyActions([{ key: 'env', value: 'prod', action: 'upsert' }], withProtoKey(value, { a: 1 }));
    expectOwnProtoKey(out, value);
    expect(out['env']).toBe('prod');
    expect((out as Record<string, unknown>)['polluted']).toBeUndefined();
    const oc = ocResourceAttributes({ attributes: withProtoKey('from-node') as Record<string, string> }, { labels: withProtoKey('from-labels') as Record<string, string> });
    expectOwnProtoKey(oc, 'from-labels');
  });
  it('survives a Zipkin tag of that name', () => {
    const body = '[{"traceId":"4ed11df465275600","id":"00000000000000a1","name":"get","timestamp":1700000000000000,"duration":5,"localEndpoint":{"serviceName":"web"},"tags":{"__proto__":"x","k":"v"}}]';
    const [s] = decodeZipkinV2Json(body).spans;
    expectOwnProtoKey(s!.attributes, 'x');
    expect(s!.attributes['k']).toBe('v');
  });
});
