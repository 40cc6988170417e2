/**
 * Text in wire bytes, for the binary readers (protobuf, Thrift): UTF-8 read the way protobuf's and
 * node's own decoders read it (a leading byte order mark is kept, as Buffer#toString keeps it), with
 * short ASCII strings kept in a small table. Keys, names and most values repeat from span to span,
 * so a string seen before is read once, by the comparison, and every span that holds it holds one
 * copy instead of its own.
 */
import { isUtf8 } from 'node:buffer';

/** Strings up to this many bytes are looked up in (and kept in) a table of this many slots. */
const MAX_INTERNED = 48;
const INTERNED_SLOTS = 4096;
/** A 32-bit hash shifted right by this gives a slot: its top log2(INTERNED_SLOTS) bits. */
const INTERNED_SHIFT = 32 - Math.log2(INTERNED_SLOTS);
const interned: (string | undefined)[] = new Array<string | undefined>(INTERNED_SLOTS).fill(undefined);

// ignoreBOM: true keeps a leading U+FEFF in the text (the default drops it, which no wire format does).
const loose = new TextDecoder('utf-8', { ignoreBOM: true });

/**
 * Bytes [start, end) of `buf` as text; `strict`: undefined when they are not UTF-8 (proto3's rule for
 * string fields), else a malformed sequence reads as U+FFFD.
 */
function text(buf: Buffer, start: number, end: number, strict: boolean): string | undefined {
  const n = end - start;
  if (n > MAX_INTERNED) {
    if (strict && !isUtf8(buf.subarray(start, end))) return undefined;
    return buf.toString('utf8', start, end);
  }
  if (n <= 0) return '';
  // The slot comes from the length and three bytes (first, middle, last); strings that share a
  // slot only take turns in it.
  const slot = Math.imul(n ^ (buf[start]! << 8) ^ (buf[start + (n >> 1)]! << 16) ^ (buf[end - 1]! << 24), 0x9e3779b1) >>> INTERNED_SHIFT;
  const known = interned[slot];
  if (known !== undefined && known.length === n) {
    // A table entry is ASCII, so a byte from 0x80 up never matches.
    let i = 0;
    while (i < n && known.charCodeAt(i) === buf[start + i]) i++;
    if (i === n) return known;
  }
  for (let i = start; i < end; i++) {
    if (buf[i]! >= 0x80) {
      if (strict) return isUtf8(buf.subarray(start, end)) ? buf.toString('utf8', start, end) : undefined;
      return loose.decode(buf.subarray(start, end));
    }
  }
  const str = buf.toString('latin1', start, end);
  interned[slot] = str;
  return str;
}

/** Bytes [start, end) of `buf` as UTF-8 text; a malformed sequence reads as U+FFFD. */
export function utf8Text(buf: Buffer, start: number, end: number): string {
  return text(buf, start, end, false)!;
}

/** Bytes [start, end) of `buf` as UTF-8 text, or undefined when they are not UTF-8. */
export function utf8TextStrict(buf: Buffer, start: number, end: number): string | undefined {
  return text(buf, start, end, true);
}
