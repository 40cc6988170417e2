/**
 * The deployment files, validated without a cluster or a Docker engine: every Kubernetes object
 * against the Kubernetes schemas (kubernetes-models), every collector config they carry against
 * span-relay's own config schema, their wiring (the routers resolve the joiners' headless Service,
 * the joiners reach Jaeger v2 on a port its config receives their protocol on, the Linkerd values
 * name span-relay's Service and identity), Jaeger's config (peers/jaeger/config.yaml, the one the
 * tests run), and the Dockerfile's promises.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { ConfigMap, Service, ServiceAccount } from 'kubernetes-models/v1';
import { parseConfig } from '../collector/src/config/load.js';
import { builtinComponents } from '../collector/src/components.js';
import { DEFAULTS, topology } from '../demo/src/topology.js';
import { binStart } from '../bench/bin-start.js';
import { PEERS } from '../peers/peers.js';
import { JAEGER_CONFIG, JAEGER_IMAGE, JAEGER_RECEIVER_FOR, jaegerListens } from './helpers/jaeger-config.js';

const ROOT = new URL('../', import.meta.url);
type K8s = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; spec?: Record<string, unknown>; data?: Record<string, string> };
const objects = (file: string): K8s[] => parseAllDocuments(readFileSync(new URL(`deploy/kubernetes/${file}`, ROOT), 'utf8')).map((d) => d.toJS() as K8s);
const MODELS: Record<string, new (o: never) => { validate(): void }> = { Deployment, StatefulSet, Service, ConfigMap, ServiceAccount };
/** Every manifest (linkerd-values.yaml is Helm values, not objects). */
const MANIFESTS = readdirSync(new URL('deploy/kubernetes/', ROOT)).filter((f) => f.endsWith('.yaml') && f !== 'linkerd-values.yaml').sort();

interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: { name: string; value?: string }[];
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: { httpGet?: { path: string; port: number | string } };
  livenessProbe?: { httpGet?: { path: string; port: number | string } };
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodSpec { containers: Container[]; volumes?: { name: string; configMap?: { name: string } }[] }
const podSpec = (o: K8s): PodSpec | undefined => (o.spec?.template as { spec?: PodSpec } | undefined)?.spec;
/** A port as a container or Service names it (number or port name) → the container's port number. */
const portOf = (c: Container, port: number | string): number | undefined => (typeof port === 'number' ? c.ports?.find((p) => p.containerPort === port) : c.ports?.find((p) => p.name === port))?.containerPort;
/** The ConfigMaps a file's workloads mount, each with the image of the container that mounts it. */
function configMapImages(all: K8s[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const spec of all.map(podSpec)) {
    for (const c of spec?.containers ?? []) {
      for (const m of c.volumeMounts ?? []) {
        const cm = spec!.volumes?.find((v) => v.name === m.name)?.configMap?.name;
        if (cm) out.set(cm, c.image);
      }
    }
  }
  return out;
}

const portNumber = (hostPort: string): number => Number(hostPort.split(':').at(-1));

