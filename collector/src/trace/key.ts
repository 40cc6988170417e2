/**
 * The trace-identity rules every stage shares, below processors and exporters: which spans belong
 * to one request whatever width its tracers gave the trace ID. The join, `check`, the
 * loadbalancing exporter, the embedded store and the kafka exporter's partitioner all key by
 * `traceKey`, so a 64-bit Zipkin span and the 128-bit spans of the same request meet everywhere.
 */

/** The low 64 bits: a 64-bit ID and a 128-bit ID that ends in it name the same trace. */
export function traceKey(traceId: string): string {
  return traceId.length === 16 ? traceId : traceId.slice(16);
}

/** A 128-bit ID with a non-zero high half (a left-padded 64-bit ID is still 64-bit). */
export function isFull128(traceId: string): boolean {
  return traceId.length === 32 && !traceId.startsWith('0000000000000000');
}

/** Spans grouped by the low-64 trace key, in the order first seen. */
export function groupByTrace<S extends { traceId: string }>(spans: readonly S[]): Map<string, S[]> {
  const groups = new Map<string, S[]>();
  for (const s of spans) {
    const k = traceKey(s.traceId);
    const g = groups.get(k);
    if (g) g.push(s);
    else groups.set(k, [s]);
  }
  return groups;
}
