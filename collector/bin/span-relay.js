#!/usr/bin/env -S MALLOC_ARENA_MAX=4 node --max-semi-space-size=8
// MALLOC_ARENA_MAX=4: glibc's malloc keeps at most four heaps (arenas) instead of up to eight per
// core for the threads that allocate (node's main thread, V8's compiler and garbage-collector
// threads, libuv's pool), each holding on to what was freed in it: 3-12 MiB less peak RSS at
// 10k spans/s, CPU and saturation the same; 2 saved more but cut otlp gRPC's saturation rate by a
// quarter (README, as below). Read when the process starts; musl ignores it.
// --max-semi-space-size=8: V8's young generation at 8 MiB a half instead of 16, read only when node
// starts (so here, in the Dockerfile's ENTRYPOINT and in `npm start`): 14-20 MiB less peak RSS at
// 10k spans/s for no CPU the testbed can see (README, "The OpenTelemetry Collector's load test, in its shape"). NODE_OPTIONS cannot override it
// (node reads it before the command line, whose flag wins): run `node --max-semi-space-size=N` on this file.
// The loader (src/run-bundle.ts) sets the flag back to its default once node has started (the heap
// keeps its size): with any V8 flag set, V8 refuses node's cache of its own modules and node compiled
// each one the collector loads from source.
// Production runs the compiled JavaScript in dist/ (built by `npm ci` and `npm run build`): the
// single-file bundle dist/span-relay.cjs with the V8 code cache the build made for it
// (src/run-bundle.ts), or the per-module build dist/cli.js with SPAN_RELAY_UNBUNDLED=1.
// SPAN_RELAY_FROM_SOURCE=1 runs the TypeScript sources through tsx (development).
// CommonJS (bin/package.json says so), as the loader it runs is (dist/run-bundle.cjs): node then
// starts the command without its ES module loader, whose own start and the namespace objects it
// makes for every node module imported took 15-25 ms of each start (README, "Production runs
// compiled JavaScript"). The other two ways in are ES modules, imported only when asked for.
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');

const argv = process.argv.slice(2);
const dist = join(__dirname, '..', 'dist');
const unbundled = process.env.SPAN_RELAY_UNBUNDLED === '1';
const compiled = unbundled ? [join(dist, 'cli.js')] : [join(dist, 'run-bundle.cjs'), join(dist, 'span-relay.cjs')];

async function mainFunction() {
  if (process.env.SPAN_RELAY_FROM_SOURCE === '1' || !compiled.every((f) => existsSync(f))) {
    if (!process.env.SPAN_RELAY_FROM_SOURCE) {
      process.stderr.write('span-relay: dist/ is not built (npm run build); running the sources through tsx\n');
    }
    const { register } = await import('tsx/esm/api');
    register();
    return (await import('../src/cli.ts')).main;
  }
  if (unbundled) return (await import(pathToFileURL(compiled[0]).href)).main;
  return require(compiled[0]).loadBundle(argv).main;
}

mainFunction()
  .then((main) => main(argv))
  .then((code) => process.exit(code));
