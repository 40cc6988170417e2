/**
 * The demo's topology, described once. `npm run demo` runs it as local processes; docker-compose.yml
 * is generated from it (and a test checks the committed file is what this generates), so the two
 * cannot drift. Each app runs beside its linkerd-proxy stand-in; apps reach other services through
 * their sidecar's outbound ports, as iptables would send them in a cluster.
 */
import { stringify } from 'yaml';

export interface TopologyOptions {
  mode: 'local' | 'compose';
  /** Local ports are base + offset; compose uses the same numbers inside each container. */
  portBase: number;
  /** How the sidecars export spans, as LINKERD2_PROXY_TRACE_PROTOCOL. */
  proxyProtocol: 'opencensus' | 'otlp';
  ingress128: boolean;
  votingDelayMs: number;
  votes: { rate: number; count: number };
  /** The collector on its standard ports (Zipkin 9411, OpenCensus 55678, OTLP 4317/4318, admin 8888), or base + offset (tests). */
  collectorPorts: 'standard' | 'offset';
}

export interface Proc {
  name: string;
  /** argv without the node binary. */
  args: string[];
  env: Record<string, string>;
  /** compose: share this service's network namespace (a pod). */
  pod?: string;
  publish?: number[];
  dependsOn: string[];
  /** Started last, not waited for. */
  driver?: boolean;
}

export const DEFAULTS: TopologyOptions = { mode: 'local', portBase: 7000, proxyProtocol: 'opencensus', ingress128: false, votingDelayMs: 0, votes: { rate: 2, count: 0 }, collectorPorts: 'standard' };

const KIT = './instrumentation/dist/register.js';
const TSX = ['--import', 'tsx'];

export function ports(base: number, collectorPorts: TopologyOptions['collectorPorts'] = 'offset') {
  const standard = collectorPorts === 'standard';
  return {
    ingress: base,
    web: base + 1,
    emoji: base + 2,
    voting: base + 3,
    webIn: base + 11,
    emojiIn: base + 12,
    votingIn: base + 13,
    webToEmoji: base + 21,
    webToVoting: base + 22,
    zipkin: standard ? 9411 : base + 31,
    opencensus: standard ? 55678 : base + 32,
    otlpGrpc: standard ? 4317 : base + 33,
    otlpHttp: standard ? 4318 : base + 34,
    admin: standard ? 8888 : base + 35,
    query: standard ? 16686 : base + 36,
  };
}

