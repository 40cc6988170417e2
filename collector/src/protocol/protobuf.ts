/**
 * The protobuf wire format, by hand: a reader over a byte range and a writer that grows one buffer.
 * The OTLP codecs decode straight into the span model and encode straight from it with these, so a
 * request costs no intermediate object tree (protobufjs builds one object per message, per field
 * default, per Long). The reader checks every length against its range: a truncated or hostile
 * message is a `WireError`, never a read past the end.
 */
import { utf8Text } from './text.js';

export class WireError extends Error {}

// fixed64 through one aligned 8-byte scratch: reading its BigUint64Array element makes one BigInt,
// where Buffer's readBigUInt64LE makes four (two halves, a shift, a sum); writing one makes none.
// Little-endian hosts only (the wire is little-endian); elsewhere read/writeBigUInt64LE.
const SCRATCH = new Uint8Array(8);
const SCRATCH_U64 = new BigUint64Array(SCRATCH.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/** A hex digit's value by its char code; anything else reads as 0 (the model's IDs are lowercase hex). */
const NIBBLE = new Uint8Array(128);
for (let i = 0; i < 16; i++) NIBBLE['0123456789abcdef'.charCodeAt(i)] = NIBBLE['0123456789ABCDEF'.charCodeAt(i)] = i;

export class ProtoReader {
  pos: number;

  constructor(
    readonly buf: Buffer,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** True while a message ending at `end` has fields left; a field that ran past its message is an error. */
  more(end: number): boolean {
    if (this.pos < end) return true;
    if (this.pos > end) throw new WireError('a field runs past the end of its message');
    return false;
  }

  /** A varint that fits 32 bits (tags, lengths, enums, counts); longer ones are cut as protobuf does. */
  uint32(): number {
    const buf = this.buf;
    let b = this.byte(buf);
    if (b < 0x80) return b;
    let v = b & 0x7f;
    b = this.byte(buf);
    v |= (b & 0x7f) << 7;
    if (b < 0x80) return v;
    b = this.byte(buf);
    v |= (b & 0x7f) << 14;
    if (b < 0x80) return v;
    b = this.byte(buf);
    v |= (b & 0x7f) << 21;
    if (b < 0x80) return v;
    b = this.byte(buf);
    v = (v | ((b & 0x0f) << 28)) >>> 0;
    // Up to five more bytes of a 64-bit varint carry nothing a 32-bit field keeps.
    for (let i = 0; b >= 0x80; i++) {
      if (i === 5) throw new WireError('varint longer than 10 bytes');
      b = this.byte(buf);
    }
    return v;
  }

  /** A 64-bit varint as a signed integer: a number when it is safe, a bigint when not. */
  int64(): number | bigint {
    let lo = 0;
    let hi = 0;
    let b = 0;
    let shift = 0;
    for (; shift < 28; shift += 7) {
      b = this.byte(this.buf);
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) return lo;
    }
    b = this.byte(this.buf);
    lo |= (b & 0x0f) << 28;
    hi = (b & 0x7f) >> 4;
    for (shift = 3; b >= 0x80 && shift <= 31; shift += 7) {
      b = this.byte(this.buf);
      hi |= (b & 0x7f) << shift;
    }
    if (b >= 0x80) throw new WireError('varint longer than 10 bytes');
    // Below 2^53 (the high word under 2^21): a number, without the BigInts below. A timestamp's
    // seconds (~2^31) and most of its nanoseconds (up to 2^30) take five bytes, so come here.
    if (hi >>> 0 < 0x200000) return (hi >>> 0) * 4294967296 + (lo >>> 0);
    const big = BigInt.asIntN(64, (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0));
    return big >= -9007199254740991n && big <= 9007199254740991n ? Number(big) : big;
  }

  bool(): boolean {
    return this.uint32() !== 0;
  }

  fixed32(): number {
    const p = this.pos;
    if (p + 4 > this.end) throw new WireError('fixed32 runs past the end');
    this.pos = p + 4;
    return this.buf.readUInt32LE(p);
  }

  /** fixed64 as an unsigned bigint (timestamps in nanoseconds). */
  fixed64(): bigint {
    const p = this.pos;
    if (p + 8 > this.end) throw new WireError('fixed64 runs past the end');
    this.pos = p + 8;
    if (!LITTLE_ENDIAN) return this.buf.readBigUInt64LE(p);
    const b = this.buf;
    for (let i = 0; i < 8; i++) SCRATCH[i] = b[p + i]!;
    return SCRATCH_U64[0]!;
  }

  double(): number {
    const p = this.pos;
    if (p + 8 > this.end) throw new WireError('double runs past the end');
    this.pos = p + 8;
    return this.buf.readDoubleLE(p);
  }

  /** A length-delimited field: its end offset (the reader is left at its start). */
  delimited(): number {
    const len = this.uint32();
    const end = this.pos + len;
    if (end > this.end) throw new WireError(`length ${len} runs past the end`);
    return end;
  }

  /** Bytes of a length-delimited field, as a view (not a copy) of the message. */
  bytes(): Buffer {
    const end = this.delimited();
    const out = this.buf.subarray(this.pos, end);
    this.pos = end;
    return out;
  }

  /** Short ASCII strings come from a table (protocol/text.ts): one string each, not a copy per span. */
  string(): string {
    const end = this.delimited();
    const start = this.pos;
    this.pos = end;
    return utf8Text(this.buf, start, end);
  }

  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.uint32();
        return;
      case 1:
        this.pos += 8;
        break;
      case 2:
        this.pos = this.delimited();
        return;
      case 5:
        this.pos += 4;
        break;
      default:
        // Groups (3, 4) are not in any schema read here; 6 and 7 are not wire types at all.
        throw new WireError(`wire type ${wireType} at offset ${this.pos}`);
    }
    if (this.pos > this.end) throw new WireError('field runs past the end');
  }

  protected byte(buf: Buffer): number {
    if (this.pos >= this.end) throw new WireError('varint runs past the end');
    return buf[this.pos++]!;
  }
}

