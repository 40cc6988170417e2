/**
 * Trace affinity between the workers of one collector (`span-relay run --workers N`): every worker
 * decodes what its connections bring, keeps the spans whose trace it owns and hands the rest to the
 * owner over a Unix socket, so each worker's join still sees whole traces. The owner is picked from
 * the low 64 bits of the trace ID, as the loadbalancing exporter does between replicas, so a 64-bit
 * Zipkin ID and the 128-bit ID of the same request meet in the same worker.
 *
 * A handoff is acknowledged only once the owner's pipeline has accepted the spans; a refusal there
 * (backpressure) reaches the client as the receiver's own refusal, so nothing is acknowledged twice
 * or dropped between workers.
 */
import { createServer, type Server } from 'node:http';
import { rmSync } from 'node:fs';
import type { Consumer } from '../component.js';
import { BackpressureError, type BackpressureReason } from '../model/errors.js';
import { HttpPoster } from '../net/http-client.js';
import { readBody, sendJson } from '../net/http-server.js';
import type { Span, SpanBatch } from '../model/span.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import { encodeOtlpProto } from '../protocol/otlp/encode.js';
import { decodeOtlpProto } from '../protocol/otlp/decode.js';
import { NO_LIMITS } from '../model/limits.js';

/**
 * Spans handed over by another worker: OTLP protobuf with span-relay's own fields (source, Zipkin
 * `shared`, 64-bit trace IDs), so they arrive exactly as the sending worker decoded them. The
 * sender's receiver already held them to its limits; a span that does not come back is an error
 * (500 to the sender, the client's failure), never a silent loss.
 */
function handedOver(body: Buffer): Span[] {
  const result = decodeOtlpProto(body, NO_LIMITS, { internal: true, lazy: true });
  if (result.rejected.length > 0) throw new Error(`handoff: ${result.rejected.length} span(s) did not decode: ${result.rejected[0]!.message}`);
  return result.spans;
}

