/**
 * The one span type every stage of span-relay sees. Receivers decode into it, processors change it,
 * exporters encode from it. IDs are lowercase hex so they can be compared and joined cheaply; a
 * 64-bit trace ID stays 16 hex digits (not padded) so the join stage can tell it apart from a
 * 128-bit one. Times are integer nanoseconds since the epoch: no float rounding anywhere.
 */
export type SpanKind = 'unspecified' | 'internal' | 'server' | 'client' | 'producer' | 'consumer';

export type AttributeValue =
  | string
  | number
  | boolean
  | bigint
  | Uint8Array
  | readonly AttributeValue[]
  | { readonly [key: string]: AttributeValue };

export type Attributes = Record<string, AttributeValue>;

export interface SpanEvent {
  timeUnixNano: bigint;
  name: string;
  attributes: Attributes;
}

export interface SpanLink {
  traceId: string;
  spanId: string;
  traceState?: string;
  attributes: Attributes;
  droppedAttributesCount?: number;
  /** The linked context's W3C trace flags, and OTLP's has-is-remote / is-remote bits (8, 9). */
  flags?: number;
}

export type StatusCode = 'unset' | 'ok' | 'error';

export interface SpanStatus {
  code: StatusCode;
  message?: string;
}

/**
 * Decoders share one Resource (and one InstrumentationScope) among the spans they came with, so
 * their optional fields cost nothing per span; the OTLP encoder groups spans by all of them.
 */
export interface Resource {
  attributes: Attributes;
  droppedAttributesCount?: number;
  /** OTLP's ResourceSpans.schema_url: the schema the resource's attributes follow. */
  schemaUrl?: string;
}

export interface InstrumentationScope {
  /** Empty when a sender gave only the other fields (OTLP's scope name is optional). */
  name: string;
  version?: string;
  attributes?: Attributes;
  droppedAttributesCount?: number;
  /** OTLP's ScopeSpans.schema_url: the schema the spans of this scope follow. */
  schemaUrl?: string;
}

/** Which wire format a span arrived in; the join stage uses it to reason about ID widths. */
export type SpanSource = 'zipkin' | 'opencensus' | 'otlp' | 'jaeger' | 'replay';

export interface Span {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  traceState?: string;
  flags?: number;
  name: string;
  kind: SpanKind;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: Attributes;
  events: SpanEvent[];
  links: SpanLink[];
  status: SpanStatus;
  resource: Resource;
  scope?: InstrumentationScope;
  /** Zipkin's `shared`: this server span reuses its client's span ID. */
  shared?: boolean;
  source: SpanSource;
  /**
   * Set when the span was written to storage before it was acknowledged: the exporters settle it
   * (delivered, durably queued, or given up for good) and a stage that drops it on purpose
   * (a duplicate) releases it, so the log keeps exactly what may still be lost.
   */
  ack?: SpanAck;
  droppedAttributesCount?: number;
  droppedEventsCount?: number;
  droppedLinksCount?: number;
}

export interface SpanAck {
  /** One exporter is done with the span. */
  done(): void;
  /**
   * Done for `exporters` exporters at once: the span is dropped on purpose before them (a
   * duplicate), or a stage before them made it durable (the join's write-ahead log, which owes it
   * to them from then on). A stage passes the number of exporters its pipeline ends in.
   */
  drop(exporters: number): void;
}

/** Settles each span's durability token: every exporter calls it once per span it is done with. */
export function settle(spans: readonly Span[]): void {
  for (const s of spans) s.ack?.done();
}

/** What flows between stages. A batch never holds spans for which a stage already refused. */
export interface SpanBatch {
  spans: Span[];
}

/**
 * Shared and frozen, so that a span held in memory (the join holds seconds of traffic) does not carry
 * an object of its own for what most spans have: no attributes on an event or link, a status with
 * no message. Decoders use these; a stage that changes one makes a new object (frozen: writing to
 * a shared one throws instead of changing every span).
 */
export const NO_ATTRIBUTES: Attributes = Object.freeze({});
const STATUSES: Readonly<Record<StatusCode, SpanStatus>> = Object.freeze({
  unset: Object.freeze({ code: 'unset' }),
  ok: Object.freeze({ code: 'ok' }),
  error: Object.freeze({ code: 'error' }),
});

export function spanStatus(code: StatusCode, message?: string): SpanStatus {
  return message ? { code, message } : STATUSES[code];
}

/** `attrs`, or the shared NO_ATTRIBUTES when it is empty. */
export function sharedIfEmpty(attrs: Attributes): Attributes {
  for (const _ in attrs) return attrs;
  return NO_ATTRIBUTES;
}

/** The empty array decoders give every span without events or links: shared, frozen like NO_ATTRIBUTES. */
const NO_ITEMS: readonly never[] = Object.freeze([]);

/** `[]`, shared (a held span without links would otherwise carry an array of its own, 32 bytes). */
export function noItems<T>(): T[] {
  return NO_ITEMS as unknown as T[];
}

/** `xs` in an array of its own length (one grown by push keeps room for 17 elements); empty, the shared one. */
export function trimmed<T>(xs: T[]): T[] {
  return xs.length === 0 ? noItems() : xs.slice();
}

export const SERVICE_NAME = 'service.name';

export function serviceNameOf(span: Span): string | undefined {
  const name = span.resource.attributes[SERVICE_NAME];
  return typeof name === 'string' ? name : undefined;
}

/**
 * Sets an attribute from wire data. `out[key] = value` with the key `__proto__` would set the
 * object's prototype (a sender's kvlist turned into inherited attributes) instead of an attribute.
 */
export function setAttribute(out: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else out[key] = value;
}

/** Copies `from`'s attributes into `out` (a later key wins): Object.assign, unless a key would set the prototype. */
export function copyAttributes(out: Record<string, unknown>, from: Readonly<Record<string, unknown>>): void {
  if (!Object.hasOwn(from, '__proto__')) Object.assign(out, from);
  else for (const k of Object.keys(from)) setAttribute(out, k, from[k]);
}
