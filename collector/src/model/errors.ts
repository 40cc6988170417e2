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

function preview(value: unknown): string {
  let text: string;
  if (typeof value === 'string') text = JSON.stringify(value);
  else if (typeof value === 'bigint') text = value.toString();
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  return text.length > 64 ? `${text.slice(0, 61)}...` : text;
}

/** Input that cannot be turned into spans; receivers answer 400 / INVALID_ARGUMENT with it. */
export class DecodeError extends SpanRelayError {
  constructor(
    code: string,
    readonly field: string,
    readonly value: unknown,
    readonly reason: string,
  ) {
    super(code, `${field}: ${reason} (got ${preview(value)})`);
  }
}

/** The next stage cannot take more now; receivers answer 429/503 / RESOURCE_EXHAUSTED. */
export class BackpressureError extends SpanRelayError {
  constructor(message: string) {
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
