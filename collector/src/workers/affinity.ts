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
import { rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { Consumer } from '../component.js';
import { BackpressureError, type BackpressureReason } from '../model/errors.js';
import type { Span, SpanBatch } from '../model/span.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import { encodeOtlpProto } from '../protocol/otlp/encode.js';
import { decodeOtlpProto } from '../protocol/otlp/decode.js';
import { NO_LIMITS } from '../model/limits.js';
import { CODE, FrameReader, frame, type Frame, type FrameCode } from './frames.js';

/**
 * Spans handed over by another worker: OTLP protobuf with span-relay's own fields (source, Zipkin
 * `shared`, 64-bit trace IDs), so they arrive exactly as the sending worker decoded them. The
 * sender's receiver already held them to its limits; a span that does not come back is an error
 * (a failure answered to the sender, the client's failure), never a silent loss.
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

/** One connection to a peer worker and the requests waiting for their answers on it. */
interface Connection {
  socket: Socket;
  waiting: Map<number, { resolve: (f: Frame) => void; reject: (err: Error) => void }>;
  /** Whether a request has been answered on it: a connection the peer closed under a later one was kept alive too long. */
  used: boolean;
}

/** Sends spans to one peer worker and waits for its pipeline's answer. */
class Peer {
  private connection: Connection | undefined;
  private nextId = 1;

  constructor(
    private readonly socketPath: string,
    private readonly telemetry: Telemetry,
  ) {}

  async send(receiver: string, spans: Span[]): Promise<void> {
    // Spans at a receiver's head carry no durability token (that is set further on): nothing is lost by encoding them.
    const body = encodeOtlpProto({ spans }, true);
    let answer: Frame;
    try {
      answer = await this.exchange(receiver, body).catch((err: NodeJS.ErrnoException & { reused?: boolean }) => {
        // A kept-alive connection the peer closed (it restarted) while this request was written:
        // sent once more on a new connection.
        if (err.reused && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) return this.exchange(receiver, body);
        throw err;
      });
    } catch (err) {
      // A peer that is gone (restarting) is backpressure to the client: it retries later.
      this.telemetry.warnLimited(`handoff:${this.socketPath}`, { peer: this.socketPath, err: (err as Error).message }, `hand-off to the worker at ${this.socketPath} failed: ${(err as Error).message}; the client is told to retry`);
      throw new BackpressureError(`the worker that owns these traces is unavailable (${(err as Error).message})`, 'shutting_down');
    }
    if (answer.code === CODE.accepted) return;
    let refusal: Refusal = { error: `worker answered with code ${answer.code}` };
    try {
      refusal = JSON.parse(answer.text) as Refusal;
    } catch {
      // keep the code
    }
    throw refusal.reason ? new BackpressureError(refusal.error, refusal.reason) : new Error(`handoff to ${this.socketPath}: ${refusal.error}`);
  }

  private exchange(receiver: string, body: Buffer): Promise<Frame> {
    const c = this.connect();
    const id = this.nextId;
    this.nextId = (this.nextId % 0xffffffff) + 1;
    return new Promise<Frame>((resolve, reject) => {
      c.waiting.set(id, { resolve, reject });
      c.socket.write(frame(id, CODE.request, receiver, body));
    });
  }

  private connect(): Connection {
    if (this.connection?.socket.writable) return this.connection;
    const c: Connection = { socket: createConnection(this.socketPath), waiting: new Map(), used: false };
    this.connection = c;
    const reader = new FrameReader();
    let failure: (NodeJS.ErrnoException & { reused?: boolean }) | undefined;
    c.socket.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk, (f) => {
          const w = c.waiting.get(f.id);
          c.waiting.delete(f.id);
          c.used = true;
          w?.resolve(f);
        });
      } catch (err) {
        c.socket.destroy(err as Error);
      }
    });
    c.socket.on('error', (err: NodeJS.ErrnoException) => (failure = err));
    c.socket.on('close', () => {
      if (this.connection === c) this.connection = undefined;
      const err: NodeJS.ErrnoException & { reused?: boolean } = failure ?? new Error('the connection closed before an answer');
      err.reused = c.used;
      for (const w of c.waiting.values()) w.reject(err);
      c.waiting.clear();
    });
    return c;
  }

  close(): void {
    this.connection?.socket.destroy();
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
  private readonly connections = new Set<Socket>();

  constructor(
    private readonly socketDir: string,
    private readonly self: number,
    count: number,
    private readonly heads: (receiver: string) => Consumer | undefined,
    private readonly telemetry: Telemetry,
  ) {
    this.peers = Array.from({ length: count }, (_, w) => (w === self ? undefined : new Peer(handoffSocketPath(socketDir, w), telemetry)));
    this.server = createServer((socket) => {
      const reader = new FrameReader();
      socket.on('data', (chunk: Buffer) => {
        try {
          reader.push(chunk, (f) => this.take(socket, f));
        } catch (err) {
          socket.destroy(err as Error);
        }
      });
      // A sender that went away fails its own waiting requests; nothing to answer here.
      socket.on('error', () => undefined);
      this.connections.add(socket);
      socket.on('close', () => this.connections.delete(socket));
    });
  }

  private take(socket: Socket, f: Frame): void {
    const answer = (code: FrameCode, refusal?: Refusal): void => {
      if (!socket.destroyed) socket.write(frame(f.id, code, refusal ? JSON.stringify(refusal) : ''));
    };
    const head = this.heads(f.text);
    // Every worker runs the same config: a receiver not here yet is one still starting.
    if (!head) return answer(CODE.refused, { error: `worker ${this.self} is still starting`, reason: 'shutting_down' });
    // The sending worker's receiver has already held the request to its own limits.
    Promise.resolve()
      .then(() => head.consume({ spans: handedOver(f.payload) }))
      .then(
        () => answer(CODE.accepted),
        (err: unknown) => {
          if (err instanceof BackpressureError) return answer(CODE.refused, { error: err.message, reason: err.reason });
          this.telemetry.reportUnexpected(err, 'worker handoff');
          answer(CODE.failed, { error: err instanceof Error ? err.message : String(err) });
        },
      );
  }

  /** Wraps a receiver's pipelines so that spans of traces other workers own go to them. */
  router(receiver: string, local: Consumer): Consumer {
    return new AffinityRouter(receiver, this.self, this.peers, local, this.telemetry);
  }

  start(): Promise<void> {
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
    for (const socket of this.connections) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
