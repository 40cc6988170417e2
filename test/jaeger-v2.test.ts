/**
 * The demo's votes into the real Jaeger v2 (the peers/ build), read back with Jaeger's own query
 * API: through span-relay, once through each exporter Jaeger v2 takes (OTLP gRPC, OTLP HTTP,
 * Jaeger gRPC), every vote is one tree there; and the same senders straight to Jaeger (nginx's
 * Zipkin and the proxies' OTLP to its own receivers; the apps' OpenCensus has nowhere to go, as
 * Jaeger v2 does not take it) leave it in pieces.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { portRun } from '../collector/test/helpers/ports.js';
import { startDemo, type RunningDemo } from '../demo/src/run.js';
import { DEFAULTS, ports as demoPorts, type TopologyOptions } from '../demo/src/topology.js';
import { missingPeers } from '../peers/peers.js';
import { startJaeger, type RunningJaeger } from '../peers/jaeger/start.js';
import { stopPeerProcesses } from '../peers/process.js';

const VOTES = [':dog:', ':doughnut:', ':rocket:'];
const EXPORTERS = ['otlp', 'otlphttp', 'jaeger'] as const;
type ExporterType = (typeof EXPORTERS)[number];

/** A span as Jaeger's api_v3 gives it (OTLP JSON), with its resource's service. */
interface V3Span {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  service: string;
}

interface V1Trace {
  traceID: string;
  spans: { spanID: string; operationName: string; references: { refType: string; spanID: string; traceID: string }[]; processID: string }[];
  processes: Record<string, { serviceName: string }>;
  warnings: string[] | null;
}

async function v3Trace(jaeger: RunningJaeger, id: string): Promise<V3Span[]> {
  const res = await fetch(`${jaeger.query}/api/v3/traces/${id}`);
  if (res.status === 404) return [];
  expect(res.status, `GET /api/v3/traces/${id}`).toBe(200);
  const body = (await res.json()) as { result: { resourceSpans: { resource: { attributes: { key: string; value: { stringValue?: string } }[] }; scopeSpans: { spans: Omit<V3Span, 'service'>[] }[] }[] } };
  return body.result.resourceSpans.flatMap((rs) => {
    const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
    return rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => ({ ...s, service })));
  });
}

async function v1Trace(jaeger: RunningJaeger, id: string): Promise<V1Trace | undefined> {
  const res = await fetch(`${jaeger.query}/api/traces/${id}`);
  if (res.status === 404) return undefined;
  expect(res.status, `GET /api/traces/${id}`).toBe(200);
  return ((await res.json()) as { data: V1Trace[] }).data[0];
}

/** Roots and orphans of a list of (id, parent) pairs. */
function breaks(spans: { id: string; parent: string | undefined }[]): { roots: number; orphans: string[] } {
  const ids = new Set(spans.map((s) => s.id));
  return { roots: spans.filter((s) => !s.parent).length, orphans: spans.filter((s) => s.parent && !ids.has(s.parent)).map((s) => s.id) };
}

/** What span-relay released, from its file exporter: span count by trace ID. */
function released(file: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
    const req = JSON.parse(line) as { resourceSpans: { scopeSpans: { spans: { traceId: string }[] }[] }[] };
    for (const rs of req.resourceSpans) for (const ss of rs.scopeSpans) for (const s of ss.spans) out.set(s.traceId, (out.get(s.traceId) ?? 0) + 1);
  }
  return out;
}

async function vote(demo: RunningDemo): Promise<void> {
  for (const v of VOTES) {
    const res = await fetch(`http://127.0.0.1:${demo.ports.ingress}/api/vote?choice=${encodeURIComponent(v)}`);
    await res.arrayBuffer();
  }
}

