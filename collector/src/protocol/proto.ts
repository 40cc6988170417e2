import { createRequire } from 'node:module';
import { join } from 'node:path';
import type protobuf from 'protobufjs';
import { PROTO_DIR } from '../paths.js';

/**
 * protobufjs, loaded on first use: only the rarer paths need it (Jaeger and Zipkin protobuf, the
 * OpenCensus config stream, OTLP's partial-success answers), and loading it with `long` took ~7 ms of
 * every start. In the bundle (CommonJS) `require` is esbuild's, which keeps protobufjs inside the
 * bundle and runs its modules only when called; the ES module build asks node.
 */
let lib: typeof protobuf | undefined;
function protobufjs(): typeof protobuf {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a lazy load the bundler can see (above)
  lib ??= (typeof require === 'function' ? require('protobufjs') : createRequire(import.meta.url)('protobufjs')) as typeof protobuf;
  return lib;
}

/** The wire schemas, loaded on first use (no work at import time). */
const files = {
  otlp: 'otlp.proto',
  opencensus: 'opencensus.proto',
  jaeger: 'jaeger.proto',
  zipkin: 'zipkin.proto',
} as const;

const roots = new Map<keyof typeof files, protobuf.Root>();

export function protoRoot(name: keyof typeof files): protobuf.Root {
  let root = roots.get(name);
  if (!root) {
    root = protobufjs().loadSync(join(PROTO_DIR, files[name]));
    root.resolveAll();
    roots.set(name, root);
  }
  return root;
}

export function protoType(name: keyof typeof files, type: string): protobuf.Type {
  return protoRoot(name).lookupType(type);
}

/** Decoded-message view without `any`: protobufjs gives plain objects shaped by the schema. */
export type Decoded = Record<string, unknown>;

export function decodeMessage<T>(type: protobuf.Type, bytes: Uint8Array): T {
  return type.decode(bytes) as unknown as T;
}
