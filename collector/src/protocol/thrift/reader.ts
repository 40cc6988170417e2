/**
 * Thrift readers for the two protocols tracers send: TBinaryProtocol (Jaeger over HTTP, Node's
 * jaeger-client over UDP, Zipkin v1 Thrift) and TCompactProtocol (the Jaeger agent's UDP port that
 * most jaeger clients use). Both give the same view: field types as TBinaryProtocol's type codes,
 * bounds checked everywhere, nesting limited, so a decoder is written once for either protocol.
 */
import { DecodeError } from '../../model/errors.js';
import { utf8Text } from '../text.js';

export const T = { STOP: 0, BOOL: 2, BYTE: 3, DOUBLE: 4, I16: 6, I32: 8, I64: 10, STRING: 11, STRUCT: 12, MAP: 13, SET: 14, LIST: 15 } as const;

/** TMessageType: what a Thrift message header says the message is. */
export const MessageType = { CALL: 1, REPLY: 2, EXCEPTION: 3, ONEWAY: 4 } as const;

export interface ThriftMessageHeader {
  name: string;
  type: number;
  seqid: number;
}

/** How deep structs and containers may nest before the data is refused (Jaeger needs 4). */
export const MAX_THRIFT_DEPTH = 64;

export interface ThriftReader {
  readonly pos: number;
  bool(): boolean;
  byte(): number;
  i16(): number;
  i32(): number;
  i64(): bigint;
  /** An i64 as 16 hex digits, two's complement (IDs). */
  i64hex(): string;
  double(): number;
  binary(): Buffer;
  string(): string;
  /** A list header: its size, once the element type is checked against `expect`. */
  list(expect: number): number;
  /** Calls `field(id, type)` for each field; the callback reads it or calls skip(type). */
  struct(field: (id: number, type: number) => void): void;
  /**
   * The same walk as a loop, for hot decoders (a closure per struct and a call through it per field
   * cost more than the reading): `const s = r.beginStruct()`, then while `(t = r.nextField()) !==
   * T.STOP` read field `r.fieldId` of type `t` or skip(t), then `r.endStruct(s)`.
   */
  beginStruct(): number;
  nextField(): number;
  readonly fieldId: number;
  endStruct(begun: number): void;
  skip(type: number): void;
  message(): ThriftMessageHeader;
}

abstract class BaseReader implements ThriftReader {
  pos = 0;
  fieldId = 0;
  protected depth = 0;
  constructor(protected readonly buf: Buffer) {}

  protected fail(message: string, value: unknown = this.pos): never {
    throw new DecodeError('malformed_thrift', 'body', value, message);
  }
  protected need(n: number): void {
    if (n < 0 || this.pos + n > this.buf.length) this.fail(`truncated Thrift data at byte ${this.pos}`);
  }
  protected enter(): void {
    if (++this.depth > MAX_THRIFT_DEPTH) this.fail(`Thrift data nested deeper than ${MAX_THRIFT_DEPTH} levels`, this.depth);
  }
  protected checkSize(n: number, what: string): void {
    // Every element takes at least one byte, so a count beyond the bytes left is a lie.
    if (n < 0 || n > this.buf.length - this.pos) this.fail(`impossible ${what} size ${n} at byte ${this.pos}`, n);
  }

  abstract bool(): boolean;
  abstract byte(): number;
  abstract i16(): number;
  abstract i32(): number;
  abstract i64(): bigint;
  abstract double(): number;
  abstract list(expect: number): number;
  abstract beginStruct(): number;
  abstract nextField(): number;
  abstract endStruct(begun: number): void;
  abstract message(): ThriftMessageHeader;
  /** Skips a list, set or map: the headers differ by protocol. */
  protected abstract skipContainer(type: number): void;

