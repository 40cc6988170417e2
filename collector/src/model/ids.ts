import { DecodeError } from './errors.js';

const HEX = /^[0-9a-fA-F]+$/;
const UPPER = /[A-F]/;
const ZEROS = '00000000000000000000000000000000';
/** All zeros, without a regex: this runs three times per span. */
const isZero = (hex: string): boolean => hex.length <= 32 && ZEROS.startsWith(hex);
const HEX_BYTE: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function bytesToHex(bytes: Uint8Array): string {
  // A Buffer (what every decoder reads from) converts natively: about twice as fast as the loop.
  if (Buffer.isBuffer(bytes)) return bytes.toString('hex');
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += HEX_BYTE[bytes[i]!];
  return out;
}

export function hexToBytes(hex: string): Uint8Array {
  return Buffer.from(hex, 'hex');
}

/**
 * Validates a trace ID given as hex (Zipkin JSON). Accepts 1..32 hex digits as Zipkin does: up to
 * 16 digits is a 64-bit ID, 17..32 a 128-bit one. Left-padded to a whole width, lowercased.
 */
export function normalizeTraceIdHex(value: unknown, field: string): string {
  if (typeof value !== 'string') throw new DecodeError('invalid_trace_id', field, value, 'expected a hex string');
  if (value.length === 0 || value.length > 32 || !HEX.test(value)) {
    throw new DecodeError('invalid_trace_id', field, value, 'expected 16 or 32 hex digits');
  }
  const id = UPPER.test(value) ? value.toLowerCase() : value;
  if (isZero(id)) throw new DecodeError('invalid_trace_id', field, value, 'trace ID is all zeros');
  if (id.length === 16 || id.length === 32) return id;
  return id.length < 16 ? id.padStart(16, '0') : id.padStart(32, '0');
}

export function normalizeSpanIdHex(value: unknown, field: string): string {
  if (typeof value !== 'string') throw new DecodeError('invalid_span_id', field, value, 'expected a hex string');
  if (value.length === 0 || value.length > 16 || !HEX.test(value)) {
    throw new DecodeError('invalid_span_id', field, value, 'expected 16 hex digits');
  }
  const id = UPPER.test(value) ? value.toLowerCase() : value;
  if (isZero(id)) throw new DecodeError('invalid_span_id', field, value, 'span ID is all zeros');
  return id.length === 16 ? id : id.padStart(16, '0');
}

/** Trace ID from wire bytes: 8 bytes (Zipkin proto 64-bit) or 16 bytes. */
export function traceIdFromBytes(bytes: Uint8Array | undefined, field: string): string {
  if (!bytes || (bytes.length !== 16 && bytes.length !== 8)) {
    throw new DecodeError('invalid_trace_id', field, bytes ? bytesToHex(bytes) : bytes, `expected 16 bytes, got ${bytes?.length ?? 0}`);
  }
  const hex = bytesToHex(bytes);
  if (isZero(hex)) throw new DecodeError('invalid_trace_id', field, hex, 'trace ID is all zeros');
  return hex;
}

export function spanIdFromBytes(bytes: Uint8Array | undefined, field: string): string {
  if (!bytes || bytes.length !== 8) {
    throw new DecodeError('invalid_span_id', field, bytes ? bytesToHex(bytes) : bytes, `expected 8 bytes, got ${bytes?.length ?? 0}`);
  }
  const hex = bytesToHex(bytes);
  if (isZero(hex)) throw new DecodeError('invalid_span_id', field, hex, 'span ID is all zeros');
  return hex;
}

/** Bytes [start, end) of `buf` are all zero (an ID read where it lies, without a view of it). */
export function allZeroAt(buf: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (buf[i] !== 0) return false;
  return true;
}

/**
 * spanIdFromBytes of bytes [start, end) of `buf` (start < 0: absent), read where they lie: a hex
 * string straight from the bytes, without a view of them (the binary decoders read two IDs a span
 * this way). Only an ID that is absent, the wrong length or all zeros makes the view, for the error.
 * `suffix` is added to `field` only then.
 */
export function spanIdAt(buf: Buffer, start: number, end: number, field: string, suffix: string): string {
  if (start >= 0 && end - start === 8 && !allZeroAt(buf, start, end)) return buf.toString('hex', start, end);
  return spanIdFromBytes(start < 0 ? undefined : buf.subarray(start, end), field + suffix);
}

/** parentIdFromBytes of bytes [start, end) of `buf`, read as spanIdAt reads a span ID. */
export function parentIdAt(buf: Buffer, start: number, end: number, field: string, suffix: string): string | undefined {
  if (start >= 0 && end - start === 8) return allZeroAt(buf, start, end) ? undefined : buf.toString('hex', start, end);
  return parentIdFromBytes(start < 0 ? undefined : buf.subarray(start, end), field + suffix);
}

/** An optional parent: empty or all-zero bytes mean "no parent". */
export function parentIdFromBytes(bytes: Uint8Array | undefined, field: string): string | undefined {
  if (!bytes || bytes.length === 0) return undefined;
  if (bytes.length !== 8) {
    throw new DecodeError('invalid_span_id', field, bytesToHex(bytes), `expected 8 bytes, got ${bytes.length}`);
  }
  const hex = bytesToHex(bytes);
  return isZero(hex) ? undefined : hex;
}

/** True for a trace ID that carries only 64 bits (16 hex digits, or 32 with the high half zero). */
export function is64BitTraceId(traceId: string): boolean {
  return traceId.length === 16 || traceId.startsWith('0000000000000000');
}

/** The 128-bit form every 16-byte wire format needs: a 64-bit ID is left-padded with zeros. */
export function traceIdTo128(traceId: string): string {
  return traceId.length === 32 ? traceId : traceId.padStart(32, '0');
}

/** traceIdTo128(a) === traceIdTo128(b), without making either string (the join asks it of every span). */
export function sameTraceId128(a: string, b: string): boolean {
  if (a.length === b.length || a.length > 32 || b.length > 32) return a === b;
  const pa = 32 - a.length;
  const pb = 32 - b.length;
  for (let i = 0; i < 32; i++) {
    if ((i < pa ? 48 : a.charCodeAt(i - pa)) !== (i < pb ? 48 : b.charCodeAt(i - pb))) return false;
  }
  return true;
}

let lastTraceId = '';

/**
 * `id`, as the string the previous call returned when they are equal: spans of one trace come
 * together in a request, so most spans keep one string (48 bytes on each span the join holds for
 * seconds) and their own is garbage at once. Decoders that build the ID as a string call it.
 */
export function reuseTraceId(id: string): string {
  return id === lastTraceId ? lastTraceId : (lastTraceId = id);
}
