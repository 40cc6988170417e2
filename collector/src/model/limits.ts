/**
 * How much work one request may ask of a decoder. Receivers refuse a request over the span bound
 * with 413 (gRPC INVALID_ARGUMENT) before decoding its spans; a span over a per-span bound is
 * refused alone (400 / partial success naming the field), the good spans beside it kept. The
 * bounds are generous for real tracers (OpenTelemetry SDKs stop at 128 attributes per span) and
 * stop hostile bodies from holding the event loop.
 */
import { DecodeError } from './errors.js';

export interface DecodeLimits {
  /** Spans in one request (one HTTP body, one gRPC message, one datagram). */
  maxSpansPerRequest: number;
  /** Attributes (tags) of one span, and separately its events (annotations, logs) and its links. */
  maxAttributesPerSpan: number;
  maxEventsPerSpan: number;
  maxLinksPerSpan: number;
  /** Elements of one array attribute value, and how deep array and map values may nest. */
  maxArrayElements: number;
  maxValueDepth: number;
}

export const DEFAULT_LIMITS: DecodeLimits = {
  maxSpansPerRequest: 100_000,
  maxAttributesPerSpan: 1_000,
  maxEventsPerSpan: 1_000,
  maxLinksPerSpan: 1_000,
  maxArrayElements: 10_000,
  maxValueDepth: 16,
};

/** The request asks for more work than a limit allows: HTTP 413, gRPC INVALID_ARGUMENT. */
export class LimitExceededError extends DecodeError {
  constructor(field: string, count: number, limit: string, max: number) {
    super('limit_exceeded', field, count, `${count} is more than ${limit} (${max})`);
  }
}

export function checkSpanCount(count: number, limits: DecodeLimits, field = 'spans'): void {
  if (count > limits.maxSpansPerRequest) throw new LimitExceededError(field, count, 'max_spans_per_request', limits.maxSpansPerRequest);
}

/** A span's attributes, events and links counted against their bounds; throws for that span. */
export function checkPerSpan(field: string, attributes: number, events: number, links: number, limits: DecodeLimits): void {
  if (attributes > limits.maxAttributesPerSpan) throw new LimitExceededError(`${field}.attributes`, attributes, 'max_attributes_per_span', limits.maxAttributesPerSpan);
  if (events > limits.maxEventsPerSpan) throw new LimitExceededError(`${field}.events`, events, 'max_events_per_span', limits.maxEventsPerSpan);
  if (links > limits.maxLinksPerSpan) throw new LimitExceededError(`${field}.links`, links, 'max_links_per_span', limits.maxLinksPerSpan);
}

/** True when arrays/objects in `v` nest deeper than `max` (iterative: safe on any depth). */
export function nestsDeeperThan(v: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[v, 0]];
  let seen = 0;
  while (stack.length > 0) {
    const [x, d] = stack.pop()!;
    if (typeof x !== 'object' || x === null) continue;
    if (d >= max) return true;
    // Width is bounded by the body size the receiver already accepted.
    for (const child of Array.isArray(x) ? x : Object.values(x)) {
      if (typeof child === 'object' && child !== null) stack.push([child, d + 1]);
      if (++seen > 1_000_000) return true;
    }
  }
  return false;
}

/** For data span-relay made itself (re-encoding its own model): nothing to bound. */
export const NO_LIMITS: DecodeLimits = {
  maxSpansPerRequest: Infinity,
  maxAttributesPerSpan: Infinity,
  maxEventsPerSpan: Infinity,
  maxLinksPerSpan: Infinity,
  maxArrayElements: Infinity,
  maxValueDepth: Infinity,
};
