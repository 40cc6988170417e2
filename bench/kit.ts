/**
 * Requests/s of a small express service with no tracing, with the span-relay kit, and with
 * @opentelemetry/auto-instrumentations-node/register, measured side by side with autocannon on
 * loopback (rounds interleaved), and each variant's startup time. Both tracers export OTLP to a
 * null backend in this process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import autocannon from 'autocannon';
import { median } from './median.js';

const require = createRequire(import.meta.url);
const APP = new URL('./apps/hello.cjs', import.meta.url).pathname;
const KIT = new URL('../instrumentation/dist/register.js', import.meta.url).pathname;
const AUTO = require.resolve('@opentelemetry/auto-instrumentations-node/register');

export interface Variant {
  name: string;
  args: string[];
}

export const variants: Variant[] = [
  { name: 'no tracing', args: [] },
  { name: 'span-relay kit', args: ['--require', KIT] },
  { name: 'auto-instrumentations-node', args: ['--require', AUTO] },
];

function start(v: Variant, env: NodeJS.ProcessEnv): Promise<{ proc: ChildProcess; port: number; startupMs: number }> {
  const t0 = process.hrtime.bigint();
  const proc = spawn(process.execPath, [...v.args, APP], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'ignore'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${v.name} did not start`)), 20_000);
    proc.stdout!.once('data', (d: Buffer) => {
      clearTimeout(timer);
      resolve({ proc, port: (JSON.parse(String(d).split('\n')[0]!) as { port: number }).port, startupMs: Number(process.hrtime.bigint() - t0) / 1e6 });
    });
  });
}

/** auto-instrumentations-node's register handles SIGTERM without exiting: SIGKILL after 2 s. */
const stop = (p: ChildProcess) =>
  new Promise<void>((r) => {
    const timer = setTimeout(() => p.kill('SIGKILL'), 2000);
    p.once('exit', () => (clearTimeout(timer), r()));
    p.kill('SIGTERM');
  });

export async function kitBench(seconds = 5, rounds = 2): Promise<{ name: string; rps: number; startupMs: number }[]> {
  let spans = 0;
  const nullBackend = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      spans++;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((r) => nullBackend.listen(0, '127.0.0.1', r));
  const env = {
    OTEL_SERVICE_NAME: 'hello',
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(nullBackend.address() as AddressInfo).port}`,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    OTEL_TRACES_EXPORTER: 'otlp',
    OTEL_METRICS_EXPORTER: 'none',
    OTEL_LOGS_EXPORTER: 'none',
  };
  const rps = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  const startup = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  for (let r = 0; r < rounds; r++) {
    for (const v of variants) {
      const app = await start(v, env);
      startup.get(v.name)!.push(app.startupMs);
      await autocannon({ url: `http://127.0.0.1:${app.port}/`, connections: 10, duration: 1 }); // warm-up
      const result = await autocannon({ url: `http://127.0.0.1:${app.port}/`, connections: 10, duration: seconds });
      rps.get(v.name)!.push(result.requests.average);
      await stop(app.proc);
    }
  }
  nullBackend.close();
  if (spans === 0) throw new Error('no tracer exported anything: the comparison would be meaningless');
  return variants.map((v) => ({ name: v.name, rps: median(rps.get(v.name)!), startupMs: median(startup.get(v.name)!) }));
}
