/**
 * The Helm chart deploy/helm/span-relay, with helm built from its Go module (the `helm` peer):
 * `helm lint --strict` for each layout; `helm template` for each layout with the default values,
 * which renders the objects of deploy/kubernetes/ with only Helm's additions (DIFFERENCES below);
 * and with other values (release, namespace, replicas, image tag, topic, Jaeger elsewhere), whose
 * objects pass the checks deploy.test.ts makes of the plain manifests: the Kubernetes schemas, the
 * KafkaTopic by Strimzi's CRD, every collector config by span-relay's schema, the wiring between
 * tiers. NOTES.txt carries the Linkerd values for what was rendered.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { missingPeers, peer } from '../peers/peers.js';
import { JAEGER_CONFIG } from './helpers/jaeger-config.js';
import { podSpec, type K8s } from './helpers/kubernetes.js';
import { expectKafkaWiring, expectListenPortsDeclared, expectRingWiring, expectServicesReachPods, expectValidObjects, exportsToJaeger, linkerdValuesFor, type LinkerdValues } from './helpers/deploy-checks.js';

const ROOT = new URL('../', import.meta.url).pathname;
const CHART = `${ROOT}deploy/helm/span-relay`;
/** The layouts and the plain manifests each one's default rendering equals. */
const LAYOUTS = { 'single-tier': ['single-tier.yaml'], 'two-tier': ['jaeger.yaml', 'two-tier.yaml'], kafka: ['jaeger.yaml', 'kafka.yaml'] } as const;
type Layout = keyof typeof LAYOUTS;
/**
 * Rendered for a stated Kubernetes version: helm built from its module without its Makefile's
 * -X flags assumes v1.20. The templates use nothing that depends on it.
 */
const KUBE_VERSION = '1.33.0';

/**
 * What the chart adds to the plain manifests' objects: Helm's labels (app.kubernetes.io/instance
 * also in every selector, so two releases in a namespace do not select each other's pods), labels
 * on the objects the plain manifests leave unlabelled (ServiceAccount, ConfigMaps, Services), and a
 * checksum of the config on each pod template, so that a changed config rolls the pods.
 */
const HELM_LABELS = ['app.kubernetes.io/instance', 'helm.sh/chart', 'app.kubernetes.io/managed-by'];
const UNLABELLED_KINDS = ['ServiceAccount', 'ConfigMap', 'Service'];

