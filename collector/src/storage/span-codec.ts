/**
 * Spans as log records, exactly as span-relay holds them (64-bit IDs stay 64-bit, Zipkin's
 * `shared`, the source format): JSON, with bigints and bytes tagged. The durability token a span
 * carries in memory is not written.
 */
import type { Span } from '../model/span.js';

const BIGINT = '$n';
const BYTES = '$b';

function replacer(this: Record<string, unknown>, key: string, value: unknown): unknown {
  if (key === 'ack') return undefined;
  if (typeof value === 'bigint') return { [BIGINT]: value.toString() };
  // Buffer's toJSON has already run on `value`: look at what the holder has.
  const raw = this[key];
  if (raw instanceof Uint8Array) return { [BYTES]: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64') };
  return value;
}

function reviver(_key: string, value: unknown): unknown {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    if (typeof o[BIGINT] === 'string' && Object.keys(o).length === 1) return BigInt(o[BIGINT]);
    if (typeof o[BYTES] === 'string' && Object.keys(o).length === 1) return new Uint8Array(Buffer.from(o[BYTES], 'base64'));
  }
  return value;
}

export function encodeSpans(spans: readonly Span[]): Buffer {
  return Buffer.from(JSON.stringify(spans, replacer));
}

export function decodeSpans(body: Buffer): Span[] {
  return JSON.parse(body.toString('utf8'), reviver) as Span[];
}
