import { join } from 'node:path';
import protobuf from 'protobufjs';
import { PROTO_DIR } from '../paths.js';

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
    root = protobuf.loadSync(join(PROTO_DIR, files[name]));
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
