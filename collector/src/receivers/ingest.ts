import { BackpressureError, type DecodeError } from '../model/errors.js';
import type { DecodeResult } from '../model/decode-result.js';
import type { Consumer } from '../component.js';
import type { Telemetry } from '../telemetry/telemetry.js';

export type IngestOutcome =
  | { kind: 'accepted'; accepted: number; rejected: DecodeError[] }
  | { kind: 'backpressure'; accepted: 0; rejected: DecodeError[]; message: string };

/**
 * Hands decoded spans to the pipeline and does the receiver-side accounting that every receiver
 * shares: accepted / refused counters by reason, and a warning naming the first bad field.
 */
export async function ingest(result: DecodeResult, next: Consumer, telemetry: Telemetry, receiver: string, transport: string): Promise<IngestOutcome> {
  for (const [reason, n] of result.droppedFields) telemetry.droppedFields.inc({ receiver, reason }, n);
  for (const err of result.rejected) telemetry.refusedSpans.inc({ receiver, transport, reason: err.code });
  if (result.rejected.length > 0) {
    telemetry.logger.warn({ receiver, transport, refused: result.rejected.length, accepted: result.spans.length, first: result.rejected[0]!.message }, 'refused malformed spans');
  }
  if (result.spans.length > 0) {
    try {
      await next.consume({ spans: result.spans });
    } catch (err) {
      if (err instanceof BackpressureError) {
        telemetry.refusedSpans.inc({ receiver, transport, reason: err.reason }, result.spans.length);
        return { kind: 'backpressure', accepted: 0, rejected: result.rejected, message: err.message };
      }
      throw err;
    }
    telemetry.receivedSpans.inc({ receiver, transport }, result.spans.length);
  }
  return { kind: 'accepted', accepted: result.spans.length, rejected: result.rejected };
}

/** A decode failure of the whole request (malformed body and the like). */
export function refuseRequest(telemetry: Telemetry, receiver: string, transport: string, err: DecodeError): void {
  telemetry.refusedSpans.inc({ receiver, transport, reason: err.code });
  telemetry.logger.warn({ receiver, transport, code: err.code, field: err.field }, err.message);
}

export function rejectedSummary(rejected: DecodeError[], limit = 20): { code: string; field: string; message: string }[] {
  return rejected.slice(0, limit).map((e) => ({ code: e.code, field: e.field, message: e.message }));
}
