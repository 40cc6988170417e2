import { describe, expect, it } from 'vitest';
import { CLIENT, LONE_SERVER, SENT } from '../../src/processors/join/span-ids.js';
import { adjustClockSkew, emptyMemory, ATTR_CLOCK_SKEW, type NormalizeStats } from '../../src/processors/join/normalize.js';
import { lateClientHalfId, splitSharedSpans, unifyTraceIds, serverHalfId, ATTR_ORIGINAL_SPAN_ID, ATTR_ORIGINAL_TRACE_ID } from '../../src/trace/identity.js';
import { analyzeTrace, describeOrphan } from '../../src/trace/continuity.js';

import { MS, span, T0 } from './spans.js';
const stats = (): NormalizeStats => ({ traceIdWidth: 0, sharedSplit: 0, clockSkew: 0 });

describe('unifyTraceIds', () => {
  it('gives every span the 128-bit ID whose low half matches, and records the old one', () => {
    const s = stats();
    const [group] = unifyTraceIds([span('1', undefined, 'nginx', 0, 10), span('2', '1', 'web', 1, 9, { traceId: 'a1b2c3d4e5f607184ed11df465275600' }), span('3', '2', 'web', 2, 8, { traceId: '00000000000000004ed11df465275600' })], undefined, s);
    expect(group!.map((x) => x.traceId)).toEqual(Array(3).fill('a1b2c3d4e5f607184ed11df465275600'));
    expect(group![0]!.attributes[ATTR_ORIGINAL_TRACE_ID]).toBe('4ed11df465275600');
    expect(s.traceIdWidth).toBe(2);
  });

  it('treats a left-padded 64-bit ID as the bare 64-bit ID', () => {
    const [group] = unifyTraceIds([span('1', undefined, 'nginx', 0, 10), span('2', '1', 'linkerd-proxy', 1, 9, { traceId: '00000000000000004ed11df465275600' })], undefined, stats());
    expect(new Set(group!.map((x) => x.traceId))).toEqual(new Set(['4ed11df465275600']));
  });

  it('never merges two 128-bit traces that share their low half', () => {
    const groups = unifyTraceIds([span('1', undefined, 'a', 0, 1, { traceId: '11111111111111114ed11df465275600' }), span('2', undefined, 'b', 0, 1, { traceId: '22222222222222224ed11df465275600' })], undefined, stats());
    expect(groups.map((g) => g.map((x) => x.traceId))).toEqual([['11111111111111114ed11df465275600'], ['22222222222222224ed11df465275600']]);
  });
});

describe('splitSharedSpans', () => {
  it('gives the server half a new ID under the client half and re-points server-side children', () => {
    const client = span('c', 'r', 'web', 10, 50, { kind: 'client' });
    const server = span('c', 'r', 'voting', 12, 48, { kind: 'server', shared: true });
    const serverChild = span('d', 'c', 'voting', 13, 40, { kind: 'client' });
    const s = stats();
    const { spans } = splitSharedSpans([span('r', undefined, 'web', 0, 60), client, server, serverChild], undefined, s);
    const newId = serverHalfId('4ed11df465275600', '000000000000000c');
    const srv = spans.find((x) => x.kind === 'server' && x.resource.attributes['service.name'] === 'voting')!;
    expect(srv.spanId).toBe(newId);
    expect(srv.parentSpanId).toBe('000000000000000c');
    expect(srv.attributes[ATTR_ORIGINAL_SPAN_ID]).toBe('000000000000000c');
    expect(srv.shared).toBeUndefined();
    expect(spans.find((x) => x.spanId === '000000000000000d')!.parentSpanId).toBe(newId);
    expect(spans.find((x) => x.kind === 'client' && x.spanId === '000000000000000c')!.parentSpanId).toBe('000000000000000r');
    const report = analyzeTrace(spans);
    expect(report.complete).toBe(true);
    expect(new Set(spans.map((x) => x.spanId)).size).toBe(spans.length);
    expect(s.sharedSplit).toBe(1);
  });

  it('leaves a child that ran in the client process under the client half', () => {
    const { spans } = splitSharedSpans(
      [span('c', undefined, 'web', 10, 50, { kind: 'client' }), span('c', undefined, 'voting', 12, 48, { kind: 'server', shared: true }), span('e', 'c', 'web', 20, 30, { kind: 'internal' })],
      undefined,
      stats(),
    );
    expect(spans.find((x) => x.spanId === '000000000000000e')!.parentSpanId).toBe('000000000000000c');
  });
});

