// The build's last step: the compiled collector as one file, dist/span-relay.js, which the CLI runs.
// One file instead of some 400 modules (span-relay's and its dependencies') halves the time Node
// spends loading them at every start (bench/startup.ts measures it). better-sqlite3 stays outside
// (a native addon); files read at run time are found through src/paths.ts, which sits at the top of
// dist/ as the bundle does. The per-module build beside it stays for SPAN_RELAY_UNBUNDLED=1 and tools.
import { build } from 'esbuild';

await build({
  entryPoints: [new URL('../dist/cli.js', import.meta.url).pathname],
  outfile: new URL('../dist/span-relay.js', import.meta.url).pathname,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['better-sqlite3'],
  // CommonJS dependencies (grpc-js, protobufjs, pino) call require() for Node's own modules.
  banner: { js: "import { createRequire as __spanRelayRequire } from 'node:module'; const require = __spanRelayRequire(import.meta.url);" },
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  legalComments: 'linked',
  logLevel: 'warning',
});
