/**
 * Reads the trace files users already have, by content: a Jaeger UI download, OTLP JSON (one
 * request, or JSON lines as file exporters write), a Zipkin JSON array (v2 or v1) or a list of them.
 */
import { readFile } from 'node:fs/promises';
import { DecodeError } from '../model/errors.js';
import { emptyResult, type DecodeResult } from '../model/decode-result.js';
import { decodeOtlpJson } from '../protocol/otlp/decode.js';
import { decodeZipkinV1Json, decodeZipkinV2Json } from '../protocol/zipkin/decode.js';
import { decodeJaegerJson, isJaegerJson } from './jaeger-json.js';

export type TraceFileFormat = 'jaeger-json' | 'otlp-json' | 'otlp-jsonl' | 'zipkin-v2-json' | 'zipkin-v1-json';

export interface TraceFile extends DecodeResult {
  path: string;
  format: TraceFileFormat;
}

function merge(into: DecodeResult, from: DecodeResult, prefix: string): void {
  for (const s of from.spans) into.spans.push(s);
  for (const e of from.rejected) into.rejected.push(new DecodeError(e.code, `${prefix}${e.field}`, e.value, e.reason));
  for (const [k, v] of from.droppedFields) into.droppedFields.set(k, (into.droppedFields.get(k) ?? 0) + v);
}

export function decodeTraceDocument(text: string): { format: TraceFileFormat; result: DecodeResult } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    // Not one JSON document: OTLP JSON lines.
    const result = emptyResult();
    text.split('\n').forEach((line, i) => {
      if (!line.trim()) return;
      try {
        merge(result, decodeOtlpJson(line), `line ${i + 1}: `);
      } catch (err) {
        if (err instanceof DecodeError) result.rejected.push(new DecodeError(err.code, `line ${i + 1}: ${err.field}`, err.value, err.reason));
        else throw err;
      }
    });
    return { format: 'otlp-jsonl', result };
  }
  if (isJaegerJson(doc)) return { format: 'jaeger-json', result: decodeJaegerJson(doc) };
  if (typeof doc === 'object' && doc !== null && !Array.isArray(doc) && 'resourceSpans' in doc) return { format: 'otlp-json', result: decodeOtlpJson(text) };
  if (Array.isArray(doc)) {
    const lists = doc.length > 0 && Array.isArray(doc[0]) ? (doc as unknown[][]) : [doc];
    const v1 = lists.some((l) => l.some((s) => typeof s === 'object' && s !== null && ('binaryAnnotations' in s || ('annotations' in s && !('localEndpoint' in s) && !('kind' in s)))));
    const result = emptyResult();
    lists.forEach((l, i) => merge(result, (v1 ? decodeZipkinV1Json : decodeZipkinV2Json)(JSON.stringify(l)), lists.length > 1 ? `traces[${i}].` : ''));
    return { format: v1 ? 'zipkin-v1-json' : 'zipkin-v2-json', result };
  }
  throw new DecodeError('unknown_format', 'file', text.slice(0, 40), 'not a Jaeger UI download, OTLP JSON or a Zipkin JSON array');
}

export async function readTraceFile(path: string): Promise<TraceFile> {
  const text = await readText(path);
  const { format, result } = decodeTraceDocument(text);
  return { path, format, ...result };
}

/** A file's text; `-` (or /dev/stdin, which readFile cannot open when stdin is a pipe or socket) is standard input. */
async function readText(path: string): Promise<string> {
  if (path !== '-' && path !== '/dev/stdin') return readFile(path, 'utf8');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