describe('deploy/kubernetes', () => {
  it('has the manifests this test knows', () => {
    expect(MANIFESTS).toEqual(['jaeger.yaml', 'single-tier.yaml', 'two-tier.yaml']);
  });

  for (const file of MANIFESTS) {
    it(`${file}: every object is valid by the Kubernetes schemas, every collector config by span-relay's, Jaeger's is peers/jaeger/config.yaml`, () => {
      const all = objects(file);
      const mounted = configMapImages(all);
      for (const o of all) {
        const Model = MODELS[o.kind];
        expect(Model, `${o.kind} is a kind this test knows`).toBeDefined();
        expect(() => new Model!(o as never).validate(), `${o.kind}/${o.metadata.name}`).not.toThrow();
        if (o.kind !== 'ConfigMap') continue;
        const image = mounted.get(o.metadata.name);
        if (image === JAEGER_IMAGE) expect(o.data!['config.yaml'], `${o.metadata.name} is peers/jaeger/config.yaml, as it is (paste it in again)`).toBe(JAEGER_CONFIG);
        else if (image?.startsWith('span-relay:')) expect(() => parseConfig(o.data!['config.yaml']!, builtinComponents, {}), `${o.metadata.name}`).not.toThrow();
        else expect.fail(`ConfigMap/${o.metadata.name} is mounted by ${image ?? 'nothing'}`);
      }
    });
  }

  it(`runs Jaeger v2 (${JAEGER_IMAGE}, the version the tests run) and no other Jaeger image`, () => {
    const images = MANIFESTS.flatMap((f) => objects(f).flatMap((o) => podSpec(o)?.containers.map((c) => c.image) ?? []));
    const jaegers = images.filter((i) => i.startsWith('jaegertracing/'));
    expect(jaegers).toEqual([JAEGER_IMAGE]);
    expect(PEERS.jaeger.title).toContain(`Jaeger v${JAEGER_IMAGE.split(':')[1]!} `);
  });

  it('jaeger.yaml: Jaeger v2 runs its ConfigMap on every interface, declares each port the config listens on, and is probed on healthcheckv2\'s /status', () => {
    const all = objects('jaeger.yaml');
    const deployment = all.find((o) => o.kind === 'Deployment')!;
    // Memory storage: a second pod would hold other traces.
    expect(deployment.spec!.replicas).toBe(1);
    const spec = podSpec(deployment)!;
    const jaeger = spec.containers.find((c) => c.image === JAEGER_IMAGE)!;
    const [flag, path] = jaeger.args!;
    expect(flag).toBe('--config');
    const mount = jaeger.volumeMounts!.find((m) => path!.startsWith(`${m.mountPath}/`))!;
    const configMap = all.find((o) => o.kind === 'ConfigMap' && o.metadata.name === spec.volumes!.find((v) => v.name === mount.name)!.configMap!.name)!;
    expect(configMap.data![path!.slice(mount.mountPath.length + 1)]).toBe(JAEGER_CONFIG);

    const env = Object.fromEntries(jaeger.env!.map((e) => [e.name, e.value!]));
    expect(env.JAEGER_LISTEN_HOST).toBe('0.0.0.0');
    // Every variable set is one the config reads: Jaeger v1's (COLLECTOR_OTLP_ENABLED, SPAN_STORAGE_TYPE…) are not.
    const reads = new Set([...JAEGER_CONFIG.matchAll(/\$\{env:([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!));
    for (const k of Object.keys(env)) expect(reads, k).toContain(k);

    const listens = jaegerListens(env);
    for (const at of listens.values()) expect(at).toMatch(/^0\.0\.0\.0:\d+$/);
    expect(jaeger.ports!.map((p) => p.containerPort).sort((a, b) => a - b)).toEqual([...listens.values()].map(portNumber).sort((a, b) => a - b));
    expect((parse(JAEGER_CONFIG) as { extensions: { healthcheckv2: { use_v2: boolean } } }).extensions.healthcheckv2.use_v2).toBe(true);
    for (const probe of [jaeger.readinessProbe, jaeger.livenessProbe]) {
      expect(probe!.httpGet!.path).toBe('/status');
      expect(portOf(jaeger, probe!.httpGet!.port)).toBe(portNumber(listens.get('healthcheckv2/http')!));
    }

    const svc = all.find((o) => o.kind === 'Service' && o.metadata.name === 'jaeger')!;
    expect((deployment.spec!.template as { metadata: { labels: Record<string, string> } }).metadata.labels).toMatchObject(svc.spec!.selector as Record<string, string>);
    for (const p of svc.spec!.ports as { name: string; targetPort: number | string }[]) expect(portOf(jaeger, p.targetPort), p.name).toBeDefined();
  });

  it('two-tier: the joiners export to the jaeger Service, on a port where Jaeger v2 receives their protocol', () => {
    const jaegerObjs = objects('jaeger.yaml');
    const jaeger = podSpec(jaegerObjs.find((o) => o.kind === 'Deployment')!)!.containers.find((c) => c.image === JAEGER_IMAGE)!;
    const listens = jaegerListens(Object.fromEntries(jaeger.env!.map((e) => [e.name, e.value!])));
    const toJaeger: { configMap: string; exporter: string; receiver?: string }[] = [];
    for (const file of MANIFESTS) {
      const all = objects(file);
      const mounted = configMapImages(all);
      for (const cm of all.filter((o) => o.kind === 'ConfigMap' && mounted.get(o.metadata.name)?.startsWith('span-relay:'))) {
        for (const [id, e] of parseConfig(cm.data!['config.yaml']!, builtinComponents, {}).exporters) {
          const m = /^(?:https?:\/\/)?([^.:/]+)\.([^.:/]+)\.svc\.cluster\.local:(\d+)/.exec((e.config as { endpoint?: string }).endpoint ?? '');
          if (!m || !m[1]!.includes('jaeger')) continue;
          const svc = jaegerObjs.find((o) => o.kind === 'Service' && o.metadata.name === m[1] && o.metadata.namespace === m[2]);
          const target = (svc?.spec!.ports as { port: number; targetPort: number | string }[] | undefined)?.find((p) => p.port === Number(m[3]))?.targetPort;
          const port = target === undefined ? undefined : portOf(jaeger, target);
          const receiver = [...listens].find(([, at]) => portNumber(at) === port)?.[0];
          toJaeger.push({ configMap: cm.metadata.name, exporter: id, ...(receiver === JAEGER_RECEIVER_FOR[e.type] ? { receiver } : {}) });
        }
      }
    }
    expect(toJaeger).toEqual([{ configMap: 'span-relay-joiner', exporter: 'otlp/jaeger', receiver: 'otlp/grpc' }]);
  });

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
