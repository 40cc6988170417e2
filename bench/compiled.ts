/**
 * A collector module as production runs it: compiled (collector/dist, which `npm ci` builds), or
 * its source when there is no build. tsx, which runs the bench, compiles with esbuild's keepNames:
 * every closure a function creates is wrapped in a call that names it, which in a decoder that
 * makes closures per span costs more than some of the work measured (OTLP lazy decode: 123k
 * spans/s through tsx, 199k compiled). Values from one build and the other must not be mixed (a
 * class from dist/ is not the class from src/).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';

const SRC = new URL('../collector/src/', import.meta.url).pathname;

/** The newest modification time of a source file: a build older than it measures old code. */
let newestSource: number | undefined;
function newestSourceMs(): number {
  return (newestSource ??= readdirSync(SRC, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .reduce((n, f) => Math.max(n, statSync(SRC + f).mtimeMs), 0));
}

/** Throws when collector/dist/`file` exists and is older than a source file. */
export function assertBuildCurrent(file: string): void {
  const dist = new URL(`../collector/dist/${file}`, import.meta.url);
  if (existsSync(dist) && statSync(dist).mtimeMs < newestSourceMs()) {
    throw new Error(`collector/dist/${file} is older than collector/src: the bench would measure the code as it was. Run \`npm run build\` first.`);
  }
}

export async function collectorModule<T>(path: string): Promise<T> {
  assertBuildCurrent(`${path}.js`);
  const dist = new URL(`../collector/dist/${path}.js`, import.meta.url);
  return (await import(existsSync(dist) ? dist.href : new URL(`../collector/src/${path}.ts`, import.meta.url).href)) as T;
}
