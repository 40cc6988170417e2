/**
 * Routes (#32): requests against attempts, success rate, latency and timeouts per called service and
 * route, from the demo proxy's attempt spans and from OpenTelemetry's http.request.resend_count;
 * through the store and GET /api/routes.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Span } from '../src/model/span.js';
import { buildRoutes, routeOf } from '../src/exporters/embedded/routes.js';
import { span } from './join/spans.js';
import { retriedVote } from './helpers/routes.js';

describe('routes from traces', () => {
  it("the demo proxy's attempts: 1 request, N attempts; the outcome is the last attempt's; timeouts counted per attempt", () => {
    const rows = buildRoutes([retriedVote('a1', [503, 503, 200]), retriedVote('a2', [504, 504, 504]), retriedVote('a3', [200])]);
    expect(rows).toEqual([
      { service: 'voting-svc', route: 'POST /vote', requests: 3, attempts: 7, success_rate: 0.667, p50_ms: 98, p95_ms: 98, p99_ms: 98, timeouts: 3, callers: ['web'] },
    ]);
    expect(buildRoutes([retriedVote('a1', [200])], 'web')).toEqual([]);
  });

  it("OpenTelemetry's http.request.resend_count: sibling client spans of one call, the first without it", () => {
    const t = { traceId: 'b1' };
    const attempt = (id: string, start: number, resend: number | undefined, status: number) =>
      span(id, '1', 'checkout', start, start + 10, { ...t, kind: 'client', name: 'GET', attributes: { 'http.request.method': 'GET', 'http.route': '/stock/{id}', 'http.response.status_code': status, ...(resend ? { 'http.request.resend_count': resend } : {}) }, status: { code: status >= 500 ? 'error' : 'unset' } });
    const trace = [span('1', undefined, 'checkout', 0, 100, t), attempt('2', 1, undefined, 503), attempt('3', 20, 1, 503), attempt('4', 40, 2, 200), span('5', '4', 'stock', 41, 49, t)];
    expect(buildRoutes([trace])).toMatchObject([{ service: 'stock', route: 'GET /stock/{id}', requests: 1, attempts: 3, success_rate: 1, p50_ms: 49 }]);
  });

  it('names a route by http.route, the gRPC method, method and path, else the span name', () => {
    const s = (attributes: Span['attributes']) => span('1', undefined, 'x', 0, 1, { kind: 'client', name: 'the-name', attributes });
    expect(routeOf(s({ 'http.method': 'GET', 'http.route': '/a/{id}' }))).toBe('GET /a/{id}');
    expect(routeOf(s({ 'rpc.service': 'emojivoto.v1.VotingService', 'rpc.method': 'VoteDog' }))).toBe('/emojivoto.v1.VotingService/VoteDog');
    expect(routeOf(s({ 'http.method': 'GET', 'http.url': 'http://h/p/q?x=1' }))).toBe('GET /p/q');
    expect(routeOf(s({}))).toBe('the-name');
  });
});

describe('GET /api/routes', () => {
  it('answers the rows of the stored traces, for one service', async () => {
    const { TraceStore } = await import('../src/exporters/embedded/store.js');
    const { queryHandler } = await import('../src/exporters/embedded/query.js');
    const { createServer } = await import('node:http');
    const store = new TraceStore(join(mkdtempSync(join(tmpdir(), 'span-relay-routes-')), 't.db'));
    store.write([...retriedVote('c1c1c1c1c1c1c1c1', [503, 200]), ...retriedVote('c2c2c2c2c2c2c2c2', [200])]);
    const server = createServer((req, res) => void queryHandler(store)(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const { port } = server.address() as { port: number };
      const body = (await (await fetch(`http://127.0.0.1:${port}/api/routes?service=voting-svc&lookback=all`)).json()) as { routes: unknown[] };
      expect(body.routes).toEqual([expect.objectContaining({ route: 'POST /vote', requests: 2, attempts: 3, success_rate: 1, timeouts: 0 })]);
      expect(((await (await fetch(`http://127.0.0.1:${port}/api/routes?service=nope&lookback=all`)).json()) as { routes: unknown[] }).routes).toEqual([]);
    } finally {
      server.close();
      store.close();
    }
  });
});

const CHROMIUM = '/usr/bin/chromium';

describe.skipIf(!existsSync(CHROMIUM))('the routes view in headless Chromium', () => {
  it('a retried route shows its requests against its attempts, its success rate and its timeouts', async () => {
    const { TraceStore } = await import('../src/exporters/embedded/store.js');
    const { queryHandler } = await import('../src/exporters/embedded/query.js');
    const { createServer } = await import('node:http');
    const { chromium } = await import('playwright-core');
    const store = new TraceStore(join(mkdtempSync(join(tmpdir(), 'span-relay-routes-page-')), 't.db'));
    store.write([
      ...retriedVote('d1d1d1d1d1d1d1d1', [503, 503, 200]),
      ...retriedVote('d2d2d2d2d2d2d2d2', [504, 504, 504]),
      ...retriedVote('d3d3d3d3d3d3d3d3', [503, 200]),
      ...retriedVote('d4d4d4d4d4d4d4d4', [200]),
    ]);
    const server = createServer((req, res) => void queryHandler(store)(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'] });
    const shots = process.env.UPDATE_SCREENSHOTS ? new URL('../../docs/screenshots/', import.meta.url).pathname : mkdtempSync(join(tmpdir(), 'span-relay-shots-'));
    try {
      const { port } = server.address() as { port: number };
      const page = await browser.newPage({ viewport: { width: 1400, height: 400 } });
      await page.goto(`http://127.0.0.1:${port}/routes?lookback=all`);
      const row = page.locator('tr.route[data-service="voting-svc"][data-route="POST /vote"]');
      await row.waitFor();
      expect(await row.getAttribute('class')).toContain('retried');
      expect(await row.locator('.requests').textContent()).toBe('4');
      expect(await row.locator('.attempts').textContent()).toBe('9');
      expect(await row.locator('.success').textContent()).toBe('75.0%');
      expect(await row.locator('.timeouts').textContent()).toBe('3');
      await page.screenshot({ path: join(shots, 'routes.png') });
      // One service's routes, from the select.
      await page.selectOption('#route-service', 'web');
      await page.locator('#routes .empty').waitFor();
    } finally {
      await browser.close();
      server.close();
      store.close();
    }
  }, 60_000);
});
