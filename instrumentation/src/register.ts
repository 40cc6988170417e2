/**
 * The preload entry: `node --require @span-relay/instrumentation/register app.js`, or `--import`
 * for ESM apps, or the same in NODE_OPTIONS. Starts tracing before the app loads, flushes on exit.
 */
import { createRequire } from 'node:module';
import { isMainThread } from 'node:worker_threads';
import type { Kit } from './sdk.js';

let kit: Kit | undefined;
try {
  // Node re-runs --require/--import preloads in the loader-hooks thread that module.register()
  // starts (and in worker threads): trace the main thread only, once. The SDK is loaded here, not
  // imported at the top, so that thread does not load it for nothing (measured: ~0.5 s of CPU).
  if (isMainThread) {
    const { startKit } = createRequire(import.meta.url)('./sdk.js') as typeof import('./sdk.js');
    kit = startKit();
  }
} catch (err) {
  // Tracing must never stop the app from starting.
  process.emitWarning(`span-relay kit: tracing disabled: ${(err as Error).message}`, 'SpanRelayKit');
}

if (kit) {
  const k = kit;
  const onSignal = (signal: NodeJS.Signals): void => {
    void k.shutdown().finally(() => {
      // If the app handles the signal itself, it decides when to exit; otherwise exit as Node would.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  process.once('beforeExit', () => void k.shutdown());
}
