import type { CreateContext } from '../component.js';

/**
 * A receiver protocol's `auth`: undefined when none is configured, else a check of the
 * Authorization header (HTTP) or metadata (gRPC) against the named authenticator extension.
 */
export function authCheck(auth: { authenticator: string } | undefined, ctx: CreateContext): ((authorization: string | undefined) => boolean) | undefined {
  if (!auth) return undefined;
  return (authorization) => ctx.authenticator?.(auth.authenticator)?.authenticate(authorization) ?? false;
}
