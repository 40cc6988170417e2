import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { PROTO_DIR } from '../src/paths.js';
import { eventually } from './helpers/collector.js';
import { portRun } from './helpers/ports.js';

const BIN = new URL('../bin/span-relay.js', import.meta.url).pathname;
const LINKERD = new URL('../../../shared/fixtures/config/linkerd-jaeger-collector.yaml', import.meta.url).pathname;

function cli(args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string, stdin?: string) {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, cwd, stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  if (stdin !== undefined) child.stdin!.end(stdin);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
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
    const port = await portRun(3);
    const file = join(dir, 'config.yaml');
    writeFileSync(
      file,
      `receivers:\n  zipkin:\n    endpoint: 127.0.0.1:${port}\nprocessors:\n  batch:\n    timeout: 30s\nexporters:\n  file:\n    path: ${dir}/out.jsonl\nservice:\n  telemetry:\n    metrics:\n      address: 127.0.0.1:${port + 1}\n  pipelines:\n    traces:\n      receivers: [zipkin]\n      processors: [batch]\n      exporters: [file]\n`,
    );
    const r = cli(['run', '--config', file]);
    await eventually(async () => (await fetch(`http://127.0.0.1:${port + 1}/readyz`).catch(() => undefined))?.status === 200, 'readyz', 20_000);
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

  it('every command answers --help and exits 0 without starting anything; an unknown flag is an error', async () => {
    for (const command of ['run', 'validate', 'check', 'replay']) {
      const r = cli([command, '--help']);
      expect(await r.done, command).toBe(0);
      expect(r.out()).toContain(`usage: span-relay ${command}`);
    }
    const help = cli(['help', 'run']);
    expect(await help.done).toBe(0);
    expect(help.out()).toContain('Relative paths in a config');
    const bad = cli(['run', '--bogus']);
    expect(await bad.done).toBe(2);
    expect(bad.err()).toContain("span-relay run: Unknown option '--bogus'");
    const badCheck = cli(['check', '--verbose', 'x.json']);
    expect(await badCheck.done).toBe(2);
  });

  it('validate reports every error in one run: a port out of range, an unused unknown component, a bad key, a missing reference', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'span-relay-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      'receivers:\n  zipkin:\n    endpoint: 127.0.0.1:99999\n  otlp:\n    protocols:\n      grpc:\n        endpont: x\n  honeycomb_receiver:\nexporters:\n  file:\n    path: out.jsonl\nservice:\n  pipelines:\n    traces:\n      receivers: [zipkin, otlp]\n      processors: [batch]\n      exporters: [file]\n',
    );
    const r = cli(['validate', '--config', file]);
    expect(await r.done).toBe(1);
    const err = r.err();
    expect(err).toContain('receivers.zipkin.endpoint: port is out of range (0-65535)');
    expect(err).toContain("receivers.otlp.protocols.grpc: unknown key(s) 'endpont'");
    expect(err).toContain("receivers.honeycomb_receiver: unknown receiver type 'honeycomb_receiver'");
    expect(err).toContain("service.pipelines.traces.processors[0]: processor 'batch' is not defined under 'processors'");
  });

  it('run: a port in use names the receiver and the endpoint, one line, exit 1 (no stack)', async () => {
    const { createServer } = await import('node:net');
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as { port: number }).port;
    const dir = mkdtempSync(join(tmpdir(), 'span-relay-'));
    const file = join(dir, 'config.yaml');
    writeFileSync(file, `receivers:\n  zipkin:\n    endpoint: 127.0.0.1:${port}\nexporters:\n  file:\n    path: ${dir}/out.jsonl\nservice:\n  telemetry:\n    metrics:\n      address: 127.0.0.1:0\n  pipelines:\n    traces:\n      receivers: [zipkin]\n      exporters: [file]\n`);
    const r = cli(['run', '--config', file]);
    expect(await r.done).toBe(1);
    blocker.close();
    expect(r.err().trim()).toBe(`span-relay run: receiver 'zipkin' cannot listen on 127.0.0.1:${port}: the address is already in use (is another collector running? pick another port in the config)`);
  });

  it('run: relative paths in a config are taken from the directory the command runs in', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'span-relay-'));
    const port = await portRun(3);
    writeFileSync(
      join(dir, 'config.yaml'),
      `receivers:\n  zipkin:\n    endpoint: 127.0.0.1:${port}\nexporters:\n  file:\n    path: ./data/traces.jsonl\nservice:\n  telemetry:\n    metrics:\n      address: 127.0.0.1:${port + 1}\n  pipelines:\n    traces:\n      receivers: [zipkin]\n      exporters: [file]\n`,
    );
    const r = cli(['run', '--config', 'config.yaml'], {}, dir);
    await eventually(async () => (await fetch(`http://127.0.0.1:${port + 1}/readyz`).catch(() => undefined))?.status === 200, 'readyz', 20_000);
    const fixture = readFileSync(new URL('../../../shared/fixtures/zipkin/jaeger-zipkin_v1_merged_spans.json', import.meta.url));
    const res = await fetch(`http://127.0.0.1:${port}/api/v2/spans`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: fixture });
    expect(res.status).toBeLessThan(500);
    r.child.kill('SIGTERM');
    expect(await r.done).toBe(0);
    expect(existsSync(join(dir, 'data/traces.jsonl'))).toBe(true);
  });

  it.each([
    ['the single-file bundle (what npm start runs)', {}],
    ['the per-module build (SPAN_RELAY_UNBUNDLED=1)', { SPAN_RELAY_UNBUNDLED: '1' }],
  ])('run from %s: files read at run time are found (the trace page, the Zipkin proto3 schema)', async (_what, env) => {
    expect(existsSync(new URL('../dist/span-relay.cjs', import.meta.url))).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'span-relay-'));
    const port = await portRun(3);
    writeFileSync(
      join(dir, 'config.yaml'),
      `receivers:\n  zipkin:\n    endpoint: 127.0.0.1:${port}\nexporters:\n  embedded:\n    path: ./traces.db\n    query:\n      endpoint: 127.0.0.1:${port + 2}\nservice:\n  telemetry:\n    metrics:\n      address: 127.0.0.1:${port + 1}\n  pipelines:\n    traces:\n      receivers: [zipkin]\n      exporters: [embedded]\n`,
    );
    const r = cli(['run', '--config', 'config.yaml'], env, dir);
    try {
      await eventually(async () => (await fetch(`http://127.0.0.1:${port + 1}/readyz`).catch(() => undefined))?.status === 200, 'readyz', 20_000);
      const page = await fetch(`http://127.0.0.1:${port + 2}/static/app.js`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('function');
      const ListOfSpans = protobuf.loadSync(join(PROTO_DIR, 'zipkin.proto')).lookupType('zipkin.proto3.ListOfSpans');
      const body = ListOfSpans.encode({ spans: [{ traceId: Buffer.alloc(16, 1), id: Buffer.alloc(8, 2), name: 'get', timestamp: 1_700_000_000_000_000, duration: 5, localEndpoint: { serviceName: 'bundle' } }] }).finish();
      const res = await fetch(`http://127.0.0.1:${port}/api/v2/spans`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body });
      expect(res.status).toBe(202);
    } finally {
      r.child.kill('SIGTERM');
      expect(await r.done).toBe(0);
    }
  });

  it('check - reads standard input (and /dev/stdin does not crash)', async () => {
    const fixture = readFileSync(new URL('../../../shared/fixtures/zipkin/jaeger-zipkin_v1_merged_spans.json', import.meta.url), 'utf8');
    for (const arg of ['-', '/dev/stdin']) {
      const r = cli(['check', arg], {}, undefined, fixture);
      expect(await r.done, arg).toBe(0);
      expect(r.out()).toContain('verdict: COMPLETE');
    }
  });

  it('run: a bad SPAN_RELAY_HEAP_GROWING_PERCENT is refused before anything starts, naming the variable', async () => {
    const r = cli(['run'], { SPAN_RELAY_HEAP_GROWING_PERCENT: 'half' });
    expect(await r.done).toBe(2);
    expect(r.err()).toContain('span-relay run: SPAN_RELAY_HEAP_GROWING_PERCENT=half: expected a whole number from 10 to 1000');
  });

  it('replay to a port where nothing listens says so within a few seconds and exits 1', async () => {
    const { createServer } = await import('node:net');
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const fixture = new URL('../../../shared/fixtures/zipkin/jaeger-zipkin_v1_merged_spans.json', import.meta.url).pathname;
    const started = Date.now();
    const r = cli(['replay', fixture, '--to', `127.0.0.1:${port}`, '--as', 'zipkin']);
    expect(await r.done).toBe(1);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(r.out() + r.err()).toContain('nothing is listening at the target');
  });

  it('SIGTERM with a client trickling a request: exits 0 within service.shutdown_timeout (the slow connection is cut)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'span-relay-'));
    const port = await portRun(3);
    writeFileSync(
      join(dir, 'config.yaml'),
      `receivers:\n  zipkin:\n    endpoint: 127.0.0.1:${port}\n    read_timeout: 60s\nexporters:\n  file:\n    path: ${dir}/out.jsonl\nservice:\n  shutdown_timeout: 2s\n  telemetry:\n    metrics:\n      address: 127.0.0.1:${port + 1}\n  pipelines:\n    traces:\n      receivers: [zipkin]\n      exporters: [file]\n`,
    );
    const r = cli(['run', '--config', join(dir, 'config.yaml')]);
    await eventually(async () => (await fetch(`http://127.0.0.1:${port + 1}/readyz`).catch(() => undefined))?.status === 200, 'readyz', 20_000);
    const { connect } = await import('node:net');
    const slow = connect(port, '127.0.0.1');
    slow.on('error', () => undefined);
    slow.write('POST /api/v2/spans HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n[');
    const trickle = setInterval(() => slow.writable && slow.write(' '), 100);
    await new Promise((res) => setTimeout(res, 200));
    const started = Date.now();
    r.child.kill('SIGTERM');
    const code = await r.done;
    clearInterval(trickle);
    slow.destroy();
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(4_500);
  });

  it('SIGTERM with a backend that never answers: exits 1 within the timeout, naming how many acknowledged spans were not delivered', async () => {
    const { OtlpGrpcSink } = await import('./helpers/sinks.js');
    const sink = await new OtlpGrpcSink().start();
    sink.hang = true;
    const dir = mkdtempSync(join(tmpdir(), 'span-relay-'));
    const port = await portRun(3);
    writeFileSync(
      join(dir, 'config.yaml'),
      `receivers:\n  zipkin:\n    endpoint: 127.0.0.1:${port}\nprocessors:\n  batch:\n    timeout: 10ms\nexporters:\n  otlp:\n    endpoint: ${sink.endpoint}\n    tls:\n      insecure: true\n    timeout: 60s\nservice:\n  shutdown_timeout: 2s\n  telemetry:\n    metrics:\n      address: 127.0.0.1:${port + 1}\n  pipelines:\n    traces:\n      receivers: [zipkin]\n      processors: [batch]\n      exporters: [otlp]\n`,
    );
    const r = cli(['run', '--config', join(dir, 'config.yaml')]);
    await eventually(async () => (await fetch(`http://127.0.0.1:${port + 1}/readyz`).catch(() => undefined))?.status === 200, 'readyz', 20_000);
    const spans = Array.from({ length: 7 }, (_, i) => ({ traceId: 'c'.repeat(16), id: (i + 1).toString(16).padStart(16, '0'), name: 'stuck', timestamp: 1700000000000000, duration: 1, localEndpoint: { serviceName: 'web' } }));
    expect((await fetch(`http://127.0.0.1:${port}/api/v2/spans`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spans) })).status).toBe(202);
    await new Promise((res) => setTimeout(res, 300));
    const started = Date.now();
    r.child.kill('SIGTERM');
    const code = await r.done;
    await sink.stop();
    expect(code).toBe(1);
    expect(Date.now() - started).toBeLessThan(6_000);
    expect(r.out()).toContain('7 acknowledged span(s) could not be delivered within service.shutdown_timeout');
  });
});
