import { DecodeError } from './errors.js';

// Timestamps outside [1990, now + 1 day] are not clock skew but a broken tracer.
const MIN_NANOS = 631_152_000_000_000_000n; // 1990-01-01
const DAY_NANOS = 86_400_000_000_000n;

export function maxPlausibleNanos(): bigint {
  return BigInt(Date.now()) * 1_000_000n + DAY_NANOS;
}

/** `suffix` is added to `field` only in the error: a decoder need not build the name for every span. */
export function checkPlausible(nanos: bigint, field: string, max = maxPlausibleNanos(), suffix = ''): bigint {
  if (nanos < MIN_NANOS || nanos > max) {
    throw new DecodeError('invalid_timestamp', field + suffix, nanos, 'timestamp is not between 1990 and tomorrow');
  }
  return nanos;
}

export function isPlausible(nanos: bigint, max = maxPlausibleNanos()): boolean {
  return nanos >= MIN_NANOS && nanos <= max;
}

const WORDS = new Uint32Array(2);
const WORDS_U64 = new BigUint64Array(WORDS.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * `count`·`unit` + `plus` as a bigint, exactly: a time in nanoseconds from microseconds (Zipkin) or
 * seconds and nanoseconds (OpenCensus's Timestamp). For non-negative integers whose result fits in
 * 64 bits, computed in 32-bit words with numbers (every step below 2^53) and made into one BigInt
 * through a BigUint64Array, instead of the three or four a BigInt expression makes: a span has two
 * times and each event one, and BigInt arithmetic allocates at every step. Anything else (a bigint
 * count, a negative, a fraction, an overflow) goes through BigInt arithmetic as before.
 */
export function nanosOf(count: number | bigint, unit: number, plus: number): bigint {
  if (typeof count === 'number' && LITTLE_ENDIAN && count >= 0 && Number.isSafeInteger(count) && unit > 0 && unit < 2 ** 31 && Number.isInteger(unit) && plus >= 0 && plus < 2 ** 31 && Number.isInteger(plus)) {
    // count = high·2^21 + low; count·unit = (high·unit)·2^21 + low·unit.
    const high = Math.floor(count / 2 ** 21);
    const p = high * unit;
    if (p <= Number.MAX_SAFE_INTEGER) {
      const q = (count - high * 2 ** 21) * unit + plus; // < 2^52 + 2^31
      // p·2^21 = (p >> 11)·2^32 + (p & 2^11-1)·2^21
      const pHigh = Math.floor(p / 2 ** 11);
      const low = (p - pHigh * 2 ** 11) * 2 ** 21 + q; // < 2^53
      const carry = Math.floor(low / 2 ** 32);
      const hi = pHigh + carry;
      if (hi < 2 ** 32) {
        WORDS[0] = low - carry * 2 ** 32;
        WORDS[1] = hi;
        return WORDS_U64[0]!;
      }
    }
  }
  return BigInt(count) * BigInt(unit) + BigInt(plus);
}

export function nanosToMicros(nanos: bigint): number {
  return Number(nanos / 1000n);
}

interface LongLike {
  low: number;
  high: number;
}

/** A protobufjs Long (or a plain number for small values) to bigint, unsigned. */
export function longToBigInt(value: LongLike | number | string | null | undefined): bigint {
  if (value === null || value === undefined) return 0n;
  if (typeof value === 'number') return BigInt(Math.trunc(value));
  if (typeof value === 'string') return BigInt(value);
  return (BigInt(value.high >>> 0) << 32n) | BigInt(value.low >>> 0);
}

/** Signed variant for int64 fields. */
export function longToBigIntSigned(value: LongLike | number | string | null | undefined): bigint {
  return BigInt.asIntN(64, longToBigInt(value));
}

export function bigIntToLong(value: bigint): { low: number; high: number; unsigned: boolean } {
  const v = BigInt.asUintN(64, value);
  return { low: Number(v & 0xffffffffn) | 0, high: Number(v >> 32n) | 0, unsigned: true };
}

export function timestampToNanos(ts: { seconds?: LongLike | number | null; nanos?: number | null } | null | undefined): bigint | undefined {
  if (!ts) return undefined;
  return longToBigIntSigned(ts.seconds ?? 0) * 1_000_000_000n + BigInt(ts.nanos ?? 0);
}

export function nanosToTimestamp(nanos: bigint): { seconds: { low: number; high: number; unsigned: boolean }; nanos: number } {
  return { seconds: bigIntToLong(nanos / 1_000_000_000n), nanos: Number(nanos % 1_000_000_000n) };
}

/**
 * RFC 3339 text of a time in UTC to the nanosecond, trailing zeros of the fraction left out (none at
 * all on a whole second), as Go's time.RFC3339Nano writes it: the OpenTelemetry Collector writes an
 * OpenCensus node's start time this way, and a Date alone would cut it to the millisecond. Undefined
 * outside what a Date can hold (±273,790 years).
 */
export function isoTime(nanos: bigint): string | undefined {
  const seconds = nanos >= 0n ? nanos / 1_000_000_000n : -((-nanos + 999_999_999n) / 1_000_000_000n);
  if (seconds > 8_640_000_000_000n || seconds < -8_640_000_000_000n) return undefined;
  const fraction = nanos - seconds * 1_000_000_000n;
  const whole = new Date(Number(seconds) * 1000).toISOString().slice(0, -5); // without ".000Z"
  return fraction === 0n ? `${whole}Z` : `${whole}.${fraction.toString().padStart(9, '0').replace(/0+$/, '')}Z`;
}
