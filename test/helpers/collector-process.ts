/** `span-relay run` as its own process, as users run it: the compiled CLI, readiness by /readyz. */
import { spawn, type ChildProcess } from 'node:child_process';
import { eventually } from '../../collector/test/helpers/collector.js';

export const BIN = new URL('../../collector/bin/span-relay.js', import.meta.url).pathname;

const running: ChildProcess[] = [];

/** Starts `span-relay run <args>` and resolves once /readyz on `adminPort` answers 200. */
export async function runCollectorProcess(args: string[], adminPort: number, what: string): Promise<{ child: ChildProcess; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, [BIN, 'run', ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
  running.push(child);
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  // A child that exits before it is ready fails the wait at once, saying how it ended, instead of
  // leaving it to time out as if the process were only slow (its own stderr says why).
  const ready = eventually(() => fetch(`http://127.0.0.1:${adminPort}/readyz`).then((r) => r.status === 200, () => false), what, 15_000).catch((err: unknown) => {
    throw new Error(`${(err as Error).message} (pid ${child.pid} still running, admin port ${adminPort})`);
  });
  const gone = exited.then((code) => {
    throw new Error(`${what}: span-relay exited before it was ready (code ${code}, signal ${child.signalCode})`);
  });
  await Promise.race([ready, gone]); // the race handles whichever of the two rejects later
  return { child, exited };
}

/** For afterAll: kills whatever a test left running. */
export function killCollectorProcesses(): void {
  for (const c of running.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}
