import { z } from 'zod';

/** A config section where a key with no value (YAML null) means "all defaults", as in otelcol. */
export function section<T extends z.ZodType>(schema: T) {
  return z.preprocess((v) => v ?? {}, schema);
}

export const endpoint = (defaultValue: string) =>
  z
    .string()
    .regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s]*):\d{1,5}$/, 'expected host:port')
    .refine((v) => Number(v.slice(v.lastIndexOf(':') + 1)) <= 65_535, { message: 'port is out of range (0-65535)' })
    .default(defaultValue);

export const duration = (defaultValue: string) =>
  z
    .union([z.string(), z.number()])
    .default(defaultValue)
    .transform((v, ctx) => {
      const ms = parseDuration(v);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: 'expected a duration such as 200ms, 5s or 1m' });
        return z.NEVER;
      }
      return ms;
    });

/** Go-style durations as otelcol configs use them ("5s", "200ms", "1m30s"); a bare number is ms. */
export function parseDuration(v: string | number): number | undefined {
  if (typeof v === 'number') return v >= 0 ? v : undefined;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g;
  let total = 0;
  let consumed = 0;
  for (const m of v.matchAll(re)) {
    const n = Number(m[1]);
    const unit = m[2]!;
    const factor = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit]!;
    total += n * factor;
    consumed += m[0].length;
  }
  return consumed === v.length && consumed > 0 ? total : undefined;
}
