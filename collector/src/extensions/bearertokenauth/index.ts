import { readFileSync, watchFile, unwatchFile } from 'node:fs';
import { timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { extensionFactory, type Authenticator, type Extension } from '../../component.js';
import { section } from '../../config/schema-helpers.js';

export const bearerTokenAuthConfig = section(
  z
    .strictObject({
      scheme: z.string().min(1).default('Bearer'),
      token: z.string().min(1).optional(),
      /** A file holding the token (a mounted Secret); read again when it changes. */
      filename: z.string().min(1).optional(),
    })
    .refine((c) => (c.token === undefined) !== (c.filename === undefined), { message: 'set exactly one of token or filename' }),
);

/**
 * The OpenTelemetry Collector's bearertokenauth extension, server side: a receiver protocol with
 * `auth: { authenticator: bearertokenauth }` takes a request only with `Authorization: <scheme>
 * <token>` (HTTP header or gRPC metadata); otherwise 401 / UNAUTHENTICATED.
 */
export class BearerTokenAuth implements Extension, Authenticator {
  private expected: Buffer;

  constructor(private readonly config: z.output<typeof bearerTokenAuthConfig>) {
    this.expected = this.load();
  }

  private load(): Buffer {
    const token = this.config.token ?? readFileSync(this.config.filename!, 'utf8').trim();
    return Buffer.from(`${this.config.scheme} ${token}`);
  }

  async start(): Promise<void> {
    if (this.config.filename) watchFile(this.config.filename, { interval: 1000 }, () => {
      try {
        this.expected = this.load();
      } catch {
        // A token file being rewritten: keep the last one read.
      }
    });
  }

  authenticate(authorization: string | undefined): boolean {
    if (!authorization) return false;
    const got = Buffer.from(authorization);
    return got.length === this.expected.length && timingSafeEqual(got, this.expected);
  }

  async shutdown(): Promise<void> {
    if (this.config.filename) unwatchFile(this.config.filename);
  }
}

export const bearerTokenAuthExtensionFactory = extensionFactory({
  type: 'bearertokenauth',
  config: bearerTokenAuthConfig,
  create: (config) => new BearerTokenAuth(config),
});
