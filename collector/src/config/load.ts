import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import type { ComponentKind } from '../component.js';
import type { Components } from '../components.js';
import { typesOf } from '../components.js';
import { ConfigError } from '../model/errors.js';
import { duration, endpoint, section, serverTlsSettings, type ServerTlsSettings } from './schema-helpers.js';

/**
 * A config is parsed once: zod's JIT (a parser compiled per object schema with new Function at its
 * first parse) pays back only over many parses, and cost ~10 ms of every start.
 */
const PARSE = { jitless: true } as const;

const KIND_KEYS = { receiver: 'receivers', processor: 'processors', exporter: 'exporters', extension: 'extensions' } as const;

const componentMap = z.preprocess((v) => v ?? {}, z.record(z.string(), z.unknown()));
const idList = z.array(z.string().min(1));

const topSchema = z.strictObject({
  receivers: componentMap,
  processors: componentMap,
  exporters: componentMap,
  extensions: componentMap,
  connectors: z.unknown().optional(),
  service: z.strictObject({
    extensions: idList.default([]),
    /** SIGTERM: stop accepting, drain, and exit within this; spans still undelivered then are reported. */
    shutdown_timeout: duration('30s'),
    pipelines: z.record(
      z.string(),
      z.strictObject({ receivers: idList.min(1), processors: idList.default([]), exporters: idList.min(1) }),
    ),
    telemetry: section(
      z.strictObject({
        logs: section(z.strictObject({ level: z.enum(['debug', 'info', 'warn', 'error']).default('info') }).loose()),
        metrics: section(z.strictObject({ address: endpoint('0.0.0.0:8888'), level: z.string().optional(), tls: serverTlsSettings.optional() }).loose()),
      }).loose(),
    ),
  }),
});

export interface ComponentConfig {
  id: string;
  type: string;
  kind: ComponentKind;
  config: unknown;
}

export interface CollectorConfig {
  receivers: Map<string, ComponentConfig>;
  processors: Map<string, ComponentConfig>;
  exporters: Map<string, ComponentConfig>;
  extensions: ComponentConfig[];
  pipelines: { name: string; receivers: string[]; processors: string[]; exporters: string[] }[];
  telemetry: { logLevel: string; metricsAddress: string; metricsTls?: ServerTlsSettings | undefined };
  shutdownTimeoutMs: number;
}

/**
 * `${env:NAME}`, `${NAME}` and `${env:NAME:-default}` in string values; `$$` is a literal `$`.
 * An address whose host an unset variable left empty (`${env:HOST}:4317` → `:4317`) would listen
 * on every interface without anyone having said so: that is reported in `errors`.
 */
export function substituteEnv(value: unknown, env: NodeJS.ProcessEnv, path = '', errors: string[] = []): unknown {
  if (typeof value === 'string') {
    const unset: string[] = [];
    const out = value.replace(/\$\$|\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (match, name: string | undefined, fallback: string | undefined) => {
      if (match === '$$') return '$';
      const v = env[name!];
      if (v !== undefined && v !== '') return v;
      if (fallback !== undefined) return fallback;
      unset.push(name!);
      return '';
    });
    if (unset.length > 0 && /^:\d+$/.test(out)) {
      errors.push(`${path}: ${JSON.stringify(value)} left the host empty (${unset.join(', ')} unset or empty); set it, or write 0.0.0.0 to listen on every interface`);
    }
    return out;
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, env, `${path}[${i}]`, errors));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = substituteEnv(v, env, path ? `${path}.${k}` : k, errors);
    return out;
  }
  return value;
}

function issuePath(prefix: string, path: PropertyKey[]): string {
  return [prefix, ...path.map(String)].filter(Boolean).join('.');
}

function zodToConfigError(prefix: string, error: z.ZodError): ConfigError {
  const lines = error.issues.map((i) => {
    let msg = i.message;
    if (i.code === 'unrecognized_keys') msg = `unknown key(s) ${i.keys.map((k) => `'${k}'`).join(', ')}`;
    return `${issuePath(prefix, i.path)}: ${msg}`;
  });
  return new ConfigError('', lines.join('\n'));
}

