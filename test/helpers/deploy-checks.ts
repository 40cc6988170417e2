/**
 * What a span-relay layout must hold, whether its objects come from deploy/kubernetes/ or from the
^ * Helm chart: valid objects, valid collector configs, ports declared where configs listen, and the
 * wiring between tiers (routers → joiners, routers → topic → joiners, joiners → Jaeger v2).
 */
import { expect } from 'vitest';
import { parseConfig, type CollectorConfig } from '../../collector/src/config/load.js';
import { builtinComponents } from '../../collector/src/components.js';
import { JAEGER_CONFIG, JAEGER_IMAGE, JAEGER_RECEIVER_FOR, jaegerListens } from './jaeger-config.js';
import { configMapImages, kafkaTopicName, podSpec, portOf, validateObject, type Container, type K8s } from './kubernetes.js';

/** The port of a host:port. */
export const portNumber = (hostPort: string): number => Number(hostPort.split(':').at(-1));
const isSpanRelay = (image: string | undefined): boolean => /(^|\/)span-relay:/.test(image ?? '');

/** Every object valid by its schema; every ConfigMap a span-relay container mounts a valid config, Jaeger's peers/jaeger/config.yaml. */
export function expectValidObjects(all: K8s[]): void {
  const mounted = configMapImages(all);
  for (const o of all) {
    expect(() => validateObject(o), `${o.kind}/${o.metadata.name}`).not.toThrow();
    if (o.kind !== 'ConfigMap') continue;
    const image = mounted.get(o.metadata.name);
    if (image === JAEGER_IMAGE) expect(o.data!['config.yaml'], `${o.metadata.name} is peers/jaeger/config.yaml, as it is (paste it in again)`).toBe(JAEGER_CONFIG);
    else if (isSpanRelay(image)) expect(() => parseConfig(o.data!['config.yaml']!, builtinComponents, {}), `${o.metadata.name}`).not.toThrow();
    else expect.fail(`ConfigMap/${o.metadata.name} is mounted by ${image ?? 'nothing'}`);
  }
}

/** Each workload that runs span-relay: the object, its container, and the config it mounts, parsed. */
export function collectors(all: K8s[]): { workload: K8s; configMap: string; container: Container; config: CollectorConfig }[] {
  const out: { workload: K8s; configMap: string; container: Container; config: CollectorConfig }[] = [];
  for (const workload of all) {
    const spec = podSpec(workload);
    for (const container of spec?.containers.filter((c) => isSpanRelay(c.image)) ?? []) {
      const configMap = spec!.volumes!.find((v) => container.volumeMounts?.some((m) => m.name === v.name) && v.configMap)!.configMap!.name;
      const cm = all.find((o) => o.kind === 'ConfigMap' && o.metadata.name === configMap)!;
      out.push({ workload, configMap, container, config: parseConfig(cm.data!['config.yaml']!, builtinComponents, {}) });
    }
  }
  return out;
}

/** Every address a config's receivers and its admin endpoint listen on is a port its container declares, and the probes ask the admin port. */
export function expectListenPortsDeclared(all: K8s[]): void {
  for (const { workload, container, config } of collectors(all)) {
    const at = `${workload.kind}/${workload.metadata.name}`;
    const endpoints: string[] = [];
    const walk = (v: unknown): void => {
      for (const [k, x] of Object.entries(v && typeof v === 'object' ? v : {})) if (k === 'endpoint' && typeof x === 'string') endpoints.push(x); else walk(x);
    };
    for (const r of config.receivers.values()) walk(r.config);
    for (const e of endpoints) expect(portOf(container, portNumber(e)), `${at} listens on ${e}`).toBeDefined();
    const admin = portNumber(config.telemetry.metricsAddress);
    for (const probe of [container.readinessProbe, container.livenessProbe]) expect(portOf(container, probe!.httpGet!.port), `${at}'s probe`).toBe(admin);
  }
}

/** The Services in `all` select pods of its workloads, and every port a Service forwards to is one their containers declare. */
export function expectServicesReachPods(all: K8s[]): void {
  for (const svc of all.filter((o) => o.kind === 'Service')) {
    const selector = svc.spec!.selector as Record<string, string>;
    const pods = all.filter((o) => {
      const labels = (o.spec?.template as { metadata?: { labels?: Record<string, string> } } | undefined)?.metadata?.labels ?? {};
      return podSpec(o) && Object.entries(selector).every(([k, v]) => labels[k] === v);
    });
    expect(pods.length, `Service/${svc.metadata.name} selects a workload`).toBeGreaterThan(0);
    for (const p of svc.spec!.ports as { name: string; targetPort: number | string }[]) {
      for (const w of pods) expect(podSpec(w)!.containers.some((c) => portOf(c, p.targetPort) !== undefined), `Service/${svc.metadata.name} port ${p.name} on ${w.metadata.name}`).toBe(true);
    }
  }
}

