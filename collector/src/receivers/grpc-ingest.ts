import type * as grpc from '@grpc/grpc-js';
import type { Consumer, CreateContext } from '../component.js';
import { DecodeError } from '../model/errors.js';
import type { DecodeResult } from '../model/decode-result.js';
import { GrpcStatus, GrpcStatusError, type UnaryAnswer, type UnaryMethod } from '../net/grpc-unary-server.js';
import { ingest, refuseRequest, type IngestOutcome } from './ingest.js';

const UNAUTHENTICATED = new GrpcStatusError(GrpcStatus.UNAUTHENTICATED, 'missing or wrong authorization (bearer token)');
const INTERNAL = new GrpcStatusError(GrpcStatus.INTERNAL, 'internal error');
const PIPELINE_FAILED = new GrpcStatusError(GrpcStatus.UNAVAILABLE, 'pipeline failed');

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
  respond: (outcome: IngestOutcome) => UnaryAnswer,
  onRequest?: (body: Buffer) => void,
  authorize?: (authorization: string | undefined) => boolean,
): UnaryMethod {
  return async ({ message, authorization }) => {
    if (authorize && !authorize(authorization)) {
      ctx.telemetry.refusedSpans.inc({ receiver, transport: 'grpc', reason: 'unauthenticated' });
      return UNAUTHENTICATED;
    }
    onRequest?.(message);
    let result: DecodeResult;
    try {
      result = decode(message);
    } catch (err) {
      if (err instanceof DecodeError) {
        refuseRequest(ctx.telemetry, receiver, 'grpc', err);
        return new GrpcStatusError(GrpcStatus.INVALID_ARGUMENT, err.message);
      }
      ctx.telemetry.logger.error({ err, receiver: ctx.id }, 'grpc request failed to decode');
      return INTERNAL;
    }
    let outcome: IngestOutcome;
    try {
      outcome = await ingest(result, next(), ctx.telemetry, receiver, 'grpc');
    } catch (err) {
      ctx.telemetry.logger.error({ err, receiver: ctx.id }, 'grpc export failed');
      return PIPELINE_FAILED;
    }
    if (outcome.kind === 'backpressure') return new GrpcStatusError(GrpcStatus.RESOURCE_EXHAUSTED, outcome.message);
    return respond(outcome);
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
export function refusedAsInvalidArgument(outcome: IngestOutcome): UnaryAnswer {
  if (outcome.rejected.length === 0) return Buffer.alloc(0);
  return new GrpcStatusError(GrpcStatus.INVALID_ARGUMENT, `${outcome.rejected.length} span(s) refused, ${outcome.accepted} accepted: ${outcome.rejected[0]!.message}`);
}
