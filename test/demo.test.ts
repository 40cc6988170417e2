/**
 * The demo end to end on loopback: votes through the ingress, every process of the topology as
 * `npm run demo` starts it, the collector exporting to a backend that speaks Jaeger's gRPC ingest.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JaegerGrpcSink, b64hex, type JaegerProtoSpan } from '../collector/test/helpers/sinks.js';
import { startDemo, type RunningDemo } from '../demo/src/run.js';
import { DEFAULTS, type TopologyOptions } from '../demo/src/topology.js';
import { portRun } from '../collector/test/helpers/ports.js';

const ROOT = new URL('../', import.meta.url).pathname;

interface Node {
  span: JaegerProtoSpan;
  id: string;
  parent: string | undefined;
  traceId: string;
  service: string;
  host: string;
  kind: string;
  error: boolean;
  tags: Record<string, string | number | boolean | undefined>;
}

function flatten(sink: JaegerGrpcSink): Node[] {
  const out: Node[] = [];
  for (const { batch } of sink.requests) {
    const procTags = Object.fromEntries((batch.process.tags ?? []).map((t) => [t.key, t.vStr]));
    for (const s of batch.spans) {
      const tags = Object.fromEntries((s.tags ?? []).map((t) => [t.key, t.vStr ?? (t.vInt64 !== undefined ? Number(t.vInt64) : undefined) ?? t.vBool ?? t.vFloat64]));
      const parent = (s.references ?? []).find((r) => (r.refType ?? 'CHILD_OF') === 'CHILD_OF');
      out.push({ span: s, id: b64hex(s.spanId), parent: parent ? b64hex(parent.spanId) : undefined, traceId: b64hex(s.traceId), service: batch.process.serviceName, host: String(procTags['host.name'] ?? ''), kind: String(tags['span.kind'] ?? ''), error: tags.error === true, tags });
    }
  }
  return out;
}

/** Each hop up from a span to the root, as "service:kind". */
function pathTo(nodes: Node[], n: Node): string[] {
  const byId = new Map(nodes.filter((x) => x.traceId === n.traceId).map((x) => [x.id, x]));
  const out: string[] = [];
  for (let s: Node | undefined = n; s; s = s.parent ? byId.get(s.parent) : undefined) out.unshift(`${s.service}:${s.kind || 'unspecified'}`);
  return out;
}