describe('splitSharedSpans: lone shared spans and who moves', () => {
  it('keeps the ID of a shared server span whose client half is not in the trace (an untraced caller): a root stays a root', () => {
    // OpenCensus's Zipkin exporter marks every root `shared: !parentSpanId`.
    const root = span('a', undefined, 'emoji-svc', 0, 50, { kind: 'server', shared: true });
    const child = span('b', 'a', 'emoji-svc', 5, 40, { kind: 'client' });
    const s = stats();
    const { spans, splits } = splitSharedSpans([root, child], undefined, s);
    expect(spans.map((x) => [x.spanId, x.parentSpanId])).toEqual([
      ['000000000000000a', undefined],
      ['000000000000000b', '000000000000000a'],
    ]);
    expect(splits.size).toBe(0);
    expect(s.sharedSplit).toBe(0);
    expect(analyzeTrace(spans).complete).toBe(true);
  });

  it('keeps a lone shared server with a parent under that parent (the caller reported its parent, not the client half)', () => {
    const { spans } = splitSharedSpans([span('r', undefined, 'web', 0, 60, { kind: 'internal' }), span('c', 'r', 'voting', 12, 48, { kind: 'server', shared: true })], undefined, stats());
    expect(spans[1]!.spanId).toBe('000000000000000c');
    expect(analyzeTrace(spans).complete).toBe(true);
  });

  it('splits a server half whose client half went out earlier (remembered), and a late client half of a lone server takes a new ID beside it', () => {
    const memory = emptyMemory('4ed11df465275600', 0);
    memory.mark('000000000000000c', SENT | CLIENT);
    const { spans } = splitSharedSpans([span('c', 'r', 'voting', 12, 48, { kind: 'server', shared: true })], memory, stats());
    expect(spans[0]!.spanId).toBe(serverHalfId('4ed11df465275600', '000000000000000c'));
    expect(spans[0]!.parentSpanId).toBe('000000000000000c');

    const lone = emptyMemory('4ed11df465275600', 0);
    lone.mark('000000000000000c', SENT | LONE_SERVER);
    const late = splitSharedSpans([span('c', 'r', 'web', 10, 50, { kind: 'client' })], lone, stats()).spans[0]!;
    expect(late.spanId).toBe(lateClientHalfId('4ed11df465275600', '000000000000000c'));
    expect(late.parentSpanId).toBe('000000000000000r');
    expect(late.attributes[ATTR_ORIGINAL_SPAN_ID]).toBe('000000000000000c');
  });

  it('moves only the children that ran in the server half\'s process; a third process answering the same client span stays, unshifted', () => {
    // One client span answered by a normal server (its own ID, parent = the client span) and by a
    // sharing server (the same ID). The normal server's span must stay under the client half.
    const client = span('c', 'r', 'web', 10, 50, { kind: 'client' }, 'web-pod');
    const sharing = span('c', 'r', 'voting', 30, 45, { kind: 'server', shared: true }, 'voting-pod');
    const sharingChild = span('d', 'c', 'voting', 31, 40, { kind: 'internal' }, 'voting-pod');
    const third = span('e', 'c', 'mirror', 12, 20, { kind: 'server' }, 'mirror-pod');
    const s = stats();
    const { spans } = splitSharedSpans([span('r', undefined, 'web', 0, 60, {}, 'web-pod'), client, sharing, sharingChild, third], undefined, s);
    const newId = serverHalfId('4ed11df465275600', '000000000000000c');
    expect(spans.find((x) => x.spanId === '000000000000000d')!.parentSpanId).toBe(newId);
    expect(spans.find((x) => x.spanId === '000000000000000e')!.parentSpanId).toBe('000000000000000c');
    const adjusted = adjustClockSkew(spans, s);
    const e = adjusted.find((x) => x.spanId === '000000000000000e')!;
    expect(e.startTimeUnixNano).toBe(third.startTimeUnixNano);
    expect(e.attributes[ATTR_CLOCK_SKEW]).toBeUndefined();
    expect(analyzeTrace(adjusted).complete).toBe(true);
  });
});

