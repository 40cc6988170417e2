import * as grpc from '@grpc/grpc-js';
import type { Consumer, CreateContext } from '../component.js';
import { DecodeError } from '../model/errors.js';
import type { DecodeResult } from '../model/decode-result.js';
import { statusError } from '../net/grpc-server.js';
import { ingest, refuseRequest, type IngestOutcome } from './ingest.js';

/**
 * A unary gRPC export call as every span-relay gRPC receiver answers it: decode the raw request,
 * INVALID_ARGUMENT for a request with no readable spans, RESOURCE_EXHAUSTED when the pipeline
 * refuses, else the protocol's own response built from what was accepted.
 */
export function unaryIngest(
  ctx: CreateContext,
  receiver: string,
  next: () => Consumer,
  decode: (body: Buffer) => DecodeResult,
  respond: (outcome: IngestOutcome) => Buffer | grpc.ServiceError,
  onRequest?: (body: Buffer) => void,
  authorize?: (authorization: string | undefined) => boolean,
): grpc.handleUnaryCall<Buffer, Buffer> {
  return (call, callback) => {
    if (authorize && !authorize(metadataAuthorization(call.metadata))) {
      ctx.telemetry.refusedSpans.inc({ receiver, transport: 'grpc', reason: 'unauthenticated' });
      callback(statusError(grpc.status.UNAUTHENTICATED, 'missing or wrong authorization (bearer token)'));
      return;
    }
    onRequest?.(call.request);
    let result: DecodeResult;
    try {
      result = decode(call.request);
    } catch (err) {
      if (err instanceof DecodeError) {
        refuseRequest(ctx.telemetry, receiver, 'grpc', err);
        callback(statusError(grpc.status.INVALID_ARGUMENT, err.message));
        return;
      }
      ctx.telemetry.logger.error({ err, receiver: ctx.id }, 'grpc request failed to decode');
      callback(statusError(grpc.status.INTERNAL, 'internal error'));
      return;
    }
    ingest(result, next(), ctx.telemetry, receiver, 'grpc').then(
      (outcome) => {
        if (outcome.kind === 'backpressure') {
          callback(statusError(grpc.status.RESOURCE_EXHAUSTED, outcome.message));
          return;
        }
        const answer = respond(outcome);
        if (Buffer.isBuffer(answer)) callback(null, answer);
        else callback(answer);
      },
      (err: unknown) => {
        ctx.telemetry.logger.error({ err, receiver: ctx.id }, 'grpc export failed');
        callback(statusError(grpc.status.UNAVAILABLE, 'pipeline failed'));
      },
    );
  };
}

export function metadataAuthorization(md: grpc.Metadata): string | undefined {
  const v = md.get('authorization')[0];
  return typeof v === 'string' ? v : undefined;
}

/**
 * For protocols with no partial-success answer (Jaeger's PostSpans): refused spans beside accepted
 * ones are an INVALID_ARGUMENT the client sees (and does not retry), naming the first bad field.
 */
export function refusedAsInvalidArgument(outcome: IngestOutcome): Buffer | grpc.ServiceError {
  if (outcome.rejected.length === 0) return Buffer.alloc(0);
  return statusError(grpc.status.INVALID_ARGUMENT, `${outcome.rejected.length} span(s) refused, ${outcome.accepted} accepted: ${outcome.rejected[0]!.message}`);
}
