// The build's third step: the compiled collector as one file, dist/span-relay.cjs, which the CLI runs
// (src/run-bundle.ts). One file instead of some 400 modules (span-relay's and its dependencies')
// halves the time Node spends loading them at every start (bench/startup.ts measures it); CommonJS,
// because Node 20 keeps a V8 code cache only for scripts it is handed (scripts/code-cache.mjs makes
// it). better-sqlite3 stays outside (a native addon); files read at run time are found through
// src/paths.ts, which sits at the top of dist/ as the bundle does. The per-module build beside it
// stays for SPAN_RELAY_UNBUNDLED=1 and tools.
import { build } from 'esbuild';

await build({
  entryPoints: [new URL('../dist/cli.js', import.meta.url).pathname],
  outfile: new URL('../dist/span-relay.cjs', import.meta.url).pathname,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['better-sqlite3'],
  // The sources are ES modules: import.meta.url (src/paths.ts) is the bundle's own file URL.
  define: { 'import.meta.url': '__spanRelayUrl' },
  banner: { js: "const __spanRelayUrl = require('node:url').pathToFileURL(__filename).href;" },
  // ASCII only (esbuild's default, which escapes the rest), so that the bundle reads as latin1.
  charset: 'ascii',
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  legalComments: 'linked',
  logLevel: 'warning',
});
