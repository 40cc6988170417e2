/**
 * The search results' duration-over-time scatter and the waterfall's time ruler (#32), in headless
 * Chromium (Debian's chromium, driven by playwright-core): a dot per trace where its start and
 * duration put it, the broken ones marked, a click on a dot opening that trace.
 */
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Span } from '../src/model/span.js';
import { TraceStore } from '../src/exporters/embedded/store.js';
import { queryHandler } from '../src/exporters/embedded/query.js';
import { span } from './join/spans.js';

const CHROMIUM = '/usr/bin/chromium';
const TRACES = 16;
const isBroken = (i: number) => i % 5 === 2;
const traceId = (i: number) => `5ca7${i.toString(16).padStart(12, '0')}`;
const durationOf = (i: number) => 20 + ((i * 37) % 200);

/** One trace a minute, of varied length; every fifth one's voting-svc span names a parent nobody sent. */
function traces(): Span[] {
  const out: Span[] = [];
  for (let i = 0; i < TRACES; i++) {
    const t = { traceId: traceId(i) };
    const start = i * 60_000;
    const end = start + durationOf(i);
    out.push(
      span('1', undefined, 'web', start, end, { ...t, name: 'GET /api/list' }),
      span('2', isBroken(i) ? '99' : '1', 'voting-svc', start + 2, end - 2, { ...t, name: 'Vote' }),
      span('3', '2', 'emoji-svc', start + 4, start + 10, { ...t, name: 'ListAll' }),
    );
  }
  return out;
}

describe.skipIf(!existsSync(CHROMIUM))('search scatter and time ruler in headless Chromium', () => {
  it('draws a dot per trace by start and duration, marks the broken ones, and a click on a dot opens its trace with a time ruler', async () => {
    const { chromium } = await import('playwright-core');
    const store = new TraceStore(join(mkdtempSync(join(tmpdir(), 'span-relay-scatter-')), 't.db'));
    store.write(traces());
    const server = createServer((req, res) => void queryHandler(store)(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'] });
    const shots = process.env.UPDATE_SCREENSHOTS ? new URL('../../docs/screenshots/', import.meta.url).pathname : mkdtempSync(join(tmpdir(), 'span-relay-shots-'));
    mkdirSync(shots, { recursive: true });
    try {
      const { port } = server.address() as { port: number };
      const page = await browser.newPage({ viewport: { width: 1400, height: 800 } });
      // The traces carry 2023 timestamps: everything stored.
      await page.goto(`http://127.0.0.1:${port}/search?lookback=0`);
      await page.locator('.result').first().waitFor();
      const dots = await page.locator('svg.scatter .dot').evaluateAll((ds) =>
        ds.map((d) => ({ id: d.getAttribute('data-trace-id')!, cx: Number(d.getAttribute('cx')), cy: Number(d.getAttribute('cy')), broken: d.classList.contains('broken'), title: d.querySelector('title')!.textContent! })),
      );
      expect(dots).toHaveLength(TRACES);
      const byId = new Map(dots.map((d) => [d.id, d]));
      const ids = Array.from({ length: TRACES }, (_, i) => traceId(i));
      expect([...byId.keys()].sort()).toEqual([...ids].sort());
      // Later traces further right, longer ones higher up.
      for (let i = 1; i < TRACES; i++) {
        expect(byId.get(ids[i]!)!.cx).toBeGreaterThan(byId.get(ids[i - 1]!)!.cx);
        expect(Math.sign(byId.get(ids[i - 1]!)!.cy - byId.get(ids[i]!)!.cy)).toBe(Math.sign(durationOf(i) - durationOf(i - 1)));
      }
      expect(ids.filter((id) => byId.get(id)!.broken)).toEqual(ids.filter((_, i) => isBroken(i)));
      expect(byId.get(traceId(2))!.title).toBe(`web: GET /api/list · ${durationOf(2)}.00ms · 3 spans · BROKEN`);
      await page.screenshot({ path: join(shots, 'search.png') });

      // A broken dot opens its trace.
      await page.locator(`svg.scatter .dot[data-trace-id="${traceId(7)}"]`).click();
      await page.locator('#trace .waterfall .ruler').waitFor();
      expect(new URL(page.url()).pathname).toBe(`/trace/${traceId(7)}`);
      expect(await page.locator('#trace .verdict').textContent()).toBe('BROKEN');
      // The ruler: round offsets from 0 across the trace's 79 ms, each at its place on the lane.
      expect(await page.locator('.ruler .tick').allTextContents()).toEqual(['0', '10.00ms', '20.00ms', '30.00ms', '40.00ms', '50.00ms', '60.00ms', '70.00ms']);
      // The ruler sits over the lanes: its 0 where the root's bar starts, 70 ms at 70/79 of the bar.
      const zero = (await page.locator('.ruler .tick').first().boundingBox())!;
      const seventy = (await page.locator('.ruler .tick').last().boundingBox())!;
      const root = (await page.locator('.waterfall .row .bar').first().boundingBox())!;
      expect(Math.abs(zero.x - root.x)).toBeLessThan(1.5);
      expect(Math.abs(seventy.x - (root.x + (root.width * 70) / 79))).toBeLessThan(1.5);
      // Back to the results, and a complete trace's dot.
      await page.goBack();
      await page.locator(`svg.scatter .dot[data-trace-id="${traceId(3)}"]`).click();
      await page.locator('#trace .waterfall .ruler').waitFor();
      expect(await page.locator('#trace .verdict').textContent()).toBe('COMPLETE');
    } finally {
      await browser.close();
      server.close();
      store.close();
    }
  }, 60_000);
});
