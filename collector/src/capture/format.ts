/**
 * Capture files: one self-describing record per request, as received.
 *
 *   "SRC1" | u32 header length | header (JSON) | u32 body length | body | u32 CRC-32 of header+body
 *
 * The header says which protocol and content type the bytes are, when they arrived, and (for gRPC
 * streams) which stream and position they had. A reader that meets a bad record reports where it
 * is and resynchronises on the next "SRC1", so one torn write costs one record, not the file.
 */
import { crc32 } from 'node:zlib';

export const MAGIC = Buffer.from('SRC1');
const MAX_HEADER = 64 * 1024;
const MAX_BODY = 1024 * 1024 * 1024;

export type CaptureProtocol = 'zipkin' | 'otlp-http' | 'otlp-grpc' | 'opencensus' | 'jaeger-thrift';

export interface CaptureHeader {
  protocol: CaptureProtocol;
  /** Receive time, milliseconds since the epoch (fractional). */
  receivedAt: number;
  receiver: string;
  contentType?: string;
  /** HTTP path, e.g. /api/v1/spans vs /api/v2/spans. */
  path?: string;
  /** gRPC streams (OpenCensus): which stream, and the message's place in it. */
  stream?: string;
  seq?: number;
}

export interface CaptureRecord {
  header: CaptureHeader;
  body: Buffer;
}

export function encodeRecord(r: CaptureRecord): Buffer {
  const header = Buffer.from(JSON.stringify(r.header));
  const out = Buffer.allocUnsafe(4 + 4 + header.length + 4 + r.body.length + 4);
  let p = MAGIC.copy(out, 0);
  p = out.writeUInt32BE(header.length, p);
  p += header.copy(out, p);
  p = out.writeUInt32BE(r.body.length, p);
  p += r.body.copy(out, p);
  out.writeUInt32BE(crc32(r.body, crc32(header)), p);
  return out;
}

export interface CaptureProblem {
  /** Byte offset in the file where the bad record starts. */
  position: number;
  reason: string;
}

export function isCapture(buf: Buffer): boolean {
  return buf.length >= 4 && buf.subarray(0, 4).equals(MAGIC);
}

/** Every good record of a capture file, and where the bad ones were. */
export function decodeCapture(buf: Buffer): { records: CaptureRecord[]; problems: CaptureProblem[] } {
  const records: CaptureRecord[] = [];
  const problems: CaptureProblem[] = [];
  let pos = 0;
  const resync = (from: number, reason: string): void => {
    problems.push({ position: from, reason });
    const next = buf.indexOf(MAGIC, from + 1);
    pos = next < 0 ? buf.length : next;
  };
  while (pos < buf.length) {
    const start = pos;
    if (buf.length - pos < 12 || !buf.subarray(pos, pos + 4).equals(MAGIC)) {
      resync(start, buf.length - pos < 12 ? 'truncated record' : 'no record marker');
      continue;
    }
    const hlen = buf.readUInt32BE(pos + 4);
    if (hlen > MAX_HEADER || pos + 8 + hlen + 4 > buf.length) {
      resync(start, pos + 8 + hlen + 4 > buf.length ? 'truncated record (header)' : 'impossible header length');
      continue;
    }
    const headerBytes = buf.subarray(pos + 8, pos + 8 + hlen);
    const blen = buf.readUInt32BE(pos + 8 + hlen);
    const bodyStart = pos + 8 + hlen + 4;
    if (blen > MAX_BODY || bodyStart + blen + 4 > buf.length) {
      resync(start, bodyStart + blen + 4 > buf.length ? 'truncated record (body)' : 'impossible body length');
      continue;
    }
    const body = buf.subarray(bodyStart, bodyStart + blen);
    if (buf.readUInt32BE(bodyStart + blen) !== crc32(body, crc32(headerBytes))) {
      resync(start, 'checksum mismatch (corrupt record)');
      continue;
    }
    let header: CaptureHeader;
    try {
      header = JSON.parse(headerBytes.toString('utf8')) as CaptureHeader;
    } catch {
      resync(start, 'unreadable record header');
      continue;
    }
    records.push({ header, body: Buffer.from(body) });
    pos = bodyStart + blen + 4;
  }
  return { records, problems };
}
