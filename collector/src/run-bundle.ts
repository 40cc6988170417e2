/**
 * How the span-relay command runs the single-file bundle (dist/span-relay.cjs, scripts/bundle.mjs):
 * compiled with V8's code cache, which the build makes by starting the command once on the embedded
 * default (scripts/code-cache.mjs). With the cache V8 neither parses the 2 MB bundle nor compiles
 * the functions a start runs: ready ~70 ms sooner on the 2-core machine (README, "Production runs
 * compiled JavaScript"). Node 20 has no compile cache of its own for modules (22's
 * module.enableCompileCache), so the bundle is CommonJS, compiled here as node compiles a CommonJS
 * module, with the cache handed to vm.Script.
 *
 * V8 takes a cache only from the same V8 build, with the same flags, for source of the same length;
 * the cache file also carries the SHA-256 of the bundle it was made from, so a cache left beside
 * another bundle is never used. A cache that is missing, stale or refused costs time, nothing else.
 * This module sits at the top of dist/ beside the bundle, and is not part of it; the command
 * (bin/span-relay.js) requires its CommonJS build, dist/run-bundle.cjs, so that no ES module loader
 * starts.
 *
 * Node's own modules (http2, tls, crypto, net, streams: ~140 of them in a start) come with a code
 * cache of their own, made for no V8 flags; any flag node runs with makes V8 refuse it, and node
 * then compiles each of them from source. The young generation's size (--max-semi-space-size, the
 * #! line's) is fixed when node starts, so the flag is set back to its default before anything
 * else loads: the heap keeps its 8 MiB semi-spaces, and node's modules and the bundle are compiled
 * from their caches (README, "Production runs compiled JavaScript"). The heap policy (a V8 flag
 * too) is set by `span-relay run` once the collector is ready.
 */
import type { Hash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { heapGrowingPercent } from './heap-policy.js';

export interface BundleFiles {
  bundle: string;
  cache: string;
}

export const BUNDLE_FILES: BundleFiles = {
  bundle: fileURLToPath(new URL('./span-relay.cjs', import.meta.url)),
  cache: fileURLToPath(new URL('./span-relay.cjs.v8-cache', import.meta.url)),
};

/** Set (to 1) by the build's training start: write the code cache when the command has finished. */
export const WRITE_CODE_CACHE_ENV = 'SPAN_RELAY_WRITE_CODE_CACHE';

const DIGEST_BYTES = 32;

const bundleLoader = createRequire(import.meta.url);

type Main = (argv: string[]) => Promise<number>;
interface BundleExports {
  main?: unknown;
}

function mainOf(exports: BundleExports, files: BundleFiles): Main {
  if (typeof exports.main !== 'function') throw new Error(`${files.bundle}: no main function exported (rebuild with npm run build)`);
  return exports.main as Main;
}

/**
 * What became of the code cache: used; refused by V8 (another node, other flags); made for another
 * bundle; none; not tried, because node maps stack traces through source maps (--enable-source-maps),
 * which it does for modules it loads itself and not for vm.Script.
 */
export type CodeCacheUse = 'used' | 'refused' | 'stale' | 'absent' | 'source-maps';

export interface LoadedBundle {
  main: Main;
  codeCache: CodeCacheUse;
}

/**
 * The V8 flags this process changes after node started, back at their defaults: --max-semi-space-size
 * (read only when node starts; the heap keeps what it was given) and the heap policy's flag (set by
 * `span-relay run` once ready, and set back before the training start writes the cache, which V8
 * stamps with the flags of the moment). 0 is V8's default for both.
 */
export function resetV8Flags(): void {
  setFlagsFromString('--max-semi-space-size=0');
  if (heapGrowingPercent(process.execArgv, {}) !== undefined) setFlagsFromString('--heap-growing-percent=0');
}

/** Compiles and runs the bundle's top level, and gives its `main`. `argv` is the command's. */
export function loadBundle(argv: readonly string[], files: BundleFiles = BUNDLE_FILES, env: NodeJS.ProcessEnv = process.env): LoadedBundle {
  resetV8Flags();
  // Required here, after the reset, so that they come from node's cache (vm and crypto: ~40 modules).
  const { isAscii } = bundleLoader('node:buffer') as typeof import('node:buffer');
  const { constants, Script } = bundleLoader('node:vm') as typeof import('node:vm');
  const { createHash } = bundleLoader('node:crypto') as { createHash: (algorithm: string) => Hash };
  const bundleRequire = createRequire(files.bundle);
  if (process.sourceMapsEnabled) return { main: mainOf(bundleRequire(files.bundle) as BundleExports, files), codeCache: 'source-maps' };
  const bytes = readFileSync(files.bundle);
  // The build keeps the bundle ASCII (esbuild escapes what is not), which reads ~20 ms faster.
  const source = isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
  const digest = createHash('sha256').update(bytes).digest();
  let cachedData: Buffer | undefined;
  let codeCache: CodeCacheUse = 'absent';
  if (existsSync(files.cache)) {
    const file = readFileSync(files.cache);
    if (file.length > DIGEST_BYTES && digest.equals(file.subarray(0, DIGEST_BYTES))) cachedData = file.subarray(DIGEST_BYTES);
    else codeCache = 'stale';
  }
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, { filename: files.bundle, cachedData, importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER });
  if (cachedData) codeCache = script.cachedDataRejected ? 'refused' : 'used';
  const module = { exports: {} as BundleExports };
  const init = script.runInThisContext() as (exports: object, require: NodeJS.Require, module: object, filename: string, dirname: string) => void;
  init(module.exports, bundleRequire, module, files.bundle, dirname(files.bundle));
  const bundled = mainOf(module.exports, files);
  if (env[WRITE_CODE_CACHE_ENV] !== '1') return { main: bundled, codeCache };
  // Written when the command has finished, so that it holds every function the start and the
  // shutdown compiled; through a temporary file, so that no start reads half of one.
  const main: Main = async (args) => {
    const code = await bundled(args);
    resetV8Flags();
    const partial = `${files.cache}.${process.pid}`;
    writeFileSync(partial, Buffer.concat([digest, script.createCachedData()]));
    renameSync(partial, files.cache);
    return code;
  };
  return { main, codeCache };
}
