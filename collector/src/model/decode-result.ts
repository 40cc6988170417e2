import type { DecodeError } from './errors.js';
import type { Span } from './span.js';

/**
 * What a decoder makes of one request: the spans it could read, one error per span it refused
 * (so good spans beside bad ones are kept), and a count of smaller parts it dropped.
 */
export interface DecodeResult {
  spans: Span[];
  rejected: DecodeError[];
  droppedFields: Map<string, number>;
}

export function emptyResult(): DecodeResult {
  return { spans: [], rejected: [], droppedFields: new Map() };
}

export function countDropped(result: DecodeResult, reason: string, n = 1): void {
  result.droppedFields.set(reason, (result.droppedFields.get(reason) ?? 0) + n);
}