/**
 * Parses and validates a whole collector config. Every error names the key path, and every error
 * is reported in one run: each component defined is checked (used by a pipeline or not, as the
 * OpenTelemetry Collector does), each pipeline's references, and the service section.
 */
export function parseConfig(yamlText: string, components: Components, env: NodeJS.ProcessEnv = process.env): CollectorConfig {
  const doc = parseDocument(yamlText, { uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError('', doc.errors.map((e) => `YAML: ${e.message}`).join('\n'));
  }
  const errors: string[] = [];
  const raw = substituteEnv(doc.toJS() ?? {}, env, '', errors);
  const top = topSchema.safeParse(raw, PARSE);
  if (!top.success) errors.push(zodToConfigError('', top.error).message);
  const rawTop = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  const sectionOf = (key: string): Record<string, unknown> => {
    const v = top.success ? top.data[key as 'receivers'] : rawTop[key];
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  };

  // Every component defined, whether a pipeline uses it or not.
  const checked = new Map<string, ComponentConfig | undefined>();
  for (const kind of ['receiver', 'processor', 'exporter', 'extension'] as const) {
    const key = KIND_KEYS[kind];
    for (const [id, value] of Object.entries(sectionOf(key))) {
      const type = id.split('/')[0]!;
      const factory = components[kind].find((f) => f.type === type);
      if (!factory) {
        errors.push(`${key}.${id}: unknown ${kind} type '${type}'; span-relay has: ${typesOf(components, kind).join(', ')}`);
        checked.set(`${kind}:${id}`, undefined);
        continue;
      }
      const parsed = factory.config.safeParse(value ?? {}, PARSE);
      if (!parsed.success) {
        errors.push(zodToConfigError(`${key}.${id}`, parsed.error).message);
        checked.set(`${kind}:${id}`, undefined);
        continue;
      }
      checked.set(`${kind}:${id}`, { id, type, kind, config: parsed.data });
    }
  }
  if (!top.success) throw new ConfigError('', errors.join('\n'));
  const c = top.data;

  const resolve = (kind: ComponentKind, id: string, where: string): ComponentConfig | undefined => {
    const k = `${kind}:${id}`;
    if (!checked.has(k)) errors.push(`${where}: ${kind} '${id}' is not defined under '${KIND_KEYS[kind]}'`);
    return checked.get(k);
  };

  const config: CollectorConfig = {
    receivers: new Map(),
    processors: new Map(),
    exporters: new Map(),
    extensions: [],
    pipelines: [],
    telemetry: { logLevel: c.service.telemetry.logs.level, metricsAddress: c.service.telemetry.metrics.address, metricsTls: c.service.telemetry.metrics.tls },
    shutdownTimeoutMs: c.service.shutdown_timeout,
  };
  const pipelineNames = Object.keys(c.service.pipelines);
  if (pipelineNames.length === 0) errors.push('service.pipelines: at least one traces pipeline is required');
  for (const name of pipelineNames) {
    const p = c.service.pipelines[name]!;
    const where = `service.pipelines.${name}`;
    if (name.split('/')[0] !== 'traces') {
      errors.push(`${where}: span-relay handles traces only (pipeline names are 'traces' or 'traces/<name>')`);
      continue;
    }
    for (const [kind, ids] of [['receiver', p.receivers], ['processor', p.processors], ['exporter', p.exporters]] as const) {
      const target = config[KIND_KEYS[kind] as 'receivers' | 'processors' | 'exporters'];
      ids.forEach((id, i) => {
        const r = resolve(kind, id, `${where}.${KIND_KEYS[kind]}[${i}]`);
        if (r) target.set(id, r);
      });
    }
    config.pipelines.push({ name, receivers: p.receivers, processors: p.processors, exporters: p.exporters });
  }
  c.service.extensions.forEach((id, i) => {
    const r = resolve('extension', id, `service.extensions[${i}]`);
    if (r) config.extensions.push(r);
  });
  if (errors.length > 0) throw new ConfigError('', errors.join('\n'));
  return config;
}

export async function loadConfigFile(path: string, components: Components, env: NodeJS.ProcessEnv = process.env): Promise<CollectorConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError('', `cannot read config file ${path}: ${(err as Error).message}`);
  }
  return parseConfig(text, components, env);
}
