/**
 * The cost of the join's write-ahead log: a steady 10,000 spans/s in requests of 100 spans into the
 * join (quiet period 3 s, as shipped), a downstream that delivers at once; CPU time of this process
 * as % of one core and the time each request waits for its acknowledgement, without storage, with
 * file_storage (fsync off) and with fsync on. In process: it isolates the log's own cost.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { JoinProcessor, joinConfig } from '../collector/src/processors/join/index.js';
import { FileStorage, fileStorageConfig } from '../collector/src/extensions/file_storage/index.js';
import { Telemetry } from '../collector/src/telemetry/telemetry.js';
import { settle, type SpanBatch } from '../collector/src/model/span.js';
import { voteTraces } from './join.js';

export interface WalFigures {
  mode: string;
  cpuPercent: number;
  p50Ms: number;
  p99Ms: number;
  spans: number;
}

async function run(mode: 'none' | 'fsync off' | 'fsync on', seconds: number): Promise<WalFigures> {
  const dir = mkdtempSync(join(tmpdir(), 'span-relay-wal-bench-'));
  const telemetry = new Telemetry({ logger: pino({ level: 'silent' }) });
  const storage = new FileStorage('file_storage', fileStorageConfig.parse({ directory: dir, fsync: mode === 'fsync on' }));
  const joinP = new JoinProcessor(joinConfig.parse(mode === 'none' ? {} : { storage: 'file_storage' }), { id: 'join', telemetry, exporters: 1, storage: () => storage });
  await joinP.start({ consume: async (b: SpanBatch) => settle(b.spans) });
  const perRequest = 100;
  const requests = Math.round((10_000 / perRequest) * seconds);
  const spans = voteTraces(Math.ceil((requests * perRequest) / 11));
  const latencies: number[] = [];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < requests; i++) {
    const due = t0 + i * 10;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const batch = { spans: spans.slice(i * perRequest, (i + 1) * perRequest) };
    const started = performance.now();
    pending.push(joinP.consume(batch).then(() => void latencies.push(performance.now() - started)));
  }
  await Promise.all(pending);
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  await joinP.shutdown();
  await storage.shutdown();
  rmSync(dir, { recursive: true, force: true });
  latencies.sort((a, b) => a - b);
  return {
    mode,
    cpuPercent: ((cpu.user + cpu.system) / 1000 / wall) * 100,
    p50Ms: latencies[Math.floor(latencies.length / 2)]!,
    p99Ms: latencies[Math.floor(latencies.length * 0.99)]!,
    spans: requests * perRequest,
  };
}

export async function walBench(seconds: number): Promise<WalFigures[]> {
  const out: WalFigures[] = [];
  for (const mode of ['none', 'fsync off', 'fsync on'] as const) out.push(await run(mode, seconds));
  return out;
}
