/** The service map's guess at who dropped an orphan's parent, for each kind of hop the mesh has. */
import { describe, expect, it } from 'vitest';
import { likelyCaller } from '../src/exporters/embedded/service-map.js';
import { NO_ATTRIBUTES, type Span } from '../src/model/span.js';

const span = (over: Partial<Span>): Span =>
  ({
    traceId: '0'.repeat(16) + '1'.repeat(16),
    spanId: 'a1a1a1a1a1a1a1a1',
    parentSpanId: 'b2b2b2b2b2b2b2b2',
    name: 'GET /api/vote',
    kind: 'server',
    startTimeUnixNano: 1n,
    endTimeUnixNano: 2n,
    attributes: NO_ATTRIBUTES,
    events: [],
    links: [],
    status: { code: 'unset' },
    resource: { attributes: { 'service.name': 'web' } },
    source: 'zipkin',
    ...over,
  }) as Span;

describe('likelyCaller', () => {
  it("a Zipkin server span sharing its client's ID: the client half, which the caller's tracer did not report", () => {
    expect(likelyCaller(span({ shared: true }), 'web')).toBe("the client half of Zipkin shared span a1a1a1a1a1a1a1a1, which the caller's tracer did not report");
    expect(likelyCaller(span({ shared: true, attributes: { 'peer.service': 'nginx' } }), 'web')).toBe("the client half of Zipkin shared span a1a1a1a1a1a1a1a1 (nginx), which the caller's tracer did not report");
  });

  it('a server span names its caller when it can, a proxy inbound hop points at the outbound proxy, a client span at its own process', () => {
    expect(likelyCaller(span({ attributes: { 'peer.service': 'nginx' } }), 'web')).toBe('nginx');
    expect(likelyCaller(span({}), 'web')).toBe('the caller of web (its outbound linkerd-proxy or the calling app)');
    expect(likelyCaller(span({ resource: { attributes: { 'service.name': 'linkerd-proxy' } } }), 'web')).toBe('the outbound linkerd-proxy of the workload calling web');
    expect(likelyCaller(span({ kind: 'client' }), 'web')).toBe('web itself (a local parent span that was not exported)');
  });
});
