import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import type { Attributes } from '@opentelemetry/api';

/** `web-6d5b7b8c9-x2x2x` (a Deployment's pod) → `web`; `db-0` (a StatefulSet's) → `db`. */
export function workloadFromPodName(pod: string): string {
  const deployment = /^(.+)-[a-z0-9]{5,10}-[a-z0-9]{5}$/.exec(pod);
  if (deployment) return deployment[1]!;
  const statefulset = /^(.+)-\d+$/.exec(pod);
  if (statefulset) return statefulset[1]!;
  return pod;
}

function packageName(start: string): string | undefined {
  for (let dir = start; ; dir = dirname(dir)) {
    const p = join(dir, 'package.json');
    if (existsSync(p)) {
      try {
        const name = (JSON.parse(readFileSync(p, 'utf8')) as { name?: unknown }).name;
        if (typeof name === 'string' && name) return name;
      } catch {
        // an unreadable package.json says nothing about the service
      }
    }
    if (dirname(dir) === dir) return undefined;
  }
}

function resourceAttributesEnv(value: string | undefined): Attributes {
  const out: Attributes = {};
  for (const pair of (value ?? '').split(',')) {
    const i = pair.indexOf('=');
    if (i > 0) out[decodeURIComponent(pair.slice(0, i).trim())] = decodeURIComponent(pair.slice(i + 1).trim());
  }
  return out;
}

/**
 * service.name: OTEL_SERVICE_NAME, else OTEL_RESOURCE_ATTRIBUTES, else the Kubernetes workload
 * (downward-API pod name, or HOSTNAME inside a cluster), else the app's package.json name.
 */
export function detectResource(env: NodeJS.ProcessEnv, appDir: string): Attributes {
  const attrs: Attributes = resourceAttributesEnv(env.OTEL_RESOURCE_ATTRIBUTES);
  const inCluster = env.KUBERNETES_SERVICE_HOST !== undefined;
  const pod = env.POD_NAME ?? env.K8S_POD_NAME ?? (inCluster ? env.HOSTNAME : undefined);
  const namespace = env.POD_NAMESPACE ?? env.K8S_NAMESPACE ?? env.K8S_NAMESPACE_NAME;
  const node = env.NODE_NAME ?? env.K8S_NODE_NAME;
  const deployment = env.K8S_DEPLOYMENT_NAME ?? env.DEPLOYMENT_NAME;
  if (pod) attrs['k8s.pod.name'] = pod;
  if (namespace) attrs['k8s.namespace.name'] = namespace;
  if (node) attrs['k8s.node.name'] = node;
  if (deployment) attrs['k8s.deployment.name'] = deployment;
  attrs['host.name'] ??= hostname();
  attrs['process.pid'] = process.pid;
  attrs['process.runtime.name'] = 'nodejs';
  attrs['process.runtime.version'] = process.versions.node;
  attrs['telemetry.sdk.language'] = 'nodejs';
  const service = env.OTEL_SERVICE_NAME || (attrs['service.name'] as string | undefined) || deployment || (pod ? workloadFromPodName(pod) : undefined) || packageName(appDir) || 'unknown_service:node';
  attrs['service.name'] = service;
  return attrs;
}