  i64hex(): string {
    return BigInt.asUintN(64, this.i64()).toString(16).padStart(16, '0');
  }
  /** A binary's length, checked against the bytes left; the reader is left at its first byte. */
  protected abstract binaryLength(): number;
  binary(): Buffer {
    const len = this.binaryLength();
    const v = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return v;
  }
  /**
   * Read where it lies, without a view of it: keys, names and most values are short ASCII that
   * repeats from span to span, which protocol/text.ts reads once and shares (Buffer#toString of a
   * view made a FastBuffer and went through toString's dispatch for every one: 21 % of the
   * collector's CPU on Jaeger Thrift at 10,000 spans/s).
   */
  string(): string {
    const len = this.binaryLength();
    const start = this.pos;
    this.pos += len;
    return utf8Text(this.buf, start, this.pos);
  }

  struct(field: (id: number, type: number) => void): void {
    const begun = this.beginStruct();
    for (let t = this.nextField(); t !== T.STOP; t = this.nextField()) field(this.fieldId, t);
    this.endStruct(begun);
  }

  skip(type: number): void {
    switch (type) {
      case T.BOOL:
        this.bool();
        return;
      case T.BYTE:
        this.byte();
        return;
      case T.I16:
        this.i16();
        return;
      case T.I32:
        this.i32();
        return;
      case T.I64:
        this.i64();
        return;
      case T.DOUBLE:
        this.double();
        return;
      case T.STRING:
        this.binary();
        return;
      case T.STRUCT:
        this.struct((_id, t) => this.skip(t));
        return;
      case T.LIST:
      case T.SET:
      case T.MAP:
        this.enter();
        this.skipContainer(type);
        this.depth--;
        return;
      default:
        this.fail(`unknown Thrift type ${type} at byte ${this.pos}`, type);
    }
  }
}

/** TBinaryProtocol: big-endian fixed-width integers, i32 lengths. */
export class BinaryThriftReader extends BaseReader {
  bool(): boolean {
    return this.byte() !== 0;
  }
  byte(): number {
    this.need(1);
    return this.buf.readInt8(this.pos++);
  }
  i16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  i32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  i64(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }
  override i64hex(): string {
    this.need(8);
    const v = this.buf.toString('hex', this.pos, this.pos + 8);
    this.pos += 8;
    return v;
  }
  double(): number {
    this.need(8);
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }
  protected binaryLength(): number {
    const len = this.i32();
    this.need(len);
    return len;
  }
  list(expect: number): number {
    const type = this.byte();
    const size = this.i32();
    this.checkSize(size, 'list');
    if (size > 0 && type !== expect) this.fail(`list of type ${type}, expected ${expect}`, type);
    return size;
  }
  protected skipContainer(type: number): void {
    const keyType = this.byte();
    const valueType = type === T.MAP ? this.byte() : keyType;
    const size = this.i32();
    this.checkSize(size, type === T.MAP ? 'map' : 'list');
    for (let i = 0; i < size; i++) {
      if (type === T.MAP) this.skip(keyType);
      this.skip(valueType);
    }
  }
  beginStruct(): number {
    this.enter();
    return 0;
  }
  nextField(): number {
    const type = this.byte();
    if (type !== T.STOP) this.fieldId = this.i16();
    return type;
  }
  endStruct(): void {
    this.depth--;
  }
  message(): ThriftMessageHeader {
    const first = this.i32();
    if (first < 0) {
      if ((first & 0xffff0000) !== (0x80010000 | 0)) this.fail(`bad Thrift binary protocol version ${(first >>> 0).toString(16)}`, first);
      const name = this.string();
      return { name, type: first & 0xff, seqid: this.i32() };
    }
    // The old non-strict header: the name's length comes first.
    this.pos -= 4;
    const name = this.string();
    const type = this.byte();
    return { name, type, seqid: this.i32() };
  }
}

const COMPACT_TO_T = [T.STOP, T.BOOL, T.BOOL, T.BYTE, T.I16, T.I32, T.I64, T.DOUBLE, T.STRING, T.LIST, T.SET, T.MAP, T.STRUCT] as const;

