/** The per-route part of a Linkerd ServiceProfile the sidecar honours: retries and timeouts. */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { parseDuration } from '../../collector/src/config/schema-helpers.js';

export interface Route {
  name: string;
  method?: string;
  pathRegex: RegExp;
  isRetryable: boolean;
  timeoutMs?: number;
}

export interface ServiceProfile {
  name: string;
  routes: Route[];
  retryBudget: { retryRatio: number; minRetriesPerSecond: number; ttlMs: number };
}

interface ProfileDoc {
  metadata?: { name?: string };
  spec?: {
    routes?: { name?: string; condition?: { method?: string; pathRegex?: string }; isRetryable?: boolean; timeout?: string }[];
    retryBudget?: { retryRatio?: number; minRetriesPerSecond?: number; ttl?: string };
  };
}

export function loadProfile(path: string): ServiceProfile {
  const doc = parse(readFileSync(path, 'utf8')) as ProfileDoc;
  const rb = doc.spec?.retryBudget ?? {};
  return {
    name: doc.metadata?.name ?? path,
    routes: (doc.spec?.routes ?? []).map((r, i) => ({
      name: r.name ?? `route-${i}`,
      ...(r.condition?.method ? { method: r.condition.method.toUpperCase() } : {}),
      // ServiceProfile regexes match the whole path.
      pathRegex: new RegExp(`^(?:${r.condition?.pathRegex ?? '.*'})$`),
      isRetryable: r.isRetryable === true,
      ...(r.timeout ? { timeoutMs: parseDuration(r.timeout) } : {}),
    })),
    // Linkerd's defaults: 20% extra load, at least 10 retries/s, over a 10 s window.
    retryBudget: { retryRatio: rb.retryRatio ?? 0.2, minRetriesPerSecond: rb.minRetriesPerSecond ?? 10, ttlMs: parseDuration(rb.ttl ?? '10s') ?? 10_000 },
  };
}

export function matchRoute(profile: ServiceProfile | undefined, method: string, path: string): Route | undefined {
  return profile?.routes.find((r) => (!r.method || r.method === method.toUpperCase()) && r.pathRegex.test(path));
}

/** Retries allowed: minRetriesPerSecond × ttl, plus retryRatio of the requests, within the last ttl. */
export class RetryBudget {
  private readonly requests: number[] = [];
  private readonly retries: number[] = [];
  constructor(private readonly b: ServiceProfile['retryBudget']) {}

  private prune(now: number): void {
    while (this.requests.length && now - this.requests[0]! > this.b.ttlMs) this.requests.shift();
    while (this.retries.length && now - this.retries[0]! > this.b.ttlMs) this.retries.shift();
  }
  request(now = Date.now()): void {
    this.prune(now);
    this.requests.push(now);
  }
  tryRetry(now = Date.now()): boolean {
    this.prune(now);
    const allowed = this.b.minRetriesPerSecond * (this.b.ttlMs / 1000) + this.b.retryRatio * this.requests.length;
    if (this.retries.length >= allowed) return false;
    this.retries.push(now);
    return true;
  }
}