describe('adjustClockSkew', () => {
  it('centres a child from a skewed host inside its parent, moves its same-host descendants with it, and records the shift', () => {
    const parent = span('p', undefined, 'linkerd-proxy', 0, 100, { kind: 'client' }, 'web-pod');
    const child = span('q', 'p', 'linkerd-proxy', 2010, 2090, {}, 'voting-pod'); // 2 s ahead
    const grandchild = span('g', 'q', 'voting', 2020, 2080, {}, 'voting-pod');
    const s = stats();
    const out = adjustClockSkew([parent, child, grandchild], s);
    const q = out[1]!;
    expect(q.startTimeUnixNano).toBe(T0 + 10n * MS);
    expect(q.endTimeUnixNano).toBe(T0 + 90n * MS);
    expect(q.attributes[ATTR_CLOCK_SKEW]).toBe(-2000 * 1e6);
    expect(out[2]!.startTimeUnixNano).toBe(T0 + 20n * MS);
    expect(out[0]).toBe(parent);
    expect(s.clockSkew).toBe(2);
  });

  it('leaves spans that fit alone, and aligns a longer child to the parent start', () => {
    const parent = span('p', undefined, 'a', 0, 100);
    const fits = span('f', 'p', 'b', 10, 90);
    const longer = span('l', 'p', 'c', -50, 150);
    const out = adjustClockSkew([parent, fits, longer], stats());
    expect(out[1]).toBe(fits);
    expect(out[2]!.startTimeUnixNano).toBe(T0);
  });

  it('gives back a trace in which every child fits its parent or shares its clock as it is: no copy, no count', () => {
    const spans = [span('p', undefined, 'a', 0, 100, {}, 'a-pod'), span('q', 'p', 'b', 10, 90, {}, 'b-pod'), span('r', 'q', 'b', 5, 95, {}, 'b-pod')];
    const s = stats();
    expect(adjustClockSkew(spans, s)).toBe(spans);
    expect(s.clockSkew).toBe(0);
  });

  it('shifts a long trace (past 32 spans, its spans found through an index) as it shifts a short one', () => {
    // A chain of 40 hops on two hosts; hop 30 and those below it ran on a host 2 s ahead.
    const chain = Array.from({ length: 40 }, (_, i) =>
      i < 30 ? span(`${i + 1}`, i ? `${i}` : undefined, 'web', i, 1000 - i, {}, 'web-pod') : span(`${i + 1}`, `${i}`, 'voting', 2000 + i, 3000 - i, {}, 'voting-pod'),
    );
    const s = stats();
    const out = adjustClockSkew(chain, s);
    expect(out.slice(0, 30)).toEqual(chain.slice(0, 30));
    // Hop 31 (940 ms long) centred in hop 30 (29..971 ms): starts at 30 ms; hops below move with it.
    expect(out[30]!.startTimeUnixNano).toBe(T0 + 30n * MS);
    expect(out[39]!.startTimeUnixNano - out[30]!.startTimeUnixNano).toBe(9n * MS);
    expect(s.clockSkew).toBe(10);
  });
});

describe('analyzeTrace', () => {
  it('finds the orphan of a long trace (past 32 spans, its IDs put in a set) as of a short one', () => {
    const chain = Array.from({ length: 40 }, (_, i) => span(`${i + 1}`, i ? `${i === 20 ? 99 : i}` : undefined, 'web', i, 1000 - i));
    const report = analyzeTrace(chain);
    expect(report.roots.map((r) => r.spanId)).toEqual([chain[0]!.spanId]);
    expect(report.orphans.map((o) => o.span.spanId)).toEqual([chain[20]!.spanId]);
  });

  it('names the orphan, its missing parent and whom to suspect', () => {
    const report = analyzeTrace([span('1', undefined, 'nginx', 0, 100), span('3', '2', 'linkerd-proxy', 10, 90, { kind: 'server' }, 'voting-pod')]);
    expect(report.complete).toBe(false);
    expect(report.orphans).toHaveLength(1);
    expect(report.orphans[0]!.missingParentId).toBe('0000000000000002');
    expect(describeOrphan(report.traceId, report.orphans[0]!)).toContain('span 0000000000000003 "op-3" from service linkerd-proxy names parent 0000000000000002, which no service reported');
  });
});
