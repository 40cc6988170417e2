import { DecodeError } from '../../model/errors.js';

/** TBinaryProtocol, reading side: just what Jaeger's Batch needs, bounds-checked everywhere. */
export const T = { STOP: 0, BOOL: 2, BYTE: 3, DOUBLE: 4, I16: 6, I32: 8, I64: 10, STRING: 11, STRUCT: 12, MAP: 13, SET: 14, LIST: 15 } as const;

export class ThriftReader {
  pos = 0;
  private depth = 0;
  constructor(private readonly buf: Buffer) {}

  private need(n: number): void {
    if (n < 0 || this.pos + n > this.buf.length) throw new DecodeError('malformed_thrift', 'body', this.pos, `truncated Thrift data at byte ${this.pos}`);
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
  i64hex(): string {
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
  binary(): Buffer {
    const len = this.i32();
    this.need(len);
    const v = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return v;
  }
  string(): string {
    return this.binary().toString('utf8');
  }
  list(expect: number): number {
    const type = this.byte();
    const size = this.i32();
    if (size < 0 || size > this.buf.length) throw new DecodeError('malformed_thrift', 'body', size, `impossible list size at byte ${this.pos}`);
    if (size > 0 && type !== expect) throw new DecodeError('malformed_thrift', 'body', type, `list of type ${type}, expected ${expect}`);
    return size;
  }
  /** Calls `field(id, type)` for each field; the callback reads it or calls skip(type). */
  struct(field: (id: number, type: number) => void): void {
    if (++this.depth > 64) throw new DecodeError('malformed_thrift', 'body', this.depth, 'structs nested too deep');
    for (;;) {
      const type = this.byte();
      if (type === T.STOP) break;
      field(this.i16(), type);
    }
    this.depth--;
  }
  skip(type: number): void {
    switch (type) {
      case T.BOOL:
      case T.BYTE:
        this.need(1);
        this.pos += 1;
        return;
      case T.I16:
        this.need(2);
        this.pos += 2;
        return;
      case T.I32:
        this.need(4);
        this.pos += 4;
        return;
      case T.I64:
      case T.DOUBLE:
        this.need(8);
        this.pos += 8;
        return;
      case T.STRING:
        this.binary();
        return;
      case T.STRUCT:
        this.struct((_id, t) => this.skip(t));
        return;
      case T.LIST:
      case T.SET: {
        const et = this.byte();
        const n = this.i32();
        if (n < 0 || n > this.buf.length) throw new DecodeError('malformed_thrift', 'body', n, 'impossible collection size');
        for (let i = 0; i < n; i++) this.skip(et);
        return;
      }
      case T.MAP: {
        const kt = this.byte();
        const vt = this.byte();
        const n = this.i32();
        if (n < 0 || n > this.buf.length) throw new DecodeError('malformed_thrift', 'body', n, 'impossible map size');
        for (let i = 0; i < n; i++) {
          this.skip(kt);
          this.skip(vt);
        }
        return;
      }
      default:
        throw new DecodeError('malformed_thrift', 'body', type, `unknown Thrift type ${type} at byte ${this.pos}`);
    }
  }
}
