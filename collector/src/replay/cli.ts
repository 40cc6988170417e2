import type { CaptureProtocol } from '../capture/format.js';
import { UsageError } from '../model/errors.js';
import { readReplayInputs } from './inputs.js';
import { replay, type Progress, type ReplaySummary } from './replay.js';
import { parseTargets } from './senders.js';

const PROTOCOLS: CaptureProtocol[] = ['zipkin', 'otlp-http', 'otlp-grpc', 'opencensus', 'jaeger-thrift'];

export interface ReplayArgs {
  files: string[];
  to?: string;
  as?: string;
  speed?: string;
  shiftTime?: boolean;
  newIds?: boolean;
  loop?: string;
  rate?: string;
  concurrency?: string;
}

function positiveNumber(v: string | undefined, name: string, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${name} must be a positive number, got '${v}'`);
  return n;
}

function progressBar(stream: NodeJS.WriteStream): (p: Progress) => void {
  let last = 0;
  return (p) => {
    const now = Date.now();
    if (stream.isTTY) {
      if (now - last < 100 && p.done < p.total) return;
      last = now;
      const width = 30;
      const filled = Math.round((p.done / Math.max(p.total, 1)) * width);
      stream.write(`\r[${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${p.done}/${p.total} requests, ${p.sentSpans} spans`);
      if (p.done >= p.total) stream.write('\n');
    } else if (now - last >= 5000) {
      last = now;
      stream.write(`replay: ${p.done}/${p.total} requests, ${p.sentSpans} spans\n`);
    }
  };
}

export function formatSummary(s: ReplaySummary): string[] {
  const lines = [
    `sent ${s.sentSpans} spans in ${s.requests} requests in ${(s.durationMs / 1000).toFixed(2)} s (${Math.round(s.sentSpans / Math.max(s.durationMs / 1000, 1e-9))} spans/s)`,
    `accepted ${s.acceptedSpans}, refused ${s.refusedSpans}${s.refusedRequests ? ` (${s.refusedRequests} request(s))` : ''}${s.retries ? `, ${s.retries} retries while the target pushed back` : ''}`,
  ];
  for (const [reason, n] of Object.entries(s.refused)) lines.push(`  refused: ${reason}: ${n.requests} request(s), ${n.spans} span(s)`);
  for (const p of s.problems) lines.push(`  problem: ${p.file}${p.position !== undefined ? ` at byte ${p.position}` : ''}: ${p.reason}`);
  return lines;
}

/** `span-relay replay`: exit 0 when everything was accepted, 1 when anything was refused or unreadable. */
export async function replayCommand(args: ReplayArgs): Promise<number> {
  if (args.files.length === 0) throw new UsageError('replay needs at least one FILE');
  if (!args.to) throw new UsageError('replay needs --to HOST[:PORT] or URL');
  if (args.as !== undefined && !PROTOCOLS.includes(args.as as CaptureProtocol)) throw new UsageError(`--as must be one of ${PROTOCOLS.join(', ')}`);
  const speed = args.speed === undefined || args.speed === 'max' ? 'max' : positiveNumber(args.speed.replace(/x$/, ''), '--speed', 1);
  const input = await readReplayInputs(args.files);
  const summary = await replay(input, {
    targets: parseTargets(args.to),
    ...(args.as ? { as: args.as as CaptureProtocol } : {}),
    speed,
    shiftTime: args.shiftTime ?? false,
    newIds: args.newIds ?? false,
    loop: Math.floor(positiveNumber(args.loop, '--loop', 1)),
    ...(args.rate ? { rate: positiveNumber(args.rate, '--rate', 1) } : {}),
    concurrency: Math.floor(positiveNumber(args.concurrency, '--concurrency', 8)),
    maxRetryMs: 60_000,
    onProgress: progressBar(process.stderr),
  });
  console.log(formatSummary(summary).join('\n'));
  return summary.refusedSpans > 0 || summary.refusedRequests > 0 || summary.problems.length > 0 ? 1 : 0;
}
