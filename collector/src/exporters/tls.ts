import { z } from 'zod';
import { section } from '../config/schema-helpers.js';

export const tlsSettings = section(z.strictObject({ insecure: z.boolean().default(false), insecure_skip_verify: z.boolean().default(false) }));
export const headersSetting = z.record(z.string(), z.string()).default({});

/** otelcol's rule: plain text when tls.insecure is set or the endpoint says http://. */
export function isInsecure(endpoint: string, tls: { insecure: boolean }): boolean {
  return tls.insecure || endpoint.startsWith('http://');
}