/**
 * Each exporter of a span-relay config in `all` that sends to a Jaeger Service of `jaegerObjects`
 * (by its cluster DNS name): the ConfigMap, the exporter, and the Jaeger v2 receiver at that port
 * when it is the one that speaks the exporter's protocol.
 */
export function exportsToJaeger(all: K8s[], jaegerObjects: K8s[]): { configMap: string; exporter: string; receiver?: string }[] {
  const jaeger = jaegerObjects.flatMap((o) => podSpec(o)?.containers ?? []).find((c) => c.image === JAEGER_IMAGE);
  if (!jaeger) return [];
  const listens = jaegerListens(Object.fromEntries(jaeger.env!.map((e) => [e.name, e.value!])));
  const out: { configMap: string; exporter: string; receiver?: string }[] = [];
  const seen = new Set<string>();
  for (const { configMap, config } of collectors(all)) {
    if (seen.has(configMap)) continue;
    seen.add(configMap);
    for (const [id, e] of config.exporters) {
      const m = /^(?:https?:\/\/)?([^.:/]+)\.([^.:/]+)\.svc\.cluster\.local:(\d+)/.exec((e.config as { endpoint?: string }).endpoint ?? '');
      const svc = m && jaegerObjects.find((o) => o.kind === 'Service' && o.metadata.name === m[1] && o.metadata.namespace === m[2]);
      if (!svc) continue;
      const target = (svc.spec!.ports as { port: number; targetPort: number | string }[]).find((p) => p.port === Number(m[3]))?.targetPort;
      const port = target === undefined ? undefined : portOf(jaeger, target);
      const receiver = [...listens].find(([, at]) => portNumber(at) === port)?.[0];
      out.push({ configMap, exporter: id, ...(receiver === JAEGER_RECEIVER_FOR[e.type] ? { receiver } : {}) });
    }
  }
  return out;
}

/** Two tiers through a ring: the routers' loadbalancing exporter resolves the joiners' headless Service; the front Service selects the routers. */
export function expectRingWiring(all: K8s[], front: string): void {
  const withExporter = (type: string) => collectors(all).filter((c) => [...c.config.exporters.values()].some((e) => e.type === type));
  const routers = withExporter('loadbalancing');
  expect(routers.length, 'a router workload').toBe(1);
  const lb = [...routers[0]!.config.exporters.values()].find((e) => e.type === 'loadbalancing')!.config as { resolver: { dns: { hostname: string; port: number } } };
  const joinerSvc = all.find((o) => o.kind === 'Service' && `${o.metadata.name}.${o.metadata.namespace}.svc.cluster.local` === lb.resolver.dns.hostname);
  expect(joinerSvc, `the Service ${lb.resolver.dns.hostname}`).toBeDefined();
  expect(joinerSvc!.spec!.clusterIP).toBe('None');
  const joiners = all.find((o) => o.kind === 'StatefulSet' && o.spec!.serviceName === joinerSvc!.metadata.name)!;
  expect(joiners, 'the joiners\' StatefulSet').toBeDefined();
  expect(collectors([joiners, ...all.filter((o) => o.kind === 'ConfigMap')])[0]!.config.receivers.has('otlp')).toBe(true);
  expect(frontSelects(all, front)).toBe(routers[0]!.workload);
}

/** The workload the Service tracers send to (`front`) selects. */
function frontSelects(all: K8s[], front: string): K8s | undefined {
  const svc = all.find((o) => o.kind === 'Service' && o.metadata.name === front)!;
  const selector = svc.spec!.selector as Record<string, string>;
  return all.find((o) => podSpec(o) && Object.entries(selector).every(([k, v]) => (o.spec!.template as { metadata: { labels: Record<string, string> } }).metadata.labels[k] === v));
}

export interface KafkaWiring {
  topic: string;
  partitions: number;
  brokers: string[];
  groupId: string;
  routerReplicas: number;
  joinerReplicas: number;
}

/**
 * Routers → a topic → joiners: the Service tracers send to selects the routers; the routers' kafka
 * exporter and the joiners' kafka receiver name the same brokers (the Strimzi cluster's bootstrap
 * Service) and the KafkaTopic's topic; the joiners share one group; there are no more joiners than
 * partitions; the topic takes the routers' largest message and still takes writes with one replica down.
 */