/** TCompactProtocol: zigzag varints, field-ID deltas, booleans folded into field headers. */
export class CompactThriftReader extends BaseReader {
  private lastFieldId = 0;
  private pendingBool: boolean | undefined;

  private u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  private varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      const b = this.u8();
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
    this.fail(`varint longer than 10 bytes at byte ${this.pos}`);
  }
  private varint32(): number {
    let result = 0;
    for (let i = 0, shift = 0; i < 5; i++, shift += 7) {
      const b = this.u8();
      result |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result >>> 0;
    }
    this.fail(`varint longer than 5 bytes at byte ${this.pos}`);
  }
  private zigzag32(): number {
    const n = this.varint32();
    return (n >>> 1) ^ -(n & 1);
  }
  private type(ct: number): number {
    const t = COMPACT_TO_T[ct];
    if (t === undefined || t === T.STOP) this.fail(`unknown Thrift compact type ${ct} at byte ${this.pos}`, ct);
    return t;
  }

  bool(): boolean {
    if (this.pendingBool !== undefined) {
      const v = this.pendingBool;
      this.pendingBool = undefined;
      return v;
    }
    return this.u8() === 1;
  }
  byte(): number {
    this.need(1);
    return this.buf.readInt8(this.pos++);
  }
  i16(): number {
    return this.zigzag32();
  }
  i32(): number {
    return this.zigzag32();
  }
  i64(): bigint {
    const n = this.varint();
    return (n >> 1n) ^ -(n & 1n);
  }
  double(): number {
    this.need(8);
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }
  protected binaryLength(): number {
    const len = this.varint32();
    this.need(len);
    return len;
  }
  private listHeader(): { type: number; size: number } {
    const b = this.u8();
    let size = b >> 4;
    if (size === 15) size = this.varint32();
    const type = this.type(b & 0x0f);
    this.checkSize(size, 'list');
    return { type, size };
  }
  list(expect: number): number {
    const { type, size } = this.listHeader();
    if (size > 0 && type !== expect) this.fail(`list of type ${type}, expected ${expect}`, type);
    return size;
  }
  protected skipContainer(type: number): void {
    if (type === T.MAP) {
      const size = this.varint32();
      this.checkSize(size, 'map');
      if (size > 0) {
        const kv = this.u8();
        const kt = this.type(kv >> 4);
        const vt = this.type(kv & 0x0f);
        for (let i = 0; i < size; i++) {
          this.skip(kt);
          this.skip(vt);
        }
      }
    } else {
      const { type: et, size } = this.listHeader();
      for (let i = 0; i < size; i++) this.skip(et);
    }
  }
  /** Field IDs are deltas from the struct's previous field: the enclosing struct's is kept for endStruct. */
  beginStruct(): number {
    this.enter();
    const outer = this.lastFieldId;
    this.lastFieldId = 0;
    return outer;
  }
  nextField(): number {
    // A bool field's value is in its header; one read or skipped has been taken, one left is dropped.
    this.pendingBool = undefined;
    const b = this.u8();
    const ct = b & 0x0f;
    if (ct === 0) return T.STOP;
    const delta = b >> 4;
    const id = delta === 0 ? this.i16() : this.lastFieldId + delta;
    this.lastFieldId = id;
    this.fieldId = id;
    if (ct === 1 || ct === 2) this.pendingBool = ct === 1;
    return this.type(ct);
  }
  endStruct(outer: number): void {
    this.pendingBool = undefined;
    this.lastFieldId = outer;
    this.depth--;
  }
  message(): ThriftMessageHeader {
    const protocolId = this.u8();
    if (protocolId !== 0x82) this.fail(`not Thrift compact protocol (first byte 0x${protocolId.toString(16)})`, protocolId);
    const vt = this.u8();
    if ((vt & 0x1f) !== 1) this.fail(`bad Thrift compact protocol version ${vt & 0x1f}`, vt);
    const seqid = this.varint32();
    return { name: this.string(), type: (vt >> 5) & 0x07, seqid };
  }
}
