/**
 * The deployment files, validated without a cluster or a Docker engine: every Kubernetes object
 * against the Kubernetes schemas (kubernetes-models), every collector config they carry against
 * span-relay's own config schema, their wiring (the routers resolve the joiners' headless Service,
 * the Linkerd values name span-relay's Service and identity), and the Dockerfile's promises.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { ConfigMap, Service, ServiceAccount } from 'kubernetes-models/v1';
import { parseConfig } from '../collector/src/config/load.js';
import { builtinComponents } from '../collector/src/components.js';
import { DEFAULTS, topology } from '../demo/src/topology.js';
import { binStart } from '../bench/bin-start.js';

const ROOT = new URL('../', import.meta.url);
type K8s = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; spec?: Record<string, unknown>; data?: Record<string, string> };
const objects = (file: string): K8s[] => parseAllDocuments(readFileSync(new URL(`deploy/kubernetes/${file}`, ROOT), 'utf8')).map((d) => d.toJS() as K8s);
const MODELS: Record<string, new (o: never) => { validate(): void }> = { Deployment, StatefulSet, Service, ConfigMap, ServiceAccount };

describe('deploy/kubernetes', () => {
  for (const file of ['single-tier.yaml', 'two-tier.yaml']) {
    it(`${file}: every object is valid by the Kubernetes schemas, every collector config by span-relay's`, () => {
      for (const o of objects(file)) {
        const Model = MODELS[o.kind];
        expect(Model, `${o.kind} is a kind this test knows`).toBeDefined();
        expect(() => new Model!(o as never).validate(), `${o.kind}/${o.metadata.name}`).not.toThrow();
        if (o.kind === 'ConfigMap') expect(() => parseConfig(o.data!['config.yaml']!, builtinComponents, {}), `${o.metadata.name}`).not.toThrow();
      }
    });
  }

  it('two-tier: the routers resolve the joiners\' headless Service; the Service tracers use selects the routers', () => {
    const all = objects('two-tier.yaml');
    const joinerSvc = all.find((o) => o.kind === 'Service' && o.metadata.name === 'span-relay-joiner')!;
    expect(joinerSvc.spec!.clusterIP).toBe('None');
    const routerCfg = parse(all.find((o) => o.metadata.name === 'span-relay-router' && o.kind === 'ConfigMap')!.data!['config.yaml']!) as { exporters: { loadbalancing: { resolver: { dns: { hostname: string; port: number } } } } };
    expect(routerCfg.exporters.loadbalancing.resolver.dns.hostname).toBe(`${joinerSvc.metadata.name}.${joinerSvc.metadata.namespace}.svc.cluster.local`);
    const joiners = all.find((o) => o.kind === 'StatefulSet')!;
    expect((joiners.spec!.serviceName as string)).toBe(joinerSvc.metadata.name);
    const front = all.find((o) => o.kind === 'Service' && o.metadata.name === 'span-relay')!;
    expect(front.spec!.selector).toEqual({ 'app.kubernetes.io/name': 'span-relay', 'app.kubernetes.io/component': 'router' });
  });

  it("linkerd-values: the proxies export to span-relay's Service and check its mesh identity", () => {
    const v = parse(readFileSync(new URL('deploy/kubernetes/linkerd-values.yaml', ROOT), 'utf8')) as { proxy: { tracing: { collector: { endpoint: string; meshIdentity: { serviceAccountName: string; namespace: string } } } } };
    const svc = objects('single-tier.yaml').find((o) => o.kind === 'Service')!;
    const sa = objects('single-tier.yaml').find((o) => o.kind === 'ServiceAccount')!;
    expect(v.proxy.tracing.collector.endpoint).toBe(`${svc.metadata.name}.${svc.metadata.namespace}.svc.cluster.local:4317`);
    expect(v.proxy.tracing.collector.meshIdentity).toEqual({ serviceAccountName: sa.metadata.name, namespace: sa.metadata.namespace });
  });
});

describe('Dockerfile', () => {
  const text = readFileSync(new URL('Dockerfile', ROOT), 'utf8');
  const stages = text.split(/^FROM /m).slice(1);
  const final = stages.at(-1)!;

  it('runs the compiled collector as a non-root user with production dependencies only', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(final).toMatch(/^USER node$/m);
    expect(final).toMatch(/COPY --from=build \/app\/collector\/dist collector\/dist/);
    expect(final).toMatch(/ENTRYPOINT \["node", "--max-semi-space-size=8", "\/app\/collector\/bin\/span-relay\.js"\]/);
    expect(text).toMatch(/npm prune --omit=dev/);
    expect(final).not.toMatch(/tsx|typescript/);
  });

  it('builds the SQLite addon before the collector, whose build starts it once to make the code cache', () => {
    const build = stages[0]!;
    const rebuild = build.indexOf('npm rebuild better-sqlite3');
    expect(rebuild).toBeGreaterThan(0);
    expect(build.indexOf('npm run --workspace collector build')).toBeGreaterThan(rebuild);
    // Where the build made the cache is where the image runs it.
    expect(build).toMatch(/^WORKDIR \/app$/m);
    expect(final).toMatch(/^WORKDIR \/app$/m);
  });

  it('starts node with the environment and flags the span-relay command starts it with, as both `npm start` scripts and the demo do', () => {
    const { env, flags } = binStart();
    expect(env).toEqual({ MALLOC_ARENA_MAX: '4' });
    expect(flags).toEqual(['--max-semi-space-size=8']);
    const envWords = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    expect(JSON.parse(/ENTRYPOINT (\[.*\])/.exec(final)![1]!)).toEqual(['node', ...flags, '/app/collector/bin/span-relay.js']);
    for (const w of envWords) expect(final.split('\n')).toContain(`ENV ${w}`);
    const pkg = JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toBe([...envWords, 'node', ...flags, 'collector/bin/span-relay.js', 'run'].join(' '));
    // The collector workspace's own `npm start`, run from collector/.
    const collectorPkg = JSON.parse(readFileSync(new URL('collector/package.json', ROOT), 'utf8')) as { scripts: Record<string, string> };
    expect(collectorPkg.scripts.start).toBe([...envWords, 'node', ...flags, 'bin/span-relay.js', 'run'].join(' '));
    // The demo's collector, on one machine and in docker-compose.yml.
    for (const mode of ['local', 'compose'] as const) {
      const collector = topology({ ...DEFAULTS, mode }).find((p) => p.name === 'collector')!;
      expect(collector.args.slice(0, flags.length + 1)).toEqual([...flags, 'collector/bin/span-relay.js']);
      expect(collector.env).toMatchObject(env);
    }
  });
});

describe('collector/bin/span-relay.js', () => {
  it('the #! line, as env reads it, starts node with that environment', () => {
    const line = readFileSync(new URL('collector/bin/span-relay.js', ROOT), 'utf8').split('\n')[0]!;
    const [program, split, rest] = line.slice(2).split(/ (-S) /);
    const out = execFileSync(program!, [split!, rest!, '-p', 'JSON.stringify([process.env.MALLOC_ARENA_MAX, process.execArgv[0]])'], { encoding: 'utf8', env: { ...process.env, MALLOC_ARENA_MAX: '' } });
    expect(JSON.parse(out)).toEqual(['4', '--max-semi-space-size=8']);
  });
});
