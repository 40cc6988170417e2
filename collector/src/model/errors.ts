/** A command line (or the environment a command reads) that cannot be run: the CLI prints it with the command's usage and exits 2. */
export class UsageError extends Error {}

/** Errors with a stable `code`, the offending field and its (truncated) value. */
export class SpanRelayError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The value, short: scalars as JSON, containers described without walking them (they can nest without bound). */
function preview(value: unknown): string {
  let text: string;
  if (typeof value === 'string') text = JSON.stringify(value.length > 80 ? value.slice(0, 80) : value);
  else if (typeof value === 'bigint') text = value.toString();
  else if (Array.isArray(value)) text = `an array of ${value.length} element(s)`;
  else if (value instanceof Uint8Array) text = `${value.length} byte(s)`;
  else if (typeof value === 'object' && value !== null) {
    const keys = Object.keys(value);
    text = `an object with ${keys.length ? `keys ${keys.slice(0, 5).join(', ')}${keys.length > 5 ? ', ...' : ''}` : 'no keys'}`;
  } else text = String(JSON.stringify(value) ?? value);
  return text.length > 64 ? `${text.slice(0, 61)}...` : text;
}

/**
 * Input that cannot be turned into spans; receivers answer 400 / INVALID_ARGUMENT with it. Made
 * without a stack trace: a hostile body can ask for one per element, and a stack costs ~10 µs.
 */
export class DecodeError extends SpanRelayError {
  declare readonly field: string;
  declare readonly value: unknown;
  declare readonly reason: string;

  constructor(code: string, field: string, value: unknown, reason: string) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(code, `${field}: ${reason} (got ${preview(value)})`);
    Error.stackTraceLimit = limit;
    this.field = field;
    this.value = value;
    this.reason = reason;
  }
}

/** Why a stage refused: the label of span_relay_receiver_refused_spans_total{reason}. */
export type BackpressureReason = 'queue_full' | 'storage_full' | 'memory_limit' | 'buffer_full' | 'shutting_down';

/** The next stage cannot take more now; receivers answer 429/503 / RESOURCE_EXHAUSTED. */
export class BackpressureError extends SpanRelayError {
  constructor(
    message: string,
    readonly reason: BackpressureReason = 'queue_full',
  ) {
    super('backpressure', message);
  }
}

export class ConfigError extends SpanRelayError {
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super('invalid_config', path ? `${path}: ${reason}` : reason);
  }
}

/** A server could not listen on its endpoint; names the endpoint, the component and why. */
export class ListenError extends SpanRelayError {
  constructor(
    readonly endpoint: string,
    readonly reason: string,
    readonly component = '',
  ) {
    super('listen_failed', `${component ? `${component} ` : ''}cannot listen on ${endpoint}: ${reason}`);
  }

  /** Turns a bind failure (net, dgram or grpc-js) into a reason a user can act on. */
  static from(endpoint: string, err: unknown): ListenError {
    const e = err as NodeJS.ErrnoException;
    const text = `${e.code ?? ''} ${e.message ?? String(err)}`;
    let reason = e.message ?? String(err);
    if (/EADDRINUSE|address already in use/i.test(text)) reason = 'the address is already in use (is another collector running? pick another port in the config)';
    else if (/EACCES|permission denied/i.test(text)) reason = 'permission denied (ports below 1024 need privileges)';
    else if (/EADDRNOTAVAIL|cannot assign requested address/i.test(text)) reason = 'this machine has no such address';
    else if (/ENOTFOUND|EAI_AGAIN|getaddrinfo/i.test(text)) reason = 'the host name does not resolve';
    return new ListenError(endpoint, reason);
  }

  in(component: string): ListenError {
    return new ListenError(this.endpoint, this.reason, component);
  }
}

/** A send that failed; `retryable` decides between backoff and giving up. */
export class ExportError extends SpanRelayError {
  constructor(
    code: string,
    message: string,
    readonly retryable: boolean,
    readonly retryAfterMs?: number,
  ) {
    super(code, message);
  }
}
