/**
 * Who can read the traces (#32): the embedded default listens on loopback unless
 * SPAN_RELAY_LISTEN_HOST or `run --listen-host` says otherwise; explicit configs keep the endpoints
 * they name; the image sets every interface; and the query endpoint's TLS and bearer token guard
 * api_v3 as they guard the rest of it.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinComponents } from '../src/components.js';
import { defaultConfig, DEFAULT_CONFIG_YAML, defaultConfigOnPorts } from '../src/config/default.js';
import { parseConfig } from '../src/config/load.js';
import type { EmbeddedExporter } from '../src/exporters/embedded/index.js';
import { startCollector, type RunningCollector } from './helpers/collector.js';
import { TestCA } from './helpers/certs.js';

const BIN = new URL('../bin/span-relay.js', import.meta.url).pathname;
const LINKERD = new URL('../../../shared/fixtures/config/linkerd-jaeger-collector.yaml', import.meta.url).pathname;
const STANDARD = [4317, 4318, 6831, 6832, 8888, 9411, 14250, 14268, 16686, 55678];

/** Every `endpoint` and `address` a config names, by where. */
function endpoints(yaml: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (v: unknown, path: string): void => {
    if (!v || typeof v !== 'object') return;
    for (const [k, x] of Object.entries(v)) {
      if ((k === 'endpoint' || k === 'address') && typeof x === 'string') out[path] = x;
      else walk(x, path ? `${path}.${k}` : k);
    }
  };
  walk(parse(yaml), '');
  return out;
}

/** The listening endpoints the parsed config gives each component (what it binds). */
function bound(yaml: string, env: NodeJS.ProcessEnv = {}): string[] {
  const c = parseConfig(yaml, builtinComponents, env);
  const out = [c.telemetry.metricsAddress];
  const walk = (v: unknown): void => {
    if (!v || typeof v !== 'object') return;
    for (const [k, x] of Object.entries(v)) {
      if (k === 'endpoint' && typeof x === 'string') out.push(x);
      else walk(x);
    }
  };
  for (const r of c.receivers.values()) walk(r.config);
  for (const e of c.exporters.values()) if (e.type === 'embedded') out.push((e.config as { query: { endpoint: string } }).query.endpoint);
  return out.sort();
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; err: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, SPAN_RELAY_FROM_SOURCE: '1', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code: code ?? -1, err })));
}

describe('where the embedded default listens', () => {
  it('on 127.0.0.1, every receiver, the query endpoint and the admin endpoint, on their standard ports', () => {
    const named = endpoints(DEFAULT_CONFIG_YAML);
    expect(Object.keys(named)).toHaveLength(STANDARD.length);
    expect(bound(DEFAULT_CONFIG_YAML)).toEqual(STANDARD.map((p) => `127.0.0.1:${p}`).sort());
  });

  it('on the host it is given: 0.0.0.0, or an IPv6 host in brackets', () => {
    expect(bound(defaultConfig('0.0.0.0'))).toEqual(STANDARD.map((p) => `0.0.0.0:${p}`).sort());
    expect(bound(defaultConfig('::'))).toEqual(STANDARD.map((p) => `[::]:${p}`).sort());
  });

  it('the moved-ports start (build, bench) stays on loopback, off the standard ports', () => {
    const ports = bound(defaultConfigOnPorts(20_000));
    expect(ports.every((e) => e.startsWith('127.0.0.1:2000'))).toBe(true);
    expect(new Set(ports).size).toBe(STANDARD.length);
  });

  it('an explicit config keeps the endpoints it names, and the defaults of those it does not (the linkerd-jaeger config binds as before)', () => {
    const env = { POD_NAMESPACE: 'linkerd-jaeger', SPAN_RELAY_LISTEN_HOST: '127.0.0.1' };
    expect(bound(readFileSync(LINKERD, 'utf8'), env)).toEqual(['0.0.0.0:4317', '0.0.0.0:55678', '0.0.0.0:8888']);
  });

  it('run: --listen-host with --config is refused; a host with a port (flag or environment) is refused, naming where it came from', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'span-relay-listen-'));
    writeFileSync(join(dir, 'c.yaml'), 'receivers:\n  zipkin:\n    endpoint: 127.0.0.1:0\nexporters:\n  file:\n    path: x\nservice:\n  pipelines:\n    traces:\n      receivers: [zipkin]\n      exporters: [file]\n');
    const both = await cli(['run', '--listen-host', '0.0.0.0', '--config', join(dir, 'c.yaml')]);
    expect(both.code).toBe(2);
    expect(both.err).toContain('--listen-host applies to the embedded default; a --config names its own endpoints');
    const flag = await cli(['run', '--listen-host', '0.0.0.0:80']);
    expect(flag.code).toBe(2);
    expect(flag.err).toContain('--listen-host: "0.0.0.0:80" is not a host');
    const env = await cli(['run'], { SPAN_RELAY_LISTEN_HOST: 'http://x' });
    expect(env.code).toBe(2);
    expect(env.err).toContain('SPAN_RELAY_LISTEN_HOST: "http://x" is not a host');
  });

  it('the image runs the embedded default on every interface (its ports are published)', () => {
    const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');
    const final = dockerfile.split(/^FROM /m).at(-1)!;
    expect(final).toMatch(/^ENV SPAN_RELAY_LISTEN_HOST=0\.0\.0\.0$/m);
    expect(final).toMatch(/^CMD \["run"\]$/m);
  });
});

