/**
 * What replay sends: captured requests (raw bytes, their protocol and receive time) and spans read
 * from the files users already have. Captured bytes are also decoded, to count spans and to allow
 * transforming or converting them.
 */
import { readFile } from 'node:fs/promises';
import { decodeCapture, isCapture, type CaptureHeader, type CaptureProblem, type CaptureProtocol } from '../capture/format.js';
import { DecodeError } from '../model/errors.js';
import type { Attributes, Span } from '../model/span.js';
import { decodeTraceDocument } from '../formats/read.js';
import { decodeZipkinProto, decodeZipkinV1Json, decodeZipkinV2Json } from '../protocol/zipkin/decode.js';
import { decodeOtlpJson, decodeOtlpProto } from '../protocol/otlp/decode.js';
import { decodeOcRequest, ocRequestToModel, ocResourceAttributes, type OcNode, type OcResource } from '../protocol/opencensus/decode.js';
import { decodeJaegerThriftBatch } from '../protocol/jaeger/decode.js';

export interface ReplayItem {
  /** Where it came from, for messages: `file` or `file#record`. */
  origin: string;
  protocol: CaptureProtocol;
  /** Receive time (ms) for captured requests; undefined for file inputs (no pacing). */
  at: number | undefined;
  header: CaptureHeader | undefined;
  raw: Buffer | undefined;
  /** The spans in it; undefined when the captured bytes cannot be decoded (sent raw as they were). */
  spans: Span[] | undefined;
  stream: string | undefined;
}

export interface ReplayInput {
  items: ReplayItem[];
  problems: { file: string; position?: number; reason: string }[];
}

function decodeCaptured(h: CaptureHeader, body: Buffer, streams: Map<string, { node?: OcNode; resource?: OcResource; attrs: Attributes }>): Span[] {
  switch (h.protocol) {
    case 'zipkin': {
      const proto = h.contentType?.includes('protobuf');
      return (proto ? decodeZipkinProto(body) : h.path === '/api/v1/spans' ? decodeZipkinV1Json(body) : decodeZipkinV2Json(body)).spans;
    }
    case 'otlp-http':
      return (h.contentType === 'application/json' ? decodeOtlpJson(body) : decodeOtlpProto(body)).spans;
    case 'otlp-grpc':
      return decodeOtlpProto(body).spans;
    case 'jaeger-thrift':
      return decodeJaegerThriftBatch(body).spans;
    case 'opencensus': {
      // Node and resource carry over between the messages of one stream.
      const key = h.stream ?? '';
      const st = streams.get(key) ?? { attrs: {} };
      streams.set(key, st);
      const req = decodeOcRequest(body);
      if (req.node || req.resource) {
        if (req.node) st.node = req.node;
        if (req.resource) st.resource = req.resource;
        st.attrs = ocResourceAttributes(st.node, st.resource);
      }
      return ocRequestToModel(req.spans, st.attrs).spans;
    }
  }
}

export async function readReplayInputs(paths: string[]): Promise<ReplayInput> {
  const items: ReplayItem[] = [];
  const problems: ReplayInput['problems'] = [];
  for (const file of paths) {
    const buf = await readFile(file);
    if (isCapture(buf) || file.endsWith('.srcap')) {
      const { records, problems: bad } = decodeCapture(buf);
      for (const p of bad as CaptureProblem[]) problems.push({ file, position: p.position, reason: p.reason });
      const streams = new Map<string, { node?: OcNode; resource?: OcResource; attrs: Attributes }>();
      records.forEach((r, i) => {
        let spans: Span[] | undefined;
        try {
          spans = decodeCaptured(r.header, r.body, streams);
        } catch (err) {
          if (!(err instanceof DecodeError)) throw err;
          spans = undefined;
        }
        items.push({ origin: `${file}#${i}`, protocol: r.header.protocol, at: r.header.receivedAt, header: r.header, raw: r.body, spans, stream: r.header.stream });
      });
      continue;
    }
    const { result } = decodeTraceDocument(buf.toString('utf8'));
    for (const e of result.rejected) problems.push({ file, reason: e.message });
    items.push({ origin: file, protocol: 'otlp-http', at: undefined, header: undefined, raw: undefined, spans: result.spans, stream: undefined });
  }
  // Captures from several files (or receivers) interleave by receive time.
  const timed = items.filter((i) => i.at !== undefined).sort((a, b) => a.at! - b.at!);
  return { items: [...timed, ...items.filter((i) => i.at === undefined)], problems };
}
