/**
 * The deployment files, validated without a cluster or a Docker engine: every Kubernetes object
 * against the Kubernetes schemas (kubernetes-models), the KafkaTopic against Strimzi's CRD schema,
 * every collector config they carry against span-relay's own config schema, their wiring (the
 * routers resolve the joiners' headless Service; routers and joiners meet on the KafkaTopic's topic
 * in one group, no more joiners than partitions; the joiners reach Jaeger v2 on a port its config
 * receives their protocol on; the Linkerd values name span-relay's Service and identity), Jaeger's
 * config (peers/jaeger/config.yaml, the one the tests run), and the Dockerfile's promises.
 * The checks are test/helpers/deploy-checks.ts, which test/helm.test.ts runs on the Helm chart too.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { DEFAULTS, topology } from '../demo/src/topology.js';
import { binStart } from '../bench/bin-start.js';
import { PEERS } from '../peers/peers.js';
import { JAEGER_CONFIG, JAEGER_IMAGE, jaegerListens } from './helpers/jaeger-config.js';
import { podSpec, portOf, STRIMZI_RELEASE, validateObject, type K8s } from './helpers/kubernetes.js';
import { expectKafkaWiring, expectListenPortsDeclared, expectRingWiring, expectServicesReachPods, expectValidObjects, exportsToJaeger, linkerdValuesFor, portNumber, type LinkerdValues } from './helpers/deploy-checks.js';

const ROOT = new URL('../', import.meta.url);
const objects = (file: string): K8s[] => parseAllDocuments(readFileSync(new URL(`deploy/kubernetes/${file}`, ROOT), 'utf8')).map((d) => d.toJS() as K8s);
/** Every manifest (linkerd-values.yaml is Helm values, not objects). */
const MANIFESTS = readdirSync(new URL('deploy/kubernetes/', ROOT)).filter((f) => f.endsWith('.yaml') && f !== 'linkerd-values.yaml').sort();

describe('deploy/kubernetes', () => {
  it('has the manifests this test knows', () => {
    expect(MANIFESTS).toEqual(['jaeger.yaml', 'kafka.yaml', 'single-tier.yaml', 'two-tier.yaml']);
  });

  for (const file of MANIFESTS) {
    it(`${file}: every object is valid by the Kubernetes schemas (a KafkaTopic by Strimzi's CRD), every collector config by span-relay's, Jaeger's is peers/jaeger/config.yaml; configs listen on declared ports, Services reach them`, () => {
      const all = objects(file);
      expectValidObjects(all);
      expectListenPortsDeclared(all);
      expectServicesReachPods(all);
    });
  }

  it(`the KafkaTopic check is Strimzi ${STRIMZI_RELEASE}'s schema, read strictly: it rejects what the API server would`, () => {
    const topic = objects('kafka.yaml').find((o) => o.kind === 'KafkaTopic')!;
    expect(() => validateObject(topic)).not.toThrow();
    const bad = (change: (t: K8s & { spec: Record<string, unknown> }) => void): (() => void) => () => {
      const t = structuredClone(topic) as K8s & { spec: Record<string, unknown> };
      change(t);
      validateObject(t);
    };
    expect(bad((t) => (t.spec.partitions = 0))).toThrow(/partitions/);
    expect(bad((t) => (t.spec.partition = 12))).toThrow(/additional properties/);
    expect(bad((t) => (t.spec.replicas = '3'))).toThrow(/replicas/);
    // Strimzi 1.0 stopped serving v1beta2.
    expect(bad((t) => (t.apiVersion = 'kafka.strimzi.io/v1beta2'))).toThrow(/not served/);
    expect(bad((t) => (t.metadata.name = 'otlp_spans'))).toThrow(/DNS subdomain/);
    expect(bad((t) => (t.spec.topicName = 'otlp spans'))).toThrow(/topic name/);
  });

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
  });

  it('two-tier and kafka: the joiners export to the jaeger Service, on a port where Jaeger v2 receives their protocol; nothing else exports to it', () => {
    const jaeger = objects('jaeger.yaml');
    const toJaeger = MANIFESTS.flatMap((file) => exportsToJaeger(objects(file), jaeger).map((e) => ({ file, ...e })));
    expect(toJaeger).toEqual([
      { file: 'kafka.yaml', configMap: 'span-relay-joiner', exporter: 'otlp/jaeger', receiver: 'otlp/grpc' },
      { file: 'two-tier.yaml', configMap: 'span-relay-joiner', exporter: 'otlp/jaeger', receiver: 'otlp/grpc' },
    ]);
  });

  it('two-tier: the routers resolve the joiners\' headless Service; the Service tracers use selects the routers', () => {
    expectRingWiring(objects('two-tier.yaml'), 'span-relay');
  });

  it('kafka: routers and joiners name the Strimzi cluster\'s bootstrap Service and the KafkaTopic\'s topic, the joiners share a group, no more joiners than partitions', () => {
    expect(expectKafkaWiring(objects('kafka.yaml'), 'span-relay')).toEqual({
      topic: 'otlp_spans',
      partitions: 12,
      brokers: ['kafka-kafka-bootstrap.kafka.svc.cluster.local:9092'],
      groupId: 'span-relay',
      routerReplicas: 2,
      joinerReplicas: 3,
    });
  });

  it("linkerd-values: the proxies export to span-relay's Service and check its mesh identity, which every layout has", () => {
    const v = parse(readFileSync(new URL('deploy/kubernetes/linkerd-values.yaml', ROOT), 'utf8')) as LinkerdValues;
    for (const file of ['single-tier.yaml', 'two-tier.yaml', 'kafka.yaml']) expect(linkerdValuesFor(objects(file)), file).toEqual(v);
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
