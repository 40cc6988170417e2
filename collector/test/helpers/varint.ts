/** A non-negative integer as an unsigned varint's bytes (protobuf lengths and tags, Thrift compact lengths). */
export function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}
