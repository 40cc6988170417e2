#!/usr/bin/env node
// Production runs the compiled JavaScript in dist/ (built by `npm ci` and `npm run build`): the
// single-file bundle dist/span-relay.js, or the per-module build dist/cli.js with
// SPAN_RELAY_UNBUNDLED=1. SPAN_RELAY_FROM_SOURCE=1 runs the TypeScript sources through tsx (development).
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/span-relay.js', import.meta.url);
const modules = new URL('../dist/cli.js', import.meta.url);
const compiled = process.env.SPAN_RELAY_UNBUNDLED === '1' ? modules : bundle;
let main;
if (process.env.SPAN_RELAY_FROM_SOURCE === '1' || !existsSync(compiled)) {
  if (!process.env.SPAN_RELAY_FROM_SOURCE && !existsSync(compiled)) {
    process.stderr.write('span-relay: dist/ is not built (npm run build); running the sources through tsx\n');
  }
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli.ts'));
} else {
  ({ main } = await import(compiled.href));
}
process.exit(await main(process.argv.slice(2)));