export function expectKafkaWiring(all: K8s[], front: string): KafkaWiring {
  const topics = all.filter((o) => o.kind === 'KafkaTopic');
  expect(topics.length, 'one KafkaTopic').toBe(1);
  const kt = topics[0]!;
  const spec = kt.spec as { partitions: number; replicas: number; config: Record<string, number | string> };
  const cluster = kt.metadata.labels!['strimzi.io/cluster']!;
  const bootstrap = [`${cluster}-kafka-bootstrap.${kt.metadata.namespace}.svc.cluster.local:9092`];
  const all_ = collectors(all);
  const producers = all_.flatMap((c) => [...c.config.exporters.values()].filter((e) => e.type === 'kafka').map((e) => ({ ...c, e: e.config as { brokers: string[]; traces: { topic: string }; partition_traces_by_id: boolean; producer: { max_message_bytes: number; required_acks: number } } })));
  const consumers = all_.flatMap((c) => [...c.config.receivers.values()].filter((r) => r.type === 'kafka').map((r) => ({ ...c, r: r.config as { brokers: string[]; traces: { topics: string[] }; group_id: string } })));
  expect(producers.length, 'one router workload with a kafka exporter').toBe(1);
  expect(consumers.length, 'one joiner workload with a kafka receiver').toBe(1);
  const [router, joiner] = [producers[0]!, consumers[0]!];
  expect(frontSelects(all, front)).toBe(router.workload);
  expect(router.e.brokers).toEqual(bootstrap);
  expect(joiner.r.brokers).toEqual(bootstrap);
  expect(router.e.traces.topic).toBe(kafkaTopicName(kt));
  expect(joiner.r.traces.topics).toEqual([kafkaTopicName(kt)]);
  expect(router.e.partition_traces_by_id).toBe(true);
  expect(router.e.producer.required_acks).toBe(-1);
  // Every joiner pod mounts the one ConfigMap, so one group: each partition has one reader.
  expect(joiner.workload.kind).toBe('StatefulSet');
  const joinerReplicas = joiner.workload.spec!.replicas as number;
  expect(joinerReplicas, 'joiners ≤ partitions: a joiner beyond them idles').toBeLessThanOrEqual(spec.partitions);
  expect(Number(spec.config['max.message.bytes'])).toBeGreaterThanOrEqual(router.e.producer.max_message_bytes);
  // With acks -1 a write needs min.insync.replicas copies: more than there are fails every write;
  // from 3 replicas, 2 copies before the acknowledgement and writes go on with one broker down.
  const minIsr = Number(spec.config['min.insync.replicas']);
  expect(minIsr).toBeLessThanOrEqual(spec.replicas);
  if (spec.replicas >= 3) expect([minIsr >= 2, minIsr < spec.replicas]).toEqual([true, true]);
  expect(joiner.r.group_id).toMatch(/.+/);
  return { topic: kafkaTopicName(kt), partitions: spec.partitions, brokers: bootstrap, groupId: joiner.r.group_id, routerReplicas: router.workload.spec!.replicas as number, joinerReplicas };
}

export type LinkerdValues = { proxy: { tracing: { enable: boolean; collector: { endpoint: string; meshIdentity: { serviceAccountName: string; namespace: string } } } } };

/**
 * The linkerd-control-plane values that send every proxy's spans to a layout: the OTLP gRPC port of
 * the Service tracers send to (the one in front of span-relay pods that is not headless), checked as
 * the identity of the pods behind it.
 */
export function linkerdValuesFor(all: K8s[]): LinkerdValues {
  const runsSpanRelay = new Set(collectors(all).map((c) => c.workload));
  const fronts = all.filter((o) => o.kind === 'Service' && o.spec!.clusterIP !== 'None' && runsSpanRelay.has(frontSelects(all, o.metadata.name) ?? o));
  expect(fronts.map((s) => s.metadata.name), 'one Service in front').toHaveLength(1);
  const svc = fronts[0]!;
  const pods = frontSelects(all, svc.metadata.name)!;
  const port = (svc.spec!.ports as { name: string; port: number }[]).find((p) => p.name === 'otlp-grpc')!.port;
  return {
    proxy: {
      tracing: {
        enable: true,
        collector: {
          endpoint: `${svc.metadata.name}.${svc.metadata.namespace}.svc.cluster.local:${port}`,
          meshIdentity: { serviceAccountName: (pods.spec!.template as { spec: { serviceAccountName: string } }).spec.serviceAccountName, namespace: svc.metadata.namespace! },
        },
      },
    },
  };
}