export function topology(o: TopologyOptions): Proc[] {
  const p = ports(o.portBase, o.collectorPorts);
  const local = o.mode === 'local';
  // Where each pod is reached from another pod, and what a process binds.
  const host = (pod: string) => (local ? '127.0.0.1' : pod);
  const bind = local ? '127.0.0.1' : '0.0.0.0';
  const collector = host('collector');
  const trace = o.proxyProtocol === 'otlp' ? { protocol: 'otlp', endpoint: `http://${collector}:${p.otlpHttp}` } : { protocol: 'opencensus', endpoint: `${collector}:${p.opencensus}` };
  const app = (name: string, service: string, script: string, env: Record<string, string>): Proc => ({
    name,
    args: ['--require', KIT, `demo/services/${script}`],
    // Traced the way emojivoto is: the kit preloaded, OpenCensus to OC_AGENT_HOST.
    env: { OTEL_SERVICE_NAME: service, OC_AGENT_HOST: `${collector}:${p.opencensus}`, POD_NAME: `${name}-pod`, POD_NAMESPACE: 'emojivoto', OTEL_BSP_SCHEDULE_DELAY: '200', ...env },
    dependsOn: ['collector'],
  });
  const sidecar = (pod: string, inbound: object, outbound: object[]): Proc => ({
    name: `${pod}-proxy`,
    args: [...TSX, 'demo/src/sidecar.ts'],
    env: { SIDECAR_CONFIG: JSON.stringify({ pod: `${pod}-pod`, namespace: 'emojivoto', bind, inbound, outbound, trace }) },
    pod,
    dependsOn: [pod, 'collector'],
  });
  return [
    {
      name: 'collector',
      // The environment and node flags the span-relay command starts node with (its #! line; test/deploy.test.ts keeps them the same).
      args: ['--max-semi-space-size=8', 'collector/bin/span-relay.js', 'run', '--config', local ? 'demo/collector.local.yaml' : 'demo/collector.compose.yaml'],
      env: { MALLOC_ARENA_MAX: '4', SPAN_RELAY_BIND: bind, ZIPKIN_PORT: `${p.zipkin}`, OC_PORT: `${p.opencensus}`, OTLP_GRPC_PORT: `${p.otlpGrpc}`, OTLP_HTTP_PORT: `${p.otlpHttp}`, ADMIN_PORT: `${p.admin}`, QUERY_PORT: `${p.query}` },
      publish: local ? [] : [p.admin],
      dependsOn: local ? [] : ['jaeger'],
    },
    app('emoji', 'emoji-svc', 'emoji-svc.cjs', { GRPC_PORT: `${p.emoji}` }),
    sidecar('emoji', { port: p.emojiIn, target: `127.0.0.1:${p.emoji}`, authority: 'emoji-svc.emojivoto.svc.cluster.local:8080', protocol: 'h2' }, []),
    app('voting', 'voting-svc', 'voting-svc.cjs', { GRPC_PORT: `${p.voting}`, VOTING_DELAY_MS: `${o.votingDelayMs}` }),
    sidecar('voting', { port: p.votingIn, target: `127.0.0.1:${p.voting}`, authority: 'voting-svc.emojivoto.svc.cluster.local:8080', protocol: 'h2' }, []),
    app('web', 'web', 'web.cjs', { WEB_PORT: `${p.web}`, EMOJISVC_HOST: `127.0.0.1:${p.webToEmoji}`, VOTINGSVC_HOST: `127.0.0.1:${p.webToVoting}` }),
    sidecar('web', { port: p.webIn, target: `127.0.0.1:${p.web}`, authority: 'web-svc.emojivoto.svc.cluster.local:80', protocol: 'http1' }, [
      { port: p.webToEmoji, target: `${host('emoji')}:${p.emojiIn}`, authority: 'emoji-svc.emojivoto.svc.cluster.local:8080', protocol: 'h2' },
      { port: p.webToVoting, target: `${host('voting')}:${p.votingIn}`, authority: 'voting-svc.emojivoto.svc.cluster.local:8080', protocol: 'h2', profile: 'demo/profiles/voting-svc.yaml' },
    ]),
    {
      name: 'ingress',
      args: [...TSX, 'demo/src/ingress.ts'],
      env: { INGRESS_CONFIG: JSON.stringify({ port: p.ingress, bind, upstream: `${host('web')}:${p.webIn}`, zipkin: `http://${collector}:${p.zipkin}`, serviceName: 'nginx', traceId128: o.ingress128 }) },
      publish: local ? [] : [p.ingress],
      dependsOn: ['web-proxy', 'collector'],
    },
    {
      name: 'vote-bot',
      args: ['demo/services/vote-bot.cjs'],
      env: { WEB_HOST: `${host('ingress')}:${p.ingress}`, VOTE_RATE: `${o.votes.rate}`, VOTE_COUNT: `${o.votes.count}` },
      dependsOn: ['ingress'],
      driver: true,
    },
  ];
}

/** The Kafka of the compose `kafka` profile: the version of the peer the tests run (peers/kafka). */
export const KAFKA_IMAGE = 'apache/kafka:4.4.0';
/**
 * One KRaft node, broker and controller, as the peer runs (peers/kafka/start.ts), in the image's
 * convention: each KAFKA_* variable is a server property (upper case, '.' as '_'); what is not set
 * takes the image's default (its cluster ID, logs in /tmp/kraft-combined-logs, PLAINTEXT between
 * brokers). Other containers reach it as kafka:9092.
 */
const KAFKA_ENV = {
  KAFKA_NODE_ID: '1',
  KAFKA_PROCESS_ROLES: 'broker,controller',
  KAFKA_CONTROLLER_QUORUM_VOTERS: '1@kafka:9093',
  KAFKA_LISTENERS: 'PLAINTEXT://:9092,CONTROLLER://:9093',
  KAFKA_ADVERTISED_LISTENERS: 'PLAINTEXT://kafka:9092',
  KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
  KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
  KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
  KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
  KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
  KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR: '1',
  KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR: '1',
  KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
};

