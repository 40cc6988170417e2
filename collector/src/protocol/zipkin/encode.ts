/** Model → Zipkin v2 JSON (what zipkin-js and the OpenTelemetry Zipkin exporter POST). */
import type { AttributeValue, Span } from '../../model/span.js';

const KIND: Partial<Record<Span['kind'], string>> = { client: 'CLIENT', server: 'SERVER', producer: 'PRODUCER', consumer: 'CONSUMER' };
const str = (v: AttributeValue): string => (typeof v === 'string' ? v : JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x)));
const MOVED = new Set(['net.host.ip', 'net.host.port', 'peer.service', 'net.peer.ip', 'net.peer.port']);

export function modelToZipkinV2(spans: Span[]): object[] {
  return spans.map((s) => {
    const a = s.attributes;
    const tags: Record<string, string> = {};
    for (const k in a) if (!MOVED.has(k)) tags[k] = str(a[k]!);
    if (s.status.code === 'error') {
      tags['otel.status_code'] = 'ERROR';
      tags.error = s.status.message ?? '';
    } else if (s.status.code === 'ok') tags['otel.status_code'] = 'OK';
    const service = s.resource.attributes['service.name'];
    const local: Record<string, unknown> = {};
    if (typeof service === 'string') local.serviceName = service;
    if (typeof a['net.host.ip'] === 'string') local[(a['net.host.ip'] as string).includes(':') ? 'ipv6' : 'ipv4'] = a['net.host.ip'];
    if (typeof a['net.host.port'] === 'number') local.port = a['net.host.port'];
    const remote: Record<string, unknown> = {};
    if (typeof a['peer.service'] === 'string') remote.serviceName = a['peer.service'];
    if (typeof a['net.peer.ip'] === 'string') remote[(a['net.peer.ip'] as string).includes(':') ? 'ipv6' : 'ipv4'] = a['net.peer.ip'];
    if (typeof a['net.peer.port'] === 'number') remote.port = a['net.peer.port'];
    return {
      traceId: s.traceId,
      id: s.spanId,
      ...(s.parentSpanId ? { parentId: s.parentSpanId } : {}),
      ...(KIND[s.kind] ? { kind: KIND[s.kind] } : {}),
      name: s.name,
      timestamp: Number(s.startTimeUnixNano / 1000n),
      duration: Number((s.endTimeUnixNano - s.startTimeUnixNano) / 1000n),
      ...(Object.keys(local).length ? { localEndpoint: local } : {}),
      ...(Object.keys(remote).length ? { remoteEndpoint: remote } : {}),
      ...(s.events.length ? { annotations: s.events.map((e) => ({ timestamp: Number(e.timeUnixNano / 1000n), value: e.name })) } : {}),
      tags,
      ...(s.shared ? { shared: true } : {}),
      ...(s.flags === 1 ? { debug: true } : {}),
    };
  });
}
