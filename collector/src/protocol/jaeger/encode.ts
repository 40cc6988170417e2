import type { JaegerBatch, JaegerTag } from './model.js';

/**
 * Jaeger's Thrift `Batch` in TBinaryProtocol, written by hand: it is a few dozen bytes of framing
 * per span, and a generic Thrift runtime costs more than the encoding itself.
 */
const T_BOOL = 2;
const T_DOUBLE = 4;
const T_I32 = 8;
const T_I64 = 10;
const T_STRING = 11;
const T_STRUCT = 12;
const T_LIST = 15;

const TAG_TYPES = { string: 0, float64: 1, bool: 2, int64: 3, binary: 4 } as const;

class BinaryWriter {
  private buf = Buffer.allocUnsafe(4096);
  private pos = 0;

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  field(type: number, id: number): void {
    this.ensure(3);
    this.buf.writeInt8(type, this.pos);
    this.buf.writeInt16BE(id, this.pos + 1);
    this.pos += 3;
  }
  stop(): void {
    this.ensure(1);
    this.buf[this.pos++] = 0;
  }
  i32(v: number): void {
    this.ensure(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
  }
  i64(v: bigint): void {
    this.ensure(8);
    this.buf.writeBigInt64BE(BigInt.asIntN(64, v), this.pos);
    this.pos += 8;
  }
  /** A 64-bit ID given as 16 hex digits, written as its raw 8 bytes. */
  i64hex(hex: string): void {
    this.ensure(8);
    this.buf.write(hex.padStart(16, '0'), this.pos, 8, 'hex');
    this.pos += 8;
  }
  double(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleBE(v, this.pos);
    this.pos += 8;
  }
  bool(v: boolean): void {
    this.ensure(1);
    this.buf[this.pos++] = v ? 1 : 0;
  }
  string(v: string): void {
    const len = Buffer.byteLength(v);
    this.ensure(4 + len);
    this.buf.writeInt32BE(len, this.pos);
    this.buf.write(v, this.pos + 4, len, 'utf8');
    this.pos += 4 + len;
  }
  binary(v: Uint8Array): void {
    this.ensure(4 + v.length);
    this.buf.writeInt32BE(v.length, this.pos);
    this.buf.set(v, this.pos + 4);
    this.pos += 4 + v.length;
  }
  list(elemType: number, size: number): void {
    this.ensure(5);
    this.buf.writeInt8(elemType, this.pos);
    this.buf.writeInt32BE(size, this.pos + 1);
    this.pos += 5;
  }
  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

function writeTag(w: BinaryWriter, tag: JaegerTag): void {
  w.field(T_STRING, 1);
  w.string(tag.key);
  w.field(T_I32, 2);
  w.i32(TAG_TYPES[tag.type]);
  switch (tag.type) {
    case 'string':
      w.field(T_STRING, 3);
      w.string(tag.value);
      break;
    case 'float64':
      w.field(T_DOUBLE, 4);
      w.double(tag.value);
      break;
    case 'bool':
      w.field(T_BOOL, 5);
      w.bool(tag.value);
      break;
    case 'int64':
      w.field(T_I64, 6);
      w.i64(tag.value);
      break;
    case 'binary':
      w.field(T_STRING, 7);
      w.binary(tag.value);
      break;
  }
  w.stop();
}

function writeTags(w: BinaryWriter, id: number, tags: JaegerTag[]): void {
  w.field(T_LIST, id);
  w.list(T_STRUCT, tags.length);
  for (const t of tags) writeTag(w, t);
}

const micros = (nanos: bigint): bigint => nanos / 1000n;

export function encodeJaegerThriftBatch(batch: JaegerBatch): Buffer {
  const w = new BinaryWriter();
  w.field(T_STRUCT, 1);
  w.field(T_STRING, 1);
  w.string(batch.process.serviceName);
  writeTags(w, 2, batch.process.tags);
  w.stop();
  w.field(T_LIST, 2);
  w.list(T_STRUCT, batch.spans.length);
  for (const s of batch.spans) {
    w.field(T_I64, 1);
    w.i64hex(s.traceIdLow);
    w.field(T_I64, 2);
    w.i64hex(s.traceIdHigh);
    w.field(T_I64, 3);
    w.i64hex(s.spanId);
    w.field(T_I64, 4);
    w.i64hex(s.parentSpanId);
    w.field(T_STRING, 5);
    w.string(s.operationName);
    w.field(T_LIST, 6);
    w.list(T_STRUCT, s.references.length);
    for (const r of s.references) {
      w.field(T_I32, 1);
      w.i32(r.type === 'child_of' ? 0 : 1);
      w.field(T_I64, 2);
      w.i64hex(r.traceIdLow);
      w.field(T_I64, 3);
      w.i64hex(r.traceIdHigh);
      w.field(T_I64, 4);
      w.i64hex(r.spanId);
      w.stop();
    }
    w.field(T_I32, 7);
    w.i32(s.flags);
    w.field(T_I64, 8);
    w.i64(micros(s.startNanos));
    w.field(T_I64, 9);
    w.i64(micros(s.durationNanos));
    writeTags(w, 10, s.tags);
    w.field(T_LIST, 11);
    w.list(T_STRUCT, s.logs.length);
    for (const l of s.logs) {
      w.field(T_I64, 1);
      w.i64(micros(l.timestampNanos));
      writeTags(w, 2, l.fields);
      w.stop();
    }
    w.stop();
  }
  w.stop();
  return w.finish();
}