/** docker-compose.yml: the same processes, one image, pods as shared network namespaces, plus Jaeger. */
export function composeFile(o: TopologyOptions = { ...DEFAULTS, mode: 'compose' }): string {
  const services: Record<string, object> = {
    // Jaeger v2 as span-relay's tests run it: peers/jaeger/config.yaml, on every interface of its container.
    jaeger: {
      image: 'jaegertracing/jaeger:2.12.0',
      command: ['--config', '/etc/jaeger/config.yaml'],
      environment: { JAEGER_LISTEN_HOST: '0.0.0.0' },
      volumes: ['./peers/jaeger/config.yaml:/etc/jaeger/config.yaml:ro'],
      ports: ['16686:16686'],
      healthcheck: { test: ['CMD', 'wget', '-q', '-O', '/dev/null', 'http://localhost:13133/status'], interval: '5s', timeout: '2s', retries: 12 },
    },
  };
  for (const proc of topology({ ...o, mode: 'compose' })) {
    services[proc.name] = {
      image: 'span-relay-demo',
      ...(proc.name === 'collector' ? { build: { context: '.', dockerfile: 'demo/Dockerfile' } } : {}),
      command: ['node', ...proc.args],
      environment: proc.env,
      ...(proc.pod ? { network_mode: `service:${proc.pod}` } : {}),
      ...(proc.publish?.length ? { ports: proc.publish.map((n) => `${n}:${n}`) } : {}),
      ...(proc.dependsOn.length ? { depends_on: proc.dependsOn } : {}),
    };
  }
  // span-relay from the collector's own image, in a profile; the profile's router builds the image.
  const relay = (profile: string, name: string, config: string, extra: object = {}) => {
    services[name] = {
      image: 'span-relay',
      ...(name.endsWith('-router') ? { build: { context: '.', dockerfile: 'Dockerfile' } } : {}),
      profiles: [profile],
      command: ['run', '--config', '/etc/span-relay/config.yaml'],
      volumes: [`./deploy/compose/${config}:/etc/span-relay/config.yaml:ro`],
      ...extra,
    };
  };
  // `docker compose --profile scale up`: two joiners behind a router.
  relay('scale', 'relay-router', 'router.yaml', { ports: ['14317:4317', '19411:9411'], depends_on: ['relay-joiner-0', 'relay-joiner-1'] });
  relay('scale', 'relay-joiner-0', 'joiner.yaml', { depends_on: ['jaeger'] });
  relay('scale', 'relay-joiner-1', 'joiner.yaml', { depends_on: ['jaeger'] });
  // `docker compose --profile kafka up`: a router → the topic otlp_spans on one KRaft broker → two
  // joiners in one consumer group. The topic is made before either side starts, with more
  // partitions than joiners (a joiner beyond the partition count would idle).
  services.kafka = {
    image: KAFKA_IMAGE,
    profiles: ['kafka'],
    environment: KAFKA_ENV,
    healthcheck: { test: ['CMD', '/opt/kafka/bin/kafka-broker-api-versions.sh', '--bootstrap-server', 'localhost:9092'], interval: '5s', timeout: '10s', retries: 24 },
  };
  services['kafka-topic'] = {
    image: KAFKA_IMAGE,
    profiles: ['kafka'],
    command: ['/opt/kafka/bin/kafka-topics.sh', '--bootstrap-server', 'kafka:9092', '--create', '--if-not-exists', '--topic', 'otlp_spans', '--partitions', '4', '--replication-factor', '1'],
    depends_on: { kafka: { condition: 'service_healthy' } },
  };
  // A new object each time: a shared one would come out as a YAML anchor and alias.
  const after = (...also: string[]) => Object.fromEntries([['kafka-topic', { condition: 'service_completed_successfully' }], ...also.map((s) => [s, { condition: 'service_started' }])]);
  relay('kafka', 'kafka-router', 'kafka-router.yaml', { ports: ['24317:4317', '29411:9411'], depends_on: after() });
  relay('kafka', 'kafka-joiner-0', 'kafka-joiner.yaml', { depends_on: after('jaeger') });
  relay('kafka', 'kafka-joiner-1', 'kafka-joiner.yaml', { depends_on: after('jaeger') });
  return `# Generated from demo/src/topology.ts by \`npm run demo -- --compose\`: edit the topology, not this file.\n${stringify({ services }, { lineWidth: 0 })}`;
}
