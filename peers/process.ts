/**
 * A peer as a child process of a test or the bench: started with its own temporary folder, ready
 * when a check says so (bounded), stopped with SIGTERM then SIGKILL, and its output kept so that a
 * failure says what the peer said.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PeerProcess {
  child: ChildProcess;
  /** A temporary folder of its own, removed on stop. */
  dir: string;
  /** The last lines the process wrote (stdout and stderr). */
  output(): string;
  stop(): Promise<void>;
}

const running = new Set<PeerProcess>();

export function tempDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `span-relay-${name}-`));
}

/**
 * Spawns `command` and waits until `ready(output so far)` is true (polled every 100 ms, at most `timeoutMs`).
 * Rejects with the peer's own output when it exits first or the wait runs out.
 */
export async function startPeerProcess(
  name: string,
  command: string,
  args: string[],
  options: { dir: string; env?: NodeJS.ProcessEnv; ready: (output: string) => Promise<boolean> | boolean; timeoutMs?: number },
): Promise<PeerProcess> {
  const child = spawn(command, args, { cwd: options.dir, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const keep = (b: Buffer) => {
    lines.push(...b.toString('utf8').split('\n').filter(Boolean));
    if (lines.length > 200) lines.splice(0, lines.length - 200);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const proc: PeerProcess = {
    child,
    dir: options.dir,
    output: () => lines.slice(-60).join('\n'),
    async stop() {
      running.delete(proc);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(killer);
      }
      rmSync(options.dir, { recursive: true, force: true });
    },
  };
  running.add(proc);
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await proc.stop();
      throw new Error(`${name} exited before it was ready (code ${child.exitCode}, signal ${child.signalCode}):\n${proc.output()}`);
    }
    if (await Promise.resolve(options.ready(lines.join('\n'))).catch(() => false)) return proc;
    if (Date.now() > deadline) {
      await proc.stop();
      throw new Error(`${name} was not ready after ${options.timeoutMs ?? 60_000} ms:\n${proc.output()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** For afterAll: stops every peer a test left running. */
export async function stopPeerProcesses(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop()));
}

/** Resolves true when an HTTP GET of `url` answers 2xx. */
export function answers(url: string): Promise<boolean> {
  return fetch(url, { signal: AbortSignal.timeout(1000) }).then(
    (r) => {
      void r.arrayBuffer();
      return r.ok;
    },
    () => false,
  );
}
