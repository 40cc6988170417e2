import type { Span } from '../../src/model/span.js';

export const MS = 1_000_000n;
export const T0 = 1_700_000_000_000n * MS;

/** A model span of trace 4ed11df465275600, short IDs padded, times in ms after T0. */
export function span(id: string, parent: string | undefined, service: string, startMs: number, endMs: number, extra: Partial<Span> = {}, host?: string): Span {
  return {
    traceId: '4ed11df465275600',
    spanId: id.padStart(16, '0'),
    ...(parent ? { parentSpanId: parent.padStart(16, '0') } : {}),
    name: `op-${id}`,
    kind: 'server',
    startTimeUnixNano: T0 + BigInt(startMs) * MS,
    endTimeUnixNano: T0 + BigInt(endMs) * MS,
    attributes: {},
    events: [],
    links: [],
    status: { code: 'unset' },
    resource: { attributes: { 'service.name': service, ...(host ? { 'host.name': host } : {}) } },
    source: 'zipkin',
    ...extra,
  };
}
