import type { Span } from '../model/span.js';
import { splitSharedSpans, unifyTraceIds, type IdentityStats } from '../trace/identity.js';
import { groupByTrace } from '../trace/key.js';
import { readTraceFile } from '../formats/read.js';
import { analyzeTrace, describeOrphan, formatTree } from '../trace/continuity.js';

export interface CheckOutcome {
  lines: string[];
  traces: number;
  broken: number;
}

/**
 * `span-relay check`: the trees in the given files and a verdict for each trace. Spans are grouped
 * as the join would group them (64-bit and 128-bit IDs with the same low half are one trace; shared
 * Zipkin spans are split) so the verdict says what a user would see after span-relay.
 */
export async function checkFiles(paths: string[]): Promise<CheckOutcome> {
  const lines: string[] = [];
  const spans: Span[] = [];
  for (const path of paths) {
    const file = await readTraceFile(path);
    lines.push(`${path}: ${file.format}, ${file.spans.length} span(s)${file.rejected.length ? `, ${file.rejected.length} unreadable` : ''}`);
    for (const e of file.rejected.slice(0, 10)) lines.push(`  unreadable: ${e.message}`);
    for (const s of file.spans) spans.push(s);
  }
  const groups = groupByTrace(spans);
  let traces = 0;
  let broken = 0;
  for (const group of groups.values()) {
    const widths = new Set(group.map((s) => (s.traceId.length === 32 && !s.traceId.startsWith('0000000000000000') ? 128 : 64)));
    const stats: IdentityStats = { traceIdWidth: 0, sharedSplit: 0 };
    for (const unified of unifyTraceIds(group, undefined, stats)) {
      const { spans: joined } = splitSharedSpans(unified, undefined, stats);
      const report = analyzeTrace(joined);
      traces++;
      lines.push('', `trace ${report.traceId}: ${joined.length} span(s), services: ${report.services.join(' → ')}`);
      if (widths.size > 1) lines.push('  note: this trace arrived with both 64-bit and 128-bit trace IDs; backends show such pieces as separate traces unless they are joined');
      if (stats.sharedSplit > 0) lines.push(`  note: ${stats.sharedSplit} Zipkin shared span(s) (client and server under one ID)`);
      for (const l of formatTree(report)) lines.push(`  ${l}`);
      if (report.complete) {
        lines.push('  verdict: COMPLETE, one root, no orphans');
      } else {
        broken++;
        lines.push(`  verdict: BROKEN, ${report.roots.length} root(s), ${report.orphans.length} orphan(s)`);
        for (const o of report.orphans) lines.push(`  - ${describeOrphan(report.traceId, o)}`);
        if (report.orphans.length === 0 && report.roots.length > 1) {
          lines.push(`  - ${report.roots.length} roots: a service started a new trace instead of continuing the incoming one (is it extracting B3/tracecontext headers?)`);
        }
      }
    }
  }
  lines.push('', `${traces} trace(s), ${broken} broken`);
  return { lines, traces, broken };
}
