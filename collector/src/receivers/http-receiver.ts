import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Consumer, CreateContext, Receiver } from '../component.js';
import { DecodeError } from '../model/errors.js';
import type { DecodeResult } from '../model/decode-result.js';
import { DEFAULT_HTTP_SERVER, HttpServer, PayloadTooLargeError, readBody, sendJson, type HttpServerOptions } from '../net/http-server.js';
import { CaptureWriter, type CaptureConfig } from '../capture/writer.js';
import type { CaptureProtocol } from '../capture/format.js';
import { ingest, refuseRequest, rejectedSummary } from './ingest.js';
import { DEFAULT_LIMITS, type DecodeLimits } from '../model/limits.js';
import { graceUntil } from '../net/http-server.js';
import type { ServerTlsSettings } from '../config/schema-helpers.js';
import { serverTls } from '../security/server-tls.js';
import { authCheck } from '../security/auth.js';

export interface HttpReceiverSettings extends Partial<Omit<HttpServerOptions, 'tls'>> {
  endpoint: string;
  tls?: ServerTlsSettings | undefined;
  auth?: { authenticator: string } | undefined;
  max_request_body_size: number;
  limits?: DecodeLimits | undefined;
  capture?: CaptureConfig | undefined;
}

function definedOnly(s: Partial<Omit<HttpServerOptions, 'tls'>>): Partial<HttpServerOptions> {
  const out: Partial<HttpServerOptions> = {};
  for (const k of ['read_header_timeout', 'read_timeout', 'idle_timeout', 'max_connections'] as const) if (s[k] !== undefined) out[k] = s[k];
  return out;
}

/**
 * What Zipkin's and Jaeger's collectors share: POST a body to a few paths, 202 when every span was
 * taken, 400 naming each refused span (the good ones beside it are kept), 413 / 415 / 503 as HTTP
 * means them. A receiver of this kind names its paths and decodes; the rest is here.
 */
export abstract class HttpSpanReceiver implements Receiver {
  private readonly server: HttpServer;
  private next: Consumer | undefined;
  private readonly capture: CaptureWriter | undefined;
  protected abstract readonly receiver: string;
  protected abstract readonly protocol: CaptureProtocol;
  /** Log the address at start; off when a receiver of several protocols logs them all at once. */
  protected readonly announce: boolean = true;
  /** How much work one request may ask; decoders take it. */
  protected readonly limits: DecodeLimits;
  private readonly authorize: ((authorization: string | undefined) => boolean) | undefined;

  constructor(
    private readonly settings: HttpReceiverSettings,
    protected readonly ctx: CreateContext,
    private readonly paths: Record<string, string>,
    private readonly defaultContentType = '',
    where = `receivers.${ctx.id}`,
  ) {
    this.authorize = authCheck(settings.auth, ctx);
    this.limits = settings.limits ?? DEFAULT_LIMITS;
    if (settings.capture?.enabled) this.capture = new CaptureWriter(settings.capture, ctx.id, ctx.telemetry);
    this.server = new HttpServer(settings.endpoint, (req, res) => this.handle(req, res), (err) => ctx.telemetry.reportUnexpected(err, `receiver ${ctx.id}`), { ...DEFAULT_HTTP_SERVER, ...definedOnly(settings), tls: serverTls(settings.tls, where, settings.endpoint, ctx.telemetry) });
  }

  /** Decodes one request body; throws DecodeError for a body that holds no readable spans. */
  protected abstract decode(path: string, contentType: string, body: Buffer): DecodeResult;

  async start(next: Consumer): Promise<void> {
    this.next = next;
    await this.server.start();
    if (this.announce) this.ctx.telemetry.logger.info({ receiver: this.ctx.id, endpoint: this.server.address() }, `${this.receiver} receiver listening`);
  }

  address(): string {
    return this.server.address();
  }

  async shutdown(deadline?: number): Promise<void> {
    await this.server.shutdown(graceUntil(deadline));
    await this.capture?.close();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '').split('?')[0]!;
    const transport = this.paths[path];
    if (!transport) {
      sendJson(res, 404, { error: `no such endpoint ${path}; POST to ${Object.keys(this.paths).join(' or ')}` });
      return;
    }
    if (req.method !== 'POST') {
      sendJson(res, 405, { error: 'use POST' }, { allow: 'POST' });
      return;
    }
    if (this.authorize && !this.authorize(req.headers.authorization)) {
      this.ctx.telemetry.refusedSpans.inc({ receiver: this.receiver, transport, reason: 'unauthenticated' });
      sendJson(res, 401, { error: 'missing or wrong authorization (bearer token)' }, { 'www-authenticate': 'Bearer', connection: 'close' });
      return;
    }
    const contentType = (req.headers['content-type'] ?? this.defaultContentType).split(';')[0]!.trim().toLowerCase();
    let result: DecodeResult;
    try {
      const body = await readBody(req, this.settings.max_request_body_size);
      this.capture?.record({ protocol: this.protocol, path, contentType }, body);
      result = this.decode(path, contentType, body);
    } catch (err) {
      if (err instanceof PayloadTooLargeError) {
        this.ctx.telemetry.refusedSpans.inc({ receiver: this.receiver, transport, reason: err.code });
        // The rest of the body is not read: close the connection after this answer, so the
        // client's next request starts on a clean one.
        sendJson(res, 413, { error: err.message }, { connection: 'close' });
        return;
      }
      if (err instanceof DecodeError) {
        refuseRequest(this.ctx.telemetry, this.receiver, transport, err);
        sendJson(res, err.code === 'unsupported_media_type' ? 415 : err.code === 'limit_exceeded' ? 413 : 400, { error: err.message, code: err.code, field: err.field });
        return;
      }
      throw err;
    }
    const outcome = await ingest(result, this.next!, this.ctx.telemetry, this.receiver, transport);
    if (outcome.kind === 'backpressure') {
      sendJson(res, 503, { error: outcome.message }, { 'retry-after': '1' });
    } else if (outcome.rejected.length > 0) {
      sendJson(res, 400, {
        error: `${outcome.rejected.length} span(s) refused, ${outcome.accepted} accepted: ${outcome.rejected[0]!.message}`,
        accepted: outcome.accepted,
        rejected: rejectedSummary(outcome.rejected),
      });
    } else {
      res.writeHead(202).end();
    }
  }
}
