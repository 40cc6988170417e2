/**
 * Kubernetes objects as deploy/kubernetes/ and the Helm chart give them, validated without a cluster:
 * the built-in kinds by the Kubernetes schemas (kubernetes-models), Strimzi's KafkaTopic by the
 * openAPIV3Schema of Strimzi's own CRD (test/schemas/), read as the API server reads a custom
 * resource with strict field validation (kubectl's default): an unknown field is an error.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { Ajv, type ValidateFunction } from 'ajv';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { ConfigMap, Service, ServiceAccount } from 'kubernetes-models/v1';

export type K8s = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
};

export interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: { name: string; value?: string }[];
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: { httpGet?: { path: string; port: number | string } };
  livenessProbe?: { httpGet?: { path: string; port: number | string } };
  volumeMounts?: { name: string; mountPath: string }[];
}
export interface PodSpec { containers: Container[]; volumes?: { name: string; configMap?: { name: string } }[] }
export const podSpec = (o: K8s): PodSpec | undefined => (o.spec?.template as { spec?: PodSpec } | undefined)?.spec;
/** A port as a container or Service names it (number or port name) → the container's port number. */
export const portOf = (c: Container, port: number | string): number | undefined => (typeof port === 'number' ? c.ports?.find((p) => p.containerPort === port) : c.ports?.find((p) => p.name === port))?.containerPort;

/** The ConfigMaps a set of objects' workloads mount, each with the image of the container that mounts it. */
export function configMapImages(all: K8s[]): Map<string, string> {
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

type Schema = { type?: string; properties?: Record<string, Schema>; items?: Schema; additionalProperties?: boolean; 'x-kubernetes-preserve-unknown-fields'?: boolean };
interface Crd {
  spec: { group: string; names: { kind: string }; versions: { name: string; served: boolean; schema: { openAPIV3Schema: Schema } }[] };
}

const STRIMZI_CRD_TEXT = readFileSync(new URL('../schemas/strimzi-kafkatopic-crd.yaml', import.meta.url), 'utf8');
/** The Strimzi release the CRD file was taken from (its header names it). */
export const STRIMZI_RELEASE = /at tag (\S+)/.exec(STRIMZI_CRD_TEXT)![1]!;
const strimziCrd = parse(STRIMZI_CRD_TEXT) as Crd;

/** A structural schema as the API server applies it with strict field validation: fields it does not declare are errors. */
function strictFields(s: Schema): Schema {
  const out: Schema = { ...s };
  if (s.properties) {
    out.properties = Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, strictFields(v)]));
    if (!s['x-kubernetes-preserve-unknown-fields']) out.additionalProperties = false;
  }
  if (s.items) out.items = strictFields(s.items);
  return out;
}

const ajv = new Ajv({ allErrors: true, strict: true });
ajv.addKeyword({ keyword: 'x-kubernetes-preserve-unknown-fields', schemaType: 'boolean' });
/** One validator per version the CRD serves. */
const strimziValidators = new Map<string, ValidateFunction>(strimziCrd.spec.versions.filter((v) => v.served).map((v) => [`${strimziCrd.spec.group}/${v.name}`, ajv.compile(strictFields(v.schema.openAPIV3Schema))]));

// RFC 1123 subdomain (most names) and RFC 1035 label (Service names), as the API server checks them.
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^(?=.{1,63}$)[a-z]([-a-z0-9]*[a-z0-9])?$/;

const MODELS: Record<string, new (o: never) => { validate(): void }> = { Deployment, StatefulSet, Service, ConfigMap, ServiceAccount };
/** The kinds `validateObject` knows. */
export const KINDS = [...Object.keys(MODELS), strimziCrd.spec.names.kind];

/** Throws, naming the object and what is wrong, unless `o` is valid by its kind's schema. */
export function validateObject(o: K8s): void {
  const at = `${o.kind}/${o.metadata?.name}`;
  if (!DNS_SUBDOMAIN.test(o.metadata?.name ?? '')) throw new Error(`${at}: metadata.name is not a DNS subdomain (lower case, digits, '-', '.')`);
  if (o.kind === 'Service' && !DNS_LABEL.test(o.metadata.name)) throw new Error(`${at}: a Service's name is a DNS label (a letter first, no '.', at most 63)`);
  const Model = MODELS[o.kind];
  if (Model) return new Model(o as never).validate();
  if (o.kind !== strimziCrd.spec.names.kind) throw new Error(`${at}: not a kind this test knows (${KINDS.join(', ')})`);
  const validate = strimziValidators.get(o.apiVersion);
  if (!validate) throw new Error(`${at}: ${o.apiVersion} is not served by Strimzi ${STRIMZI_RELEASE} (it serves ${[...strimziValidators.keys()].join(', ')})`);
  // The CRD leaves metadata to the API server: ObjectMeta is the same in every kind.
  new ConfigMap({ metadata: o.metadata }).validate();
  if (!validate(o)) throw new Error(`${at}: ${ajv.errorsText(validate.errors)}`);
  if (!/^[a-zA-Z0-9._-]{1,249}$/.test(kafkaTopicName(o))) throw new Error(`${at}: ${kafkaTopicName(o)} is not a Kafka topic name`);
}

/** The topic a Strimzi KafkaTopic makes: spec.topicName, else its metadata.name. */
export function kafkaTopicName(o: K8s): string {
  return (o.spec?.topicName as string | undefined) ?? o.metadata.name;
}