/** Wire types, for tags: (field << 3) | type. */
export const VARINT = 0;
export const I64 = 1;
export const LEN = 2;
export const I32 = 5;

/**
 * Writes a message into one growing buffer. A nested message is written in place after a one-byte
 * length; `end` fills the length in and, when it needs more bytes, moves the body up (rare: only
 * messages of 128 bytes or more, and each is moved once).
 */
export class ProtoWriter {
  buf: Buffer;
  pos = 0;

  constructor(size = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(size);
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  tag(field: number, wireType: number): void {
    this.varint((field << 3) | wireType);
  }

  varint(v: number): void {
    this.ensure(10);
    const buf = this.buf;
    let p = this.pos;
    while (v > 0x7f) {
      buf[p++] = (v & 0x7f) | 0x80;
      v = v >>> 7;
    }
    buf[p++] = v;
    this.pos = p;
  }

  /** int64 as protobuf writes it: negative values in ten bytes (two's complement). */
  int64(v: number | bigint): void {
    if (typeof v === 'number' && v >= 0 && v <= 0xffffffff) return this.varint(v);
    let u = BigInt.asUintN(64, BigInt(v));
    this.ensure(10);
    while (u > 0x7fn) {
      this.buf[this.pos++] = Number(u & 0x7fn) | 0x80;
      u >>= 7n;
    }
    this.buf[this.pos++] = Number(u);
  }

  fixed32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(v >>> 0, this.pos);
    this.pos += 4;
  }

  fixed64(v: bigint): void {
    this.ensure(8);
    const p = this.pos;
    this.pos = p + 8;
    if (!LITTLE_ENDIAN) {
      this.buf.writeBigUInt64LE(BigInt.asUintN(64, v), p);
      return;
    }
    // Through the scratch, which takes v modulo 2^64 as asUintN does: writeBigUInt64LE makes three
    // BigInts (two halves and a shift) per value, two per span's times and one per event.
    SCRATCH_U64[0] = v;
    const b = this.buf;
    for (let i = 0; i < 8; i++) b[p + i] = SCRATCH[i]!;
  }

  double(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  bytes(field: number, b: Uint8Array): void {
    this.tag(field, LEN);
    this.varint(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** Bytes [start, end) of `src` as they are: fields already in protobuf form. */
  raw(src: Uint8Array, start: number, end: number): void {
    this.ensure(end - start);
    this.buf.set(src.subarray(start, end), this.pos);
    this.pos += end - start;
  }

  /**
   * Hex (span and trace IDs) written as the `width` bytes it spells, zero bytes in front of a shorter
   * one: a 64-bit trace ID in OTLP's 16-byte field, without padding it to a new string first. By
   * hand: for 8 or 16 bytes a call into Buffer#write costs more than the loop (IDs were 3 % of the
   * main thread in an OpenCensus → OTLP profile; in process 430 → 170 ns a span for its four IDs).
   */
  hexBytes(field: number, hex: string, width = hex.length >> 1): void {
    this.tag(field, LEN);
    this.varint(width);
    this.ensure(width);
    const buf = this.buf;
    let p = this.pos;
    const digits = hex.length & ~1;
    for (let i = digits >> 1; i < width; i++) buf[p++] = 0;
    for (let i = 0; i < digits; i += 2) buf[p++] = (NIBBLE[hex.charCodeAt(i)]! << 4) | NIBBLE[hex.charCodeAt(i + 1)]!;
    this.pos = p;
  }

  string(field: number, s: string): void {
    this.tag(field, LEN);
    if (s.length < 43) {
      // At most 3 bytes per UTF-16 unit: fewer than 128 bytes, so a one-byte length.
      this.ensure(1 + s.length * 3);
      const buf = this.buf;
      const at = this.pos++;
      // ASCII (keys, names, most values) copied here: cheaper than a call into the encoder.
      let p = this.pos;
      for (let i = 0; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) {
          p = this.pos + buf.write(s, this.pos, 'utf8');
          break;
        }
        buf[p++] = c;
      }
      buf[at] = p - this.pos;
      this.pos = p;
      return;
    }
    const n = Buffer.byteLength(s, 'utf8');
    this.varint(n);
    this.ensure(n);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** Starts a nested message; pass what it returns to `end`. */
  begin(field: number): number {
    this.tag(field, LEN);
    this.ensure(1);
    return this.pos++;
  }

  end(at: number): void {
    const len = this.pos - at - 1;
    if (len < 0x80) {
      this.buf[at] = len;
      return;
    }
    let extra = 0;
    for (let v = len >>> 7; v > 0; v >>>= 7) extra++;
    this.ensure(extra);
    // copyWithin, not Buffer#copy: that makes a view of the source on every call (a span's worth of garbage).
    this.buf.copyWithin(at + 1 + extra, at + 1, this.pos);
    this.pos += extra;
    let v = len;
    let p = at;
    while (v > 0x7f) {
      this.buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[p] = v;
  }
}
