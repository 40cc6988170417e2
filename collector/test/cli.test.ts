import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { eventually } from './helpers/collector.js';

const BIN = new URL('../bin/span-relay.js', import.meta.url).pathname;
const LINKERD = new URL('../../../shared/fixtures/config/linkerd-jaeger-collector.yaml', import.meta.url).pathname;

function cli(args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string) {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
  return { child, done, out: () => stdout, err: () => stderr };
}

describe('span-relay CLI', () => {
  it('validate: the linkerd-jaeger config is valid and the pipeline is printed', async () => {
    const r = cli(['validate', '--config', LINKERD], { POD_NAMESPACE: 'linkerd-jaeger' });
    expect(await r.done).toBe(0);
    expect(r.out()).toContain('traces: opencensus, otlp -> resource -> k8sattributes -> batch -> jaeger');
  });

  it('validate: a broken config exits 1 naming every bad key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'span-relay-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'receivers:\n  zipkin:\n    endpoint: nowhere\nexporters:\n  honeycomb:\nservice:\n  pipelines:\n    traces:\n      receivers: [zipkin]\n      exporters: [honeycomb]\n');
    const r = cli(['validate', '--config', file]);
    expect(await r.done).toBe(1);
    expect(r.err()).toContain('receivers.zipkin.endpoint: expected host:port');
    expect(r.err()).toContain("exporters.honeycomb: unknown exporter type 'honeycomb'");
  });

  it('run: starts, takes spans, and on SIGTERM flushes them to the file exporter before exiting 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'span-relay-'));
    const port = 20000 + Math.floor(Math.random() * 20000);
    const file = join(dir, 'config.yaml');
    writeFileSync(
      file,
      `receivers:\n  zipkin:\n    endpoint: 127.0.0.1:${port}\nprocessors:\n  batch:\n    timeout: 30s\nexporters:\n  file:\n    path: ${dir}/out.jsonl\nservice:\n  telemetry:\n    metrics:\n      address: 127.0.0.1:${port + 1}\n  pipelines:\n    traces:\n      receivers: [zipkin]\n      processors: [batch]\n      exporters: [file]\n`,
    );
    const r = cli(['run', '--config', file]);
    await eventually(async () => (await fetch(`http://127.0.0.1:${port + 1}/readyz`).catch(() => undefined))?.status === 200, 'readyz');
    const res = await fetch(`http://127.0.0.1:${port}/api/v2/spans`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ traceId: 'a'.repeat(32), id: 'b'.repeat(16), name: 'flush-me', timestamp: 1700000000000000, duration: 1, localEndpoint: { serviceName: 'web' } }]),
    });
    expect(res.status).toBe(202);
    const metrics = await (await fetch(`http://127.0.0.1:${port + 1}/metrics`)).text();
    expect(metrics).toContain('span_relay_receiver_accepted_spans_total{receiver="zipkin",transport="http_v2"} 1');
    expect(existsSync(`${dir}/out.jsonl`)).toBe(false); // still held by the 30s batch timeout
    r.child.kill('SIGTERM');
    expect(await r.done).toBe(0);
    const line = JSON.parse(readFileSync(`${dir}/out.jsonl`, 'utf8').trim()) as { resourceSpans: { scopeSpans: { spans: { name: string; traceId: string }[] }[] }[] };
    expect(line.resourceSpans[0]!.scopeSpans[0]!.spans[0]).toMatchObject({ name: 'flush-me', traceId: 'a'.repeat(32) });
    expect(r.out()).toContain('"msg":"span-relay stopped"');
  });
});