describe('the query endpoint with TLS and a bearer token: api_v3 and the rest alike', () => {
  let relay: RunningCollector;
  let ca: TestCA;
  let address: string;

  beforeAll(async () => {
    ca = new TestCA();
    const pair = ca.issue('relay');
    const dir = mkdtempSync(join(tmpdir(), 'span-relay-query-auth-'));
    writeFileSync(join(dir, 'token'), 'r3ader\n');
    relay = await startCollector(`
extensions:
  bearertokenauth:
    filename: ${dir}/token
receivers:
  zipkin: { endpoint: 127.0.0.1:0 }
exporters:
  embedded:
    path: ${join(dir, 'traces.db')}
    query:
      endpoint: 127.0.0.1:0
      tls: { cert_file: ${pair.cert}, key_file: ${pair.key} }
      auth: { authenticator: bearertokenauth }
service:
  extensions: [bearertokenauth]
  pipelines:
    traces:
      receivers: [zipkin]
      exporters: [embedded]
`);
    address = (relay.collector.exporters.get('embedded') as EmbeddedExporter).address();
  });
  afterAll(async () => {
    await relay?.stop();
  });

  const get = (path: string, headers: Record<string, string> = {}) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
      const req = request({ host, port, path, headers, ca: ca.pair.certPem, servername: 'relay' }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });

  it('answers api_v3 over TLS with the token, 401 in api_v3 error form without it or with a wrong one', async () => {
    for (const path of ['/api/v3/services', '/api/v3/operations?service=x', '/api/v3/traces/00000000000000ff']) {
      const none = await get(path);
      expect(none.status, path).toBe(401);
      expect(JSON.parse(none.body), path).toEqual({ error: { httpCode: 401, message: 'missing or wrong authorization (bearer token)' } });
      expect((await get(path, { authorization: 'Bearer nope' })).status, path).toBe(401);
    }
    expect(JSON.parse((await get('/api/v3/services', { authorization: 'Bearer r3ader' })).body)).toEqual({ services: [] });
    expect((await get('/api/v3/traces/00000000000000ff', { authorization: 'Bearer r3ader' })).status).toBe(404);
    // The older API and the page are behind the same token.
    expect((await get('/api/services')).status).toBe(401);
    expect((await get('/api/services', { authorization: 'Bearer r3ader' })).status).toBe(200);
    expect((await get('/')).status).toBe(401);
  });

  it('refuses plain HTTP', async () => {
    await expect(fetch(`http://${address}/api/v3/services`)).rejects.toThrow();
  });

  it('an authenticator that is not a running extension fails the start, naming the key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'span-relay-query-auth2-'));
    await expect(
      startCollector(`
receivers:
  zipkin: { endpoint: 127.0.0.1:0 }
exporters:
  embedded:
    path: ${join(dir, 'traces.db')}
    query: { endpoint: 127.0.0.1:0, auth: { authenticator: bearertokenauth } }
service:
  pipelines:
    traces:
      receivers: [zipkin]
      exporters: [embedded]
`),
    ).rejects.toThrow("exporters.embedded.query.auth.authenticator: 'bearertokenauth' is not an authenticator extension listed in service.extensions");
  });
});