async function withDemo(o: Partial<TopologyOptions>, votes: string[], check: (nodes: Node[], statuses: number[]) => void): Promise<void> {
  const sink = await new JaegerGrpcSink().start();
  const dir = mkdtempSync(join(tmpdir(), 'span-relay-demo-'));
  const config = join(dir, 'collector.yaml');
  writeFileSync(
    config,
    readFileSync(`${ROOT}demo/collector.local.yaml`, 'utf8')
      .replace('quiet_period: 2s', 'quiet_period: 500ms')
      .replace(/exporters:\n {2}file:\n {4}path: .*\n {2}embedded:\n(?: {4,}.*\n)+/, `exporters:\n  jaeger:\n    endpoint: ${sink.endpoint}\n    tls:\n      insecure: true\n`)
      .replace('exporters: [file, embedded]', 'exporters: [jaeger]'),
  );
  const portBase = await portRun(40);
  let demo: RunningDemo | undefined;
  const output: string[] = [];
  try {
    demo = await startDemo({ ...DEFAULTS, portBase, collectorPorts: 'offset', ...o }, { collectorConfig: config, startDriver: false, onOutput: (n, l) => output.push(`${n}: ${l}`) });
    const statuses: number[] = [];
    for (const v of votes) {
      const res = await fetch(`http://127.0.0.1:${demo.ports.ingress}/api/vote?choice=${encodeURIComponent(v)}`);
      statuses.push(res.status);
      await res.arrayBuffer();
    }
    // Every vote's spans: ingress 2, proxies, apps; wait until the join has released them all.
    const expectTraces = votes.length;
    for (let i = 0; i < 150; i++) {
      const nodes = flatten(sink);
      const roots = nodes.filter((n) => !n.parent);
      if (roots.length >= expectTraces && nodes.filter((n) => n.service === 'voting-svc' || n.tags['http.response.status_code'] === '504').length >= expectTraces) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 1200));
    check(flatten(sink), statuses);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- demo output ---\n${output.slice(-40).join('\n')}`);
  } finally {
    await demo?.stop();
    await sink.stop();
  }
}

const HOPS = ['nginx:unspecified', 'nginx:unspecified', 'linkerd-proxy:server', 'web:server', 'web:client', 'linkerd-proxy:client', 'linkerd-proxy:server', 'voting-svc:server'];

function assertOneTreePerVote(nodes: Node[], votes: number): void {
  const traces = new Map<string, Node[]>();
  for (const n of nodes) traces.set(n.traceId, [...(traces.get(n.traceId) ?? []), n]);
  expect(traces.size).toBe(votes);
  for (const [traceId, spans] of traces) {
    const ids = new Set(spans.map((s) => s.id));
    const roots = spans.filter((s) => !s.parent);
    expect(roots.map((r) => r.service), traceId).toEqual(['nginx']);
    expect(spans.filter((s) => s.parent && !ids.has(s.parent)), `orphans in ${traceId}`).toEqual([]);
    // the emoji call beside the vote
    const emoji = spans.find((s) => s.service === 'emoji-svc')!;
    expect(pathTo(nodes, emoji)).toEqual([...HOPS.slice(0, 7), 'emoji-svc:server']);
  }
}

describe('the emojivoto demo, end to end', () => {
  it('each vote is one trace, rooted at the ingress, hops in order; doughnut retries are sibling attempts with error status', async () => {
    await withDemo({}, [':dog:', ':cat:', ':doughnut:'], (nodes, statuses) => {
      expect(statuses).toEqual([200, 200, 500]);
      assertOneTreePerVote(nodes, 3);
      const dogVote = nodes.find((n) => n.service === 'voting-svc' && n.span.operationName.includes('VoteDog'))!;
      expect(pathTo(nodes, dogVote)).toEqual(HOPS);
      // 64-bit ingress trace IDs: the high half stays zero all along.
      expect(dogVote.traceId.startsWith('0000000000000000')).toBe(true);
      // The doughnut: web's outbound proxy span holds the attempts side by side.
      const outbound = nodes.find((n) => n.service === 'linkerd-proxy' && n.kind === 'client' && n.span.operationName.endsWith('VoteDoughnut') && n.tags['linkerd.retry.attempt'] === undefined)!;
      const attempts = nodes.filter((n) => n.parent === outbound.id);
      expect(attempts.length).toBeGreaterThanOrEqual(2);
      expect(attempts.map((a) => a.tags['linkerd.retry.attempt'])).toEqual(attempts.map((_, i) => i + 1));
      expect(attempts.every((a) => a.error && a.kind === 'client')).toBe(true);
      for (const a of attempts) expect(nodes.filter((n) => n.parent === a.id).map((n) => `${n.service}:${n.kind}`)).toEqual(['linkerd-proxy:server']);
    });
  });

  it('the same with the sidecars exporting OTLP and the ingress using 128-bit IDs', async () => {
    await withDemo({ proxyProtocol: 'otlp', ingress128: true }, [':rocket:', ':heart:'], (nodes) => {
      assertOneTreePerVote(nodes, 2);
      for (const n of nodes) expect(n.traceId.startsWith('0000000000000000'), n.traceId).toBe(false);
      const vote = nodes.find((n) => n.service === 'voting-svc')!;
      expect(pathTo(nodes, vote)).toEqual(HOPS);
    });
  });

  it('a slowed voting-svc shows the sidecar\'s 504 timeout', async () => {
    await withDemo({ votingDelayMs: 800 }, [':pizza:'], (nodes, statuses) => {
      expect(statuses).toEqual([500]);
      const timedOut = nodes.find((n) => n.service === 'linkerd-proxy' && n.kind === 'client' && n.tags['http.response.status_code'] === '504')!;
      expect(timedOut).toBeDefined();
      expect(timedOut.error).toBe(true);
      expect(timedOut.tags['otel.status_description']).toBe('request timed out');
      expect(pathTo(nodes, timedOut)).toEqual(HOPS.slice(0, 6));
      // and the trace is still one tree
      const roots = nodes.filter((n) => !n.parent);
      expect(roots).toHaveLength(1);
    });
  });
});

describe('the demo when the collector cannot start', () => {
  it("shows the collector's own reason (a port in use), not only its exit code", async () => {
    const { createServer } = await import('node:net');
    const portBase = await portRun(40);
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(portBase + 31, '127.0.0.1', () => r())); // the offset Zipkin port
    try {
      await expect(startDemo({ ...DEFAULTS, portBase, collectorPorts: 'offset' }, { startDriver: false })).rejects.toThrow(
        /collector exited with 1 before it was ready:[\s\S]*receiver 'zipkin' cannot listen on 127\.0\.0\.1:\d+: the address is already in use/,
      );
    } finally {
      blocker.close();
    }
  });
});