async function poll<T>(what: string, attempt: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await attempt();
    if (got !== undefined) return got;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const DEMO_COLLECTOR = readFileSync(new URL('../demo/collector.local.yaml', import.meta.url), 'utf8');

function exporterYaml(type: ExporterType, jaeger: RunningJaeger): string {
  const endpoint = type === 'otlp' ? jaeger.otlpGrpc : type === 'otlphttp' ? jaeger.otlpHttp : jaeger.jaegerGrpc;
  return `  ${type}:\n    endpoint: ${endpoint}\n${type === 'otlphttp' ? '' : '    tls:\n      insecure: true\n'}`;
}

async function runDemo(o: Partial<TopologyOptions>, portBase: number, config: string, output: string[]): Promise<RunningDemo> {
  return startDemo({ ...DEFAULTS, portBase, collectorPorts: 'offset', ...o }, { collectorConfig: config, startDriver: false, onOutput: (n, l) => output.push(`${n}: ${l}`) });
}

describe.skipIf(missingPeers('jaeger'))('Jaeger v2 behind span-relay: the demo read back with Jaeger’s own query API', () => {
  const jaegers = new Map<ExporterType, RunningJaeger>();
  const dir = mkdtempSync(join(tmpdir(), 'span-relay-jaeger-v2-'));
  let releasedSpans: Map<string, number>;
  const output: string[] = [];

  beforeAll(async () => {
    for (const type of EXPORTERS) jaegers.set(type, await startJaeger());
    // One demo run, its collector sending every released trace to three Jaegers, one per exporter,
    // and to a file that says what the join released.
    const file = join(dir, 'released.jsonl');
    const config = join(dir, 'collector.yaml');
    writeFileSync(
      config,
      DEMO_COLLECTOR.replace('quiet_period: 2s', 'quiet_period: 500ms')
        .replace(/exporters:\n {2}file:\n {4}path: .*\n {2}embedded:\n(?: {4,}.*\n)+/, `exporters:\n  file:\n    path: ${file}\n${EXPORTERS.map((t) => exporterYaml(t, jaegers.get(t)!)).join('')}`)
        .replace('exporters: [file, embedded]', `exporters: [file, ${EXPORTERS.join(', ')}]`),
    );
    let demo: RunningDemo | undefined;
    try {
      demo = await runDemo({}, await portRun(40), config, output);
      await vote(demo);
      // Each vote's trace is released once the join has seen it quiet; wait for all three.
      await poll('the join to release every vote', async () => {
        try {
          const r = released(file);
          return r.size >= VOTES.length ? r : undefined;
        } catch {
          return undefined;
        }
      });
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- demo output ---\n${output.slice(-40).join('\n')}`);
    } finally {
      await demo?.stop(); // the collector stops last and flushes its exporters
    }
    releasedSpans = released(file);
  }, 120_000);
  afterAll(stopPeerProcesses);

  for (const type of EXPORTERS) {
    it(`span-relay's ${type} exporter → Jaeger v2: every vote one tree, every hop, the same span count span-relay released`, async () => {
      const jaeger = jaegers.get(type)!;
      expect(releasedSpans.size).toBe(VOTES.length);
      for (const [traceId, count] of releasedSpans) {
        let seen = 0;
        const spans = await poll(`trace ${traceId} whole in Jaeger (${type})`, async () => {
          const got = await v3Trace(jaeger, traceId);
          seen = got.length;
          return got.length >= count ? got : undefined;
        }).catch((err: unknown) => {
          throw new Error(`${(err as Error).message}: ${seen} of ${count} spans there\n--- jaeger ---\n${jaeger.output()}\n--- demo ---\n${output.slice(-20).join('\n')}`);
        });
        expect(spans, `api_v3 ${traceId}`).toHaveLength(count);
        expect(spans.every((s) => s.traceId === traceId)).toBe(true);
        expect(breaks(spans.map((s) => ({ id: s.spanId, parent: s.parentSpanId || undefined }))), `api_v3 ${traceId}`).toEqual({ roots: 1, orphans: [] });
        expect(new Set(spans.map((s) => s.service))).toEqual(new Set(['nginx', 'linkerd-proxy', 'web', 'voting-svc', 'emoji-svc']));
        const root = spans.find((s) => !s.parentSpanId)!;
        expect(root.service).toBe('nginx');

        // nginx's 64-bit ID: the trace is stored under the 128-bit ID span-relay widened it to, and
        // Jaeger's older API finds it by either spelling.
        expect(traceId).toMatch(/^0{16}[0-9a-f]{16}$/);
        for (const spelling of [traceId, traceId.slice(16)]) {
          const v1 = await v1Trace(jaeger, spelling);
          expect(v1, `GET /api/traces/${spelling}`).toBeDefined();
          expect(v1!.spans).toHaveLength(count);
          const parentOf = (s: V1Trace['spans'][number]) => s.references.find((r) => r.refType === 'CHILD_OF')?.spanID;
          expect(breaks(v1!.spans.map((s) => ({ id: s.spanID, parent: parentOf(s) }))), `api/traces ${spelling}`).toEqual({ roots: 1, orphans: [] });
          expect(v1!.warnings ?? []).toEqual([]);
        }
      }
    });
  }
});

describe.skipIf(missingPeers('jaeger'))('Jaeger v2 without span-relay: the control', () => {
  afterAll(stopPeerProcesses);

  it('the same votes from the same senders, straight to Jaeger, are not whole there', async () => {
    const portBase = await portRun(40);
    const p = demoPorts(portBase, 'offset');
    // Jaeger stands where the demo's senders point: nginx's Zipkin and the proxies' OTLP (what
    // linkerd-proxy speaks today) go to it directly. The apps export OpenCensus (OC_AGENT_HOST), which
    // Jaeger v2 does not take: nothing listens on that port. The demo's own collector process runs
    // off to the side on another port, and the test checks that nothing went through it.
    const jaeger = await startJaeger({ zipkin: p.zipkin, otlpHttp: p.otlpHttp, otlpGrpc: p.otlpGrpc });
    const dir = mkdtempSync(join(tmpdir(), 'span-relay-jaeger-control-'));
    const config = join(dir, 'collector.yaml');
    const aside = join(dir, 'aside.jsonl');
    writeFileSync(
      config,
      `receivers:
  opencensus:
    endpoint: 127.0.0.1:${(await portRun(1))}
exporters:
  file:
    path: ${aside}
service:
  telemetry:
    metrics:
      address: 127.0.0.1:${p.admin}
  pipelines:
    traces:
      receivers: [opencensus]
      exporters: [file]
`,
    );
    const output: string[] = [];
    const demo = await runDemo({ proxyProtocol: 'otlp' }, portBase, config, output);
    try {
      await vote(demo);
      // The ingress and the proxies flush on timers: wait until Jaeger has every vote's nginx and proxy spans.
      const traces = await poll('every vote in Jaeger', async () => {
        const res = await fetch(`${jaeger.query}/api/traces?service=linkerd-proxy&limit=20&lookback=1h`);
        const body = (await res.json()) as { data: V1Trace[] | null };
        return (body.data?.length ?? 0) >= VOTES.length ? body.data! : undefined;
      });
      await new Promise((r) => setTimeout(r, 1500));
      expect(traces).toHaveLength(VOTES.length);
      for (const t of traces) {
        const v1 = (await v1Trace(jaeger, t.traceID))!;
        const parentOf = (s: V1Trace['spans'][number]) => s.references.find((r) => r.refType === 'CHILD_OF')?.spanID;
        const b = breaks(v1.spans.map((s) => ({ id: s.spanID, parent: parentOf(s) })));
        const services = new Set(Object.values(v1.processes).map((x) => x.serviceName));
        // In pieces: the apps' spans are missing, and the proxy spans they called out through name a
        // parent Jaeger never got.
        expect(services.has('web'), `web in ${t.traceID}`).toBe(false);
        expect(b.orphans.length, `orphans in ${t.traceID}`).toBeGreaterThan(0);
      }
      expect(existsSync(aside) ? readFileSync(aside, 'utf8') : '', 'nothing went through span-relay').toBe('');
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- demo output ---\n${output.slice(-40).join('\n')}`);
    } finally {
      await demo.stop();
    }
  }, 120_000);
});
