/**
 * How the span-relay command starts node: the environment and the node flags on its #! line
 * (`#!/usr/bin/env -S NAME=value… node --flag…`), which the Dockerfile, `npm start` and the demo
 * repeat (test/deploy.test.ts keeps them the same). The testbed starts the collector, and the floor
 * beside it, the same way.
 */
import { readFileSync } from 'node:fs';

export interface BinStart {
  env: Record<string, string>;
  flags: string[];
}

export function binStart(): BinStart {
  const shebang = readFileSync(new URL('../collector/bin/span-relay.js', import.meta.url), 'utf8').split('\n')[0]!;
  const words = /^#!\/usr\/bin\/env -S (.*)$/.exec(shebang)?.[1]?.split(' ').filter(Boolean);
  const at = words?.indexOf('node') ?? -1;
  if (!words || at < 0) throw new Error(`collector/bin/span-relay.js: a #! line of the form "#!/usr/bin/env -S [NAME=value…] node [--flag…]" expected, not ${shebang}`);
  const env: Record<string, string> = {};
  for (const w of words.slice(0, at)) {
    const m = /^([A-Z_][A-Z0-9_]*)=(\S*)$/.exec(w);
    if (!m) throw new Error(`collector/bin/span-relay.js: ${w} on the #! line is not NAME=value`);
    env[m[1]!] = m[2]!;
  }
  return { env, flags: words.slice(at + 1) };
}
