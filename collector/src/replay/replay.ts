/** The replay loop: pacing, rate, loops, rewrites, protocol conversion, retry under backpressure, summary. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { CaptureProtocol } from '../capture/format.js';
import type { Span } from '../model/span.js';
import { encodeOtlpProto } from '../protocol/otlp/encode.js';
import { encodeJaegerThriftBatch } from '../protocol/jaeger/encode.js';
import { toJaegerBatches } from '../protocol/jaeger/model.js';
import { modelToZipkinV2 } from '../protocol/zipkin/encode.js';
import { modelToOcRequests } from '../protocol/opencensus/encode.js';
import { earliestPerTrace, IdMapper, shiftTime } from './transform.js';
import { Senders, type Outbound, type SendOutcome, type Targets } from './senders.js';
import type { ReplayInput, ReplayItem } from './inputs.js';

export interface ReplayOptions {
  targets: Targets;
  /** Convert everything to this protocol; default: each capture's own, OTLP/HTTP for files. */
  as?: CaptureProtocol;
  /** 1 = original pacing, N = N× faster, 'max' = as fast as the target accepts. */
  speed: number | 'max';
  shiftTime: boolean;
  newIds: boolean;
  loop: number;
  /** Spans per second, at most. */
  rate?: number;
  /** Requests in flight at --speed max. */
  concurrency: number;
  /** How long one request may be retried while the target pushes back. */
  maxRetryMs: number;
  /** How long connections may be refused, before anything was ever accepted, until replay gives up. */
  connectTimeoutMs?: number;
  onProgress?: (p: Progress) => void;
}

export interface Progress {
  done: number;
  total: number;
  sentSpans: number;
}

export interface ReplaySummary {
  requests: number;
  sentSpans: number;
  acceptedSpans: number;
  refusedSpans: number;
  refusedRequests: number;
  /** Reason → refused requests and the spans they held. */
  refused: Record<string, { requests: number; spans: number }>;
  retries: number;
  durationMs: number;
  problems: ReplayInput['problems'];
}

function encode(spans: Span[], protocol: CaptureProtocol): Outbound[] {
  const n = spans.length;
  switch (protocol) {
    case 'zipkin':
      return [{ protocol, body: Buffer.from(JSON.stringify(modelToZipkinV2(spans))), contentType: 'application/json', path: '/api/v2/spans', spans: n }];
    case 'otlp-http':
      return [{ protocol, body: Buffer.from(encodeOtlpProto({ spans })), contentType: 'application/x-protobuf', spans: n }];
    case 'otlp-grpc':
      return [{ protocol, body: Buffer.from(encodeOtlpProto({ spans })), contentType: 'application/grpc+proto', spans: n }];
    case 'jaeger-thrift':
      return toJaegerBatches({ spans }).map((b) => ({ protocol, body: encodeJaegerThriftBatch(b), contentType: 'application/x-thrift', spans: b.spans.length }));
    case 'opencensus':
      return modelToOcRequests(spans).map((m) => ({ protocol, body: m.bytes, contentType: 'application/grpc+proto', stream: m.resourceKey, spans: m.spans }));
  }
}

class TokenBucket {
  private tokens: number;
  private last = performance.now();
  constructor(private readonly perSecond: number) {
    this.tokens = perSecond;
  }
  async take(n: number): Promise<void> {
    for (;;) {
      const now = performance.now();
      this.tokens = Math.min(this.perSecond, this.tokens + ((now - this.last) / 1000) * this.perSecond);
      this.last = now;
      if (this.tokens >= Math.min(n, this.perSecond)) {
        this.tokens -= n;
        return;
      }
      await sleep(Math.ceil(((Math.min(n, this.perSecond) - this.tokens) / this.perSecond) * 1000));
    }
  }
}

