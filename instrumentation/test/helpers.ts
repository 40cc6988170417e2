import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync } from 'node:fs';

export const KIT = new URL('../dist/register.js', import.meta.url).pathname;
export const APPS = new URL('./apps/', import.meta.url).pathname;

export function assertBuilt(): void {
  if (!existsSync(KIT)) throw new Error(`${KIT} is missing: run \`npm run build\` (npm test does)`);
}

export interface RunningApp {
  port: number;
  proc: ChildProcess;
  stderr(): string;
  stop(): Promise<number | null>;
}

/** Starts an app with the kit preloaded; resolves once it prints its port (bounded wait). */
export function startApp(app: string, preload: '--require' | '--import' | 'NODE_OPTIONS', env: NodeJS.ProcessEnv): Promise<RunningApp> {
  const args = preload === 'NODE_OPTIONS' ? [APPS + app] : [preload, KIT, APPS + app];
  const proc = spawn(process.execPath, args, {
    env: { PATH: process.env.PATH, OTEL_BSP_SCHEDULE_DELAY: '50', ...(preload === 'NODE_OPTIONS' ? { NODE_OPTIONS: `--require ${KIT}` } : {}), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${app} did not start in 15 s: ${stderr}`));
    }, 15_000);
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0];
      if (!out.includes('\n') || !line) return;
      clearTimeout(timer);
      const { port } = JSON.parse(line) as { port: number };
      resolve({
        port,
        proc,
        stderr: () => stderr,
        stop: () =>
          new Promise((res) => {
            if (proc.exitCode !== null || proc.signalCode !== null) return res(proc.exitCode ?? 143);
            proc.once('exit', (code, signal) => res(code ?? (signal ? 128 + 15 : null)));
            proc.kill('SIGTERM');
          }),
      });
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${app} exited (${code}) before starting: ${stderr}`));
    });
  });
}

/** The next hop: records the headers of every request it gets. */
export class Downstream {
  private server: Server | undefined;
  readonly seen: IncomingHttpHeaders[] = [];
  url = '';
  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.seen.push(req.headers);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(req.headers));
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }
  stop(): Promise<void> {
    return new Promise((r) => {
      this.server?.close(() => r());
      this.server?.closeAllConnections();
    });
  }
}
