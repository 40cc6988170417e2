/**
 * The hand-off's framing between the workers of one collector, on a Unix stream socket: each
 * message is `length (u32) · id (u32) · code (u8) · text length (u16) · text · payload`, length
 * counting what follows it. A request carries the receiver's name as its text and the spans as its
 * payload; its answer carries the same id, a code (CODE) and, for a refusal, a JSON text.
 *
 * It replaced HTTP over the same socket: at 10,000 spans/s node:http's per-request machinery
 * (ClientRequest, the agent, the parser, IncomingMessage and ServerResponse on both sides) was the
 * largest single part of what a second worker cost (README, "Every core of one machine").
 */

/** What a frame is: a request, or its answer (a refusal's text says why, as JSON). */
export const CODE = { request: 0, accepted: 1, refused: 2, failed: 3 } as const;
export type FrameCode = (typeof CODE)[keyof typeof CODE];

export interface Frame {
  id: number;
  code: number;
  text: string;
  payload: Buffer;
}

const HEAD = 4 + 4 + 1 + 2;
/** Far above any request a receiver accepts; a length past it is a stream out of step, not a message. */
const MAX_FRAME = 1 << 30;

/** One message, ready for one socket write. */
export function frame(id: number, code: FrameCode, text: string, payload?: Uint8Array): Buffer {
  const textBytes = Buffer.byteLength(text);
  const size = HEAD + textBytes + (payload?.length ?? 0);
  const out = Buffer.allocUnsafe(size);
  out.writeUInt32BE(size - 4, 0);
  out.writeUInt32BE(id, 4);
  out.writeUInt8(code, 8);
  out.writeUInt16BE(textBytes, 9);
  out.write(text, HEAD, 'utf8');
  if (payload) out.set(payload, HEAD + textBytes);
  return out;
}

/** Cuts a socket's chunks into frames; the payloads share the chunks' memory. */
export class FrameReader {
  private rest: Buffer | undefined;

  /** Calls `onFrame` for every whole frame; throws when the stream is out of step (the caller closes it). */
  push(chunk: Buffer, onFrame: (f: Frame) => void): void {
    let buf = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    this.rest = undefined;
    while (buf.length >= 4) {
      const size = buf.readUInt32BE(0);
      if (size < HEAD - 4 || size > MAX_FRAME) throw new Error(`hand-off framing: a frame of ${size} bytes`);
      if (buf.length < size + 4) break;
      const textEnd = HEAD + buf.readUInt16BE(9);
      if (textEnd > size + 4) throw new Error(`hand-off framing: a text longer than its frame`);
      onFrame({ id: buf.readUInt32BE(4), code: buf[8]!, text: buf.toString('utf8', HEAD, textEnd), payload: buf.subarray(textEnd, size + 4) });
      buf = buf.subarray(size + 4);
    }
    if (buf.length > 0) this.rest = buf;
  }
}