export async function replay(input: ReplayInput, options: ReplayOptions): Promise<ReplaySummary> {
  const senders = new Senders(options.targets);
  const summary: ReplaySummary = { requests: 0, sentSpans: 0, acceptedSpans: 0, refusedSpans: 0, refusedRequests: 0, refused: {}, retries: 0, durationMs: 0, problems: [...input.problems] };
  const refuse = (reason: string, spans: number, requests = 1): void => {
    summary.refusedSpans += spans;
    summary.refusedRequests += requests;
    const r = (summary.refused[reason] ??= { requests: 0, spans: 0 });
    r.requests += requests;
    r.spans += spans;
  };
  const bucket = options.rate ? new TokenBucket(options.rate) : undefined;
  const total = input.items.length * options.loop;
  const t0 = performance.now();
  let done = 0;
  const earliest = earliestPerTrace(input.items.flatMap((i) => i.spans ?? []));

  // A target that refuses connections before it ever answered is not coming back soon: say so
  // within a few seconds instead of retrying every request for maxRetryMs.
  let reached = false;
  let unreachable: string | undefined;
  const deliver = async (o: Outbound): Promise<void> => {
    if (bucket) await bucket.take(o.spans);
    summary.requests++;
    summary.sentSpans += o.spans;
    const started = performance.now();
    let backoff = 50;
    for (;;) {
      if (unreachable) {
        refuse(unreachable, o.spans);
        return;
      }
      const outcome: SendOutcome = await senders.send(o);
      if (outcome.kind !== 'retry' || !outcome.unreachable) reached = true;
      else if (!reached && performance.now() - t0 > (options.connectTimeoutMs ?? 3_000)) {
        unreachable ??= `nothing is listening at the target (${outcome.reason}); is it running, and is --to right?`;
        continue;
      }
      if (outcome.kind === 'accepted') {
        const refused = outcome.refusedSpans ?? 0;
        summary.acceptedSpans += o.spans - refused;
        if (refused > 0) refuse(outcome.reason ?? 'partial_success', refused, 0);
        return;
      }
      if (outcome.kind === 'refused') {
        refuse(outcome.reason, o.spans);
        return;
      }
      // Backpressure or a passing failure: slow down rather than lose spans.
      if (performance.now() - started > options.maxRetryMs) {
        refuse(`${outcome.reason} (gave up after ${Math.round(options.maxRetryMs / 1000)} s)`, o.spans);
        return;
      }
      summary.retries++;
      await sleep(outcome.afterMs ?? backoff);
      backoff = Math.min(backoff * 2, 2000);
    }
  };

  const outbound = (item: ReplayItem, mapper: IdMapper | undefined, nowNs: bigint): Outbound[] | string => {
    const target = options.as ?? item.protocol;
    const rewrite = options.newIds || options.shiftTime;
    if (!rewrite && target === item.protocol && item.raw) {
      return [{ protocol: target, body: item.raw, contentType: item.header?.contentType ?? 'application/octet-stream', path: item.header?.path, stream: item.stream, spans: item.spans?.length ?? 0 }];
    }
    if (!item.spans) return 'undecodable';
    let spans = item.spans;
    if (options.shiftTime) spans = shiftTime(spans, earliest, nowNs);
    if (mapper) spans = mapper.apply(spans);
    // A converted OpenCensus message goes on its process's stream (a captured stream keeps its own).
    return encode(spans, target).map((o) => (target === 'opencensus' && item.stream ? { ...o, stream: `${item.stream}|${o.stream}` } : o));
  };

  const inFlight = new Set<Promise<void>>();
  const streamTails = new Map<string, Promise<void>>();
  for (let loop = 0; loop < options.loop; loop++) {
    const mapper = options.newIds ? new IdMapper() : undefined;
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    const loopStart = performance.now();
    const firstAt = input.items.find((i) => i.at !== undefined)?.at;
    for (const item of input.items) {
      if (options.speed !== 'max' && item.at !== undefined && firstAt !== undefined) {
        const due = loopStart + (item.at - firstAt) / options.speed;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
      }
      const out = outbound(item, mapper, nowNs);
      if (typeof out === 'string') {
        summary.problems.push({ file: item.origin, reason: `cannot ${options.as ? `convert to ${options.as}` : 'rewrite'}: the captured request could not be decoded` });
        refuse(out, 0, 0);
        done++;
        continue;
      }
      const work = async (): Promise<void> => {
        for (const o of out) {
          if (o.stream !== undefined) {
            // Messages of one stream go in order, one at a time.
            const prev = streamTails.get(o.stream) ?? Promise.resolve();
            const next = prev.then(() => deliver(o));
            streamTails.set(o.stream, next);
            await next;
          } else await deliver(o);
        }
        done++;
        options.onProgress?.({ done, total, sentSpans: summary.sentSpans });
      };
      if (options.speed === 'max' || options.rate) {
        const p = work().finally(() => inFlight.delete(p));
        inFlight.add(p);
        if (inFlight.size >= options.concurrency) await Promise.race(inFlight);
      } else {
        // Paced: send in order; the pacing gives the gaps.
        const p = work().finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
    }
    await Promise.all(inFlight);
  }
  await senders.close();
  for (const f of senders.streamFailures) summary.problems.push({ file: f.stream, reason: `OpenCensus stream ended with ${f.reason}` });
  summary.durationMs = performance.now() - t0;
  return summary;
}