describe.skipIf(missingPeers('helm'))('deploy/helm/span-relay', () => {
  // helm's own folders in a temporary one, and no cluster.
  let home = '';
  beforeAll(() => {
    home = mkdtempSync(join(tmpdir(), 'span-relay-helm-'));
  });
  afterAll(() => rmSync(home, { recursive: true, force: true }));
  const helm = (args: string[]): string =>
    execFileSync(join(peer('helm')!, 'helm'), args, {
      encoding: 'utf8',
      env: { ...process.env, HELM_CACHE_HOME: join(home, 'cache'), HELM_CONFIG_HOME: join(home, 'config'), HELM_DATA_HOME: join(home, 'data'), KUBECONFIG: join(home, 'kubeconfig') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  const sets = (values: Record<string, string | number | boolean>): string[] => Object.entries(values).flatMap(([k, v]) => ['--set', `${k}=${v}`]);
  const render = (values: Record<string, string | number | boolean>, release = 'span-relay', namespace = 'tracing', chart = CHART): K8s[] =>
    parseAllDocuments(helm(['template', release, chart, '--namespace', namespace, '--kube-version', KUBE_VERSION, ...sets(values)]))
      .map((d) => d.toJS() as K8s | null)
      .filter((o): o is K8s => o !== null);
  /** helm's error for values the chart refuses. */
  const refusal = (values: Record<string, string | number | boolean>): string => {
    try {
      render(values);
    } catch (err) {
      return String((err as { stderr?: string }).stderr);
    }
    return 'rendered';
  };
  const plain = (layout: Layout): K8s[] => LAYOUTS[layout].flatMap((f) => parseAllDocuments(readFileSync(`${ROOT}deploy/kubernetes/${f}`, 'utf8')).map((d) => d.toJS() as K8s));

  /**
   * NOTES.txt as helm renders it for these values. helm v3 renders the notes only on an install that
   * reaches a cluster (`--dry-run=client` still asks it), so the text goes through helm's template
   * engine in a copy of the chart, as a template of a ConfigMap shown alone.
   */
  const notes = (values: Record<string, string | number | boolean>, release = 'span-relay', namespace = 'tracing'): string => {
    const copy = join(mkdtempSync(join(home, 'chart-')), 'span-relay');
    cpSync(CHART, copy, { recursive: true });
    const text = readFileSync(join(copy, 'templates', 'NOTES.txt'), 'utf8');
    rmSync(join(copy, 'templates', 'NOTES.txt'));
    writeFileSync(join(copy, 'templates', 'notes-under-test.yaml'), `{{- define "notes-under-test" -}}\n${text}{{- end -}}\napiVersion: v1\nkind: ConfigMap\nmetadata: { name: notes }\ndata:\n  notes: {{ include "notes-under-test" . | toJson }}\n`);
    const out = parse(helm(['template', release, copy, '--namespace', namespace, '--kube-version', KUBE_VERSION, '--show-only', 'templates/notes-under-test.yaml', ...sets(values)])) as { data: { notes: string } };
    return out.data.notes;
  };
  /** The YAML block of Linkerd values in the notes. */
  const linkerdValuesIn = (text: string): LinkerdValues => parse(/^proxy:\n(?: {2}.*\n)+/m.exec(text)![0]) as LinkerdValues;

  it(`helm lint --strict passes for each layout (Kubernetes ${KUBE_VERSION}), and the values schema refuses an unknown layout`, () => {
    for (const layout of Object.keys(LAYOUTS)) expect(helm(['lint', CHART, '--strict', '--kube-version', KUBE_VERSION, '--set', `layout=${layout}`])).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    expect(refusal({ layout: 'three-tier' })).toMatch(/layout.*value must be one of 'single-tier', 'two-tier', 'kafka'/);
  });

  it('ships peers/jaeger/config.yaml as it is (files/jaeger-config.yaml: paste it in again after changing it)', () => {
    expect(readFileSync(`${CHART}/files/jaeger-config.yaml`, 'utf8')).toBe(JAEGER_CONFIG);
  });

  for (const layout of Object.keys(LAYOUTS) as Layout[]) {
    it(`${layout}, default values: the objects of ${LAYOUTS[layout].join(' + ')}, but for Helm's labels and the config checksum; they pass deploy.test.ts's checks`, () => {
      const all = render({ layout });
      expectValidObjects(all);
      expectListenPortsDeclared(all);
      expectServicesReachPods(all);
      // The config texts differ in comments only: compared as YAML.
      const comparable = (o: K8s): unknown => (o.kind === 'ConfigMap' ? { ...o, data: Object.fromEntries(Object.entries(o.data!).map(([k, v]) => [k, parse(v) as unknown])) } : o);
      const key = (o: K8s): string => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`;
      const byKey = (os: K8s[]): K8s[] => [...os].sort((a, b) => key(a).localeCompare(key(b)));
      expect(byKey(all.map(withoutHelmAdditions)).map(comparable)).toEqual(byKey(plain(layout)).map(comparable));
    });
  }

  it('kafka, other values: a release traces in observability, 4 routers, 6 joiners on 6 partitions, image tag 0.1.0 with a pull secret, a Strimzi cluster events in streaming; checks and wiring hold', () => {
    const values = { layout: 'kafka', 'router.replicas': 4, 'joiner.replicas': 6, 'image.tag': '0.1.0', 'imagePullSecrets[0].name': 'registry', 'kafka.topic.partitions': 6, 'kafka.topic.cluster': 'events', 'kafka.topic.namespace': 'streaming', 'kafka.groupId': 'joiners' };
    const all = render(values, 'traces', 'observability');
    expectValidObjects(all);
    expectListenPortsDeclared(all);
    expectServicesReachPods(all);
    expect(expectKafkaWiring(all, 'traces-span-relay')).toEqual({ topic: 'otlp_spans', partitions: 6, brokers: ['events-kafka-bootstrap.streaming.svc.cluster.local:9092'], groupId: 'joiners', routerReplicas: 4, joinerReplicas: 6 });
    const images = all.flatMap((o) => podSpec(o)?.containers.map((c) => c.image) ?? []);
    expect(images.filter((i) => i.startsWith('span-relay:'))).toEqual(['span-relay:0.1.0', 'span-relay:0.1.0']);
    for (const o of all.filter((x) => podSpec(x)?.containers.some((c) => c.image.startsWith('span-relay:')))) expect((o.spec!.template as { spec: { imagePullSecrets: unknown } }).spec.imagePullSecrets, o.metadata.name).toEqual([{ name: 'registry' }]);
    expect(exportsToJaeger(all, all)).toEqual([{ configMap: 'traces-span-relay-joiner', exporter: 'otlp/jaeger', receiver: 'otlp/grpc' }]);
    expect(all.find((o) => o.kind === 'KafkaTopic')!.metadata.namespace).toBe('streaming');
    expect(linkerdValuesIn(notes(values, 'traces', 'observability'))).toEqual(linkerdValuesFor(all));
  });

  it('kafka with a topic made elsewhere: kafka.topic.create=false renders no KafkaTopic, and routers and joiners use kafka.brokers', () => {
    const all = render({ layout: 'kafka', 'kafka.topic.create': false, 'kafka.brokers': '{b-0.kafka.example:9092,b-1.kafka.example:9092}' });
    expectValidObjects(all);
    expect(all.filter((o) => o.kind === 'KafkaTopic')).toEqual([]);
    const config = (name: string) => parse(all.find((o) => o.kind === 'ConfigMap' && o.metadata.name === name)!.data!['config.yaml']!) as { exporters: { kafka?: { brokers: string[] } }; receivers: { kafka?: { brokers: string[] } } };
    expect(config('span-relay-router').exporters.kafka!.brokers).toEqual(['b-0.kafka.example:9092', 'b-1.kafka.example:9092']);
    expect(config('span-relay-joiner').receivers.kafka!.brokers).toEqual(['b-0.kafka.example:9092', 'b-1.kafka.example:9092']);
  });

  it('kafka: refuses more joiners than partitions, and names the values', () => {
    expect(refusal({ layout: 'kafka', 'joiner.replicas': 13 })).toContain('joiner.replicas (13) > kafka.topic.partitions (12)');
  });

  it('two-tier, other values: a release named relay, 5 joiners; the routers resolve its joiners\' Service', () => {
    const all = render({ layout: 'two-tier', 'joiner.replicas': 5 }, 'relay', 'mesh-tracing');
    expectValidObjects(all);
    expectServicesReachPods(all);
    expectRingWiring(all, 'relay-span-relay');
    expect(all.find((o) => o.kind === 'StatefulSet')!.spec!.replicas).toBe(5);
    expect(linkerdValuesIn(notes({ layout: 'two-tier' }, 'relay', 'mesh-tracing'))).toEqual(linkerdValuesFor(all));
  });

  it('Jaeger optional: jaeger.enabled=false renders no Jaeger and needs jaeger.endpoint, where the joiners then export', () => {
    expect(refusal({ layout: 'kafka', 'jaeger.enabled': false })).toContain('jaeger.endpoint');
    const all = render({ layout: 'kafka', 'jaeger.enabled': false, 'jaeger.endpoint': 'otel-gateway.observability:4317' });
    expectValidObjects(all);
    expect(all.filter((o) => o.metadata.name === 'jaeger' || podSpec(o)?.containers.some((c) => c.image.startsWith('jaegertracing/')))).toEqual([]);
    const joiner = all.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'span-relay-joiner')!;
    expect((parse(joiner.data!['config.yaml']!) as { exporters: { 'otlp/jaeger': { endpoint: string } } }).exporters['otlp/jaeger'].endpoint).toBe('otel-gateway.observability:4317');
  });

  it('NOTES.txt gives Linkerd\'s values for each layout; with the default release they are deploy/kubernetes/linkerd-values.yaml', () => {
    const committed = parse(readFileSync(`${ROOT}deploy/kubernetes/linkerd-values.yaml`, 'utf8')) as LinkerdValues;
    for (const layout of Object.keys(LAYOUTS)) {
      const text = notes({ layout });
      expect(linkerdValuesIn(text), layout).toEqual(committed);
      expect(linkerdValuesIn(text), layout).toEqual(linkerdValuesFor(render({ layout })));
      expect(text).toContain('helm upgrade linkerd-control-plane linkerd/linkerd-control-plane -n linkerd --reuse-values -f linkerd-tracing.yaml');
    }
  });
});

/** A rendered object less what the chart adds to the plain manifests' (HELM_LABELS, UNLABELLED_KINDS). */
function withoutHelmAdditions(o: K8s): K8s {
  const copy = structuredClone(o);
  const strip = (labels: Record<string, string> | undefined): void => {
    for (const l of HELM_LABELS) delete labels?.[l];
  };
  if (UNLABELLED_KINDS.includes(copy.kind)) delete copy.metadata.labels;
  else strip(copy.metadata.labels);
  const spec = copy.spec as { selector?: Record<string, string> & { matchLabels?: Record<string, string> }; template?: { metadata: { labels: Record<string, string>; annotations: Record<string, string> } } } | undefined;
  if (copy.kind === 'Service') strip(spec?.selector);
  strip(spec?.selector?.matchLabels);
  if (spec?.template) {
    strip(spec.template.metadata.labels);
    delete spec.template.metadata.annotations['checksum/config'];
  }
  return copy;
}