/** The worker (0..n-1) that owns a trace: a mix of its low 64 bits, unrelated to the loadbalancing ring's hash. */
export function workerOf(traceId: string, n: number): number {
  if (n <= 1) return 0;
  const low = traceId.length > 16 ? traceId.slice(-16) : traceId.padStart(16, '0');
  const hi = parseInt(low.slice(0, 8), 16) | 0;
  const lo = parseInt(low.slice(8), 16) | 0;
  let h = Math.imul(hi ^ Math.imul(lo, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) % n;
}

export function handoffSocketPath(dir: string, worker: number): string {
  return `${dir}/worker-${worker}.sock`;
}

interface Refusal {
  reason?: BackpressureReason;
  error: string;
}

/** Sends spans to one peer worker and waits for its pipeline's answer. */
class Peer {
  private readonly poster: HttpPoster;

  constructor(
    private readonly socketPath: string,
    private readonly telemetry: Telemetry,
  ) {
    this.poster = new HttpPoster(undefined, socketPath);
  }

  async send(receiver: string, spans: Span[]): Promise<void> {
    // Spans at a receiver's head carry no durability token (that is set further on): nothing is lost by encoding them.
    let answer;
    try {
      answer = await this.poster.post(new URL(`http://worker/handoff/${encodeURIComponent(receiver)}`), encodeOtlpProto({ spans }, true), {});
    } catch (err) {
      // A peer that is gone (restarting) is backpressure to the client: it retries later.
      this.telemetry.warnLimited(`handoff:${this.socketPath}`, { peer: this.socketPath, err: (err as Error).message }, `hand-off to the worker at ${this.socketPath} failed: ${(err as Error).message}; the client is told to retry`);
      throw new BackpressureError(`the worker that owns these traces is unavailable (${(err as Error).message})`, 'shutting_down');
    }
    if (answer.status === 204) return;
    let refusal: Refusal = { error: `worker answered ${answer.status}` };
    try {
      refusal = JSON.parse(answer.body.toString('utf8')) as Refusal;
    } catch {
      // keep the status
    }
    throw refusal.reason ? new BackpressureError(refusal.error, refusal.reason) : new Error(`handoff to ${this.socketPath}: ${refusal.error}`);
  }

  close(): void {
    this.poster.close();
  }
}

/** In front of a receiver's pipelines: the spans this worker owns go on, the others to their owners. */
export class AffinityRouter implements Consumer {
  private readonly handedOff;

  constructor(
    private readonly receiver: string,
    private readonly self: number,
    private readonly peers: readonly (Peer | undefined)[],
    private readonly local: Consumer,
    telemetry: Telemetry,
  ) {
    this.handedOff = telemetry.counter('span_relay_worker_handoff_spans_total', 'Spans a worker decoded and handed to the worker that owns their trace', ['from', 'to']);
  }

  async consume(batch: SpanBatch): Promise<void> {
    const n = this.peers.length;
    const parts: Span[][] = Array.from({ length: n }, () => []);
    for (const s of batch.spans) parts[workerOf(s.traceId, n)]!.push(s);
    const sends: Promise<void>[] = [];
    for (let w = 0; w < n; w++) {
      const spans = parts[w]!;
      if (spans.length === 0) continue;
      if (w === this.self) sends.push(this.local.consume(spans.length === batch.spans.length ? batch : { spans }));
      else {
        sends.push(this.peers[w]!.send(this.receiver, spans));
        this.handedOff.inc({ from: String(this.self), to: String(w) }, spans.length);
      }
    }
    // Every part must be accepted before the client is: the first refusal is the answer.
    const results = await Promise.allSettled(sends);
    const refused = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (refused) throw refused.reason;
  }
}

/** Takes spans other workers hand over and feeds them to the named receiver's pipelines here. */
export class HandoffServer {
  private readonly server: Server;
  private readonly peers: (Peer | undefined)[];

  constructor(
    private readonly socketDir: string,
    private readonly self: number,
    count: number,
    private readonly heads: (receiver: string) => Consumer | undefined,
    private readonly telemetry: Telemetry,
  ) {
    this.peers = Array.from({ length: count }, (_, w) => (w === self ? undefined : new Peer(handoffSocketPath(socketDir, w), telemetry)));
    this.server = createServer((req, res) => {
      const receiver = decodeURIComponent((req.url ?? '').replace(/^\/handoff\//, ''));
      const head = this.heads(receiver);
      if (req.method !== 'POST') {
        req.resume();
        return sendJson(res, 404, { error: 'POST /handoff/<receiver>' });
      }
      if (!head) {
        // Every worker runs the same config: a receiver not here yet is one still starting.
        req.resume();
        return sendJson(res, 503, { error: `worker ${this.self} is still starting`, reason: 'shutting_down' } satisfies Refusal);
      }
      // The sending worker's receiver has already held the request to its own limits.
      readBody(req, Number.POSITIVE_INFINITY)
        .then((b) => head.consume({ spans: handedOver(b) }))
        .then(
          () => res.writeHead(204).end(),
          (err: unknown) => {
            if (err instanceof BackpressureError) return sendJson(res, 503, { error: err.message, reason: err.reason } satisfies Refusal);
            this.telemetry.reportUnexpected(err, 'worker handoff');
            sendJson(res, 500, { error: err instanceof Error ? err.message : String(err) } satisfies Refusal);
          },
        );
    });
  }

  /** Wraps a receiver's pipelines so that spans of traces other workers own go to them. */
  router(receiver: string, local: Consumer): Consumer {
    return new AffinityRouter(receiver, this.self, this.peers, local, this.telemetry);
  }

  start(): Promise<void> {
    // The peers keep their connections: no idle timeout to race a hand-off against.
    this.server.keepAliveTimeout = 0;
    const path = handoffSocketPath(this.socketDir, this.self);
    rmSync(path, { force: true });
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      // exclusive: a worker's own socket, not one the cluster primary would share out.
      this.server.listen({ path, exclusive: true }, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  async shutdown(): Promise<void> {
    for (const p of this.peers) p?.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
