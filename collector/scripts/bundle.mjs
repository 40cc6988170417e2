// The build's third step: the compiled collector as one file, dist/span-relay.cjs, which the CLI runs
// (src/run-bundle.ts). One file instead of some 400 modules (span-relay's and its dependencies')
// halves the time Node spends loading them at every start (bench/startup.ts measures it); CommonJS,
// because Node 20 keeps a V8 code cache only for scripts it is handed (scripts/code-cache.mjs makes
// it). better-sqlite3 stays outside (a native addon); files read at run time are found through
// src/paths.ts, which sits at the top of dist/ as the bundle does. The per-module build beside it
// stays for SPAN_RELAY_UNBUNDLED=1 and tools.
import { build } from 'esbuild';

/**
 * dist/`from` (tsc's output, an ES module) and what it imports, as one CommonJS file dist/`to`. The
 * sources are ES modules: import.meta.url (src/paths.ts, src/run-bundle.ts) is the output's own file URL.
 */
function bundleCjs(from, to, options = {}) {
  return build({
    entryPoints: [new URL(`../dist/${from}`, import.meta.url).pathname],
    outfile: new URL(`../dist/${to}`, import.meta.url).pathname,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    define: { 'import.meta.url': '__moduleUrl' },
    banner: { js: "const __moduleUrl = require('node:url').pathToFileURL(__filename).href;" },
    logLevel: 'warning',
    ...options,
  });
}

// The loader the command runs the bundle with (src/run-bundle.ts), as CommonJS too: required by
// bin/span-relay.js, it keeps node's ES module loader out of every start.
await bundleCjs('run-bundle.js', 'run-bundle.cjs');

await bundleCjs('cli.js', 'span-relay.cjs', {
  external: ['better-sqlite3'],
  // ASCII only (esbuild's default, which escapes the rest), so that the bundle reads as latin1.
  charset: 'ascii',
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  legalComments: 'linked',
});
