/**
 * `span-relay routes`: the routes table from OTLP JSON lines (as the file exporter writes them) and
 * from a store file, the same rows GET /api/routes gives, and its usage errors.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { modelToOtlpJson } from '../src/protocol/otlp/encode.js';
import { TraceStore } from '../src/exporters/embedded/store.js';
import { retriedVote } from './helpers/routes.js';

const BIN = new URL('../bin/span-relay.js', import.meta.url).pathname;

async function cli(args: string[], stdin?: string): Promise<{ code: number; out: string; err: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  if (stdin !== undefined) child.stdin!.end(stdin);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? -1)));
  return { code, out, err };
}

const votes = () => [
  retriedVote('e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1', [503, 503, 200]),
  retriedVote('e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2', [504, 504, 504]),
  retriedVote('e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3', [503, 200]),
  retriedVote('e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4', [200]),
];

const ROW = { service: 'voting-svc', route: 'POST /vote', requests: 4, attempts: 9, success_rate: 0.75, p50_ms: 98, p95_ms: 98, p99_ms: 98, timeouts: 3, callers: ['web'] };

describe('span-relay routes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'span-relay-routes-cli-'));
  // One line per batch, spans of a trace split over lines as a file exporter behind a batch processor writes them.
  const file = join(dir, 'traces.jsonl');
  const spans = votes().flat();
  writeFileSync(file, [spans.slice(0, 7), spans.slice(7)].map((s) => JSON.stringify(modelToOtlpJson({ spans: s }))).join('\n') + '\n');

  it('prints the table from OTLP JSON lines, REQUESTS against ATTEMPTS, and --json the rows of GET /api/routes', async () => {
    const table = await cli(['routes', file]);
    expect(table.err).toBe('');
    expect(table.code).toBe(0);
    const [head, row] = table.out.split('\n');
    expect(head!.split(/\s+/)).toEqual(['SERVICE', 'ROUTE', 'REQUESTS', 'ATTEMPTS', 'SUCCESS', 'LATENCY_P50', 'LATENCY_P95', 'LATENCY_P99', 'TIMEOUTS', 'CALLERS']);
    expect(row!.split(/\s{2,}/)).toEqual(['voting-svc', 'POST /vote', '4', '9', '75.00%', '98ms', '98ms', '98ms', '3', 'web']);
    expect(table.out).toContain('4 trace(s)');
    const json = await cli(['routes', '--json', file]);
    expect(JSON.parse(json.out)).toEqual({ routes: [ROW], traces: 4, truncated: false });
    const stdin = await cli(['routes', '--json', '--service', 'web', '-'], JSON.stringify(modelToOtlpJson({ spans })));
    expect(JSON.parse(stdin.out)).toEqual({ routes: [], traces: 4, truncated: false });
  });

  it('--store reads the embedded store, the same rows; --lookback bounds the window', async () => {
    const path = join(dir, 'traces.db');
    const store = new TraceStore(path);
    store.write(votes().flat());
    store.close();
    const json = await cli(['routes', '--store', path, '--json', '--service', 'voting-svc']);
    expect(json.err).toBe('');
    expect(JSON.parse(json.out)).toEqual({ routes: [ROW], traces: 4, truncated: false });
    // The spans started in 2023: none in the last hour.
    const recent = await cli(['routes', '--store', path, '--lookback', '1h']);
    expect(recent.out).toContain('no routes');
    expect(recent.out).toContain('0 trace(s)');
  });

  it('usage errors exit 2 naming what is wrong; a missing store is not created', async () => {
    const none = await cli(['routes']);
    expect(none.code).toBe(2);
    expect(none.err).toContain('span-relay routes: needs trace FILEs');
    const both = await cli(['routes', file, '--store', join(dir, 'x.db')]);
    expect(both.code).toBe(2);
    expect(both.err).toContain('not both');
    const missing = await cli(['routes', '--store', join(dir, 'nope.db')]);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain(`no store at ${join(dir, 'nope.db')}`);
    expect(existsSync(join(dir, 'nope.db'))).toBe(false);
    const lookback = await cli(['routes', '--store', file, '--lookback', 'soon']);
    expect(lookback.code).toBe(2);
    expect(lookback.err).toContain('--lookback: expected a duration');
    const help = await cli(['routes', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('usage: span-relay routes FILE... | --store PATH');
  });
});
