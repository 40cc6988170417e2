/**
 * The `--workers` hand-off's cost alone (a part of `npm run bench`): CPU per span with 2 workers
 * against 1 at the same offered rate, the variants taking turns.
 *   node --import tsx bench/workers-cost.ts [receiver] [rate]
 *   node --import tsx bench/workers-cost.ts idle            the same collectors with no load (the fixed cost)
 * BENCH_SATURATION_SECONDS (10; idle: BENCH_WORKERS_IDLE_SECONDS, 30), BENCH_WORKERS_COST_RUNS (3),
 * BENCH_WORKERS_COST_VARIANTS: which collectors take turns, `workers[@checkout]` comma-separated
 * (default `1,2`; `2@/work/before,2` compares another checkout's build with this one's).
 * BENCH_COLLECTOR_NODE_ARGS reaches the workers too (cluster forks them with the primary's flags).
 */
import { median } from './median.js';
import { workersCostRows, workersIdle, type WorkersVariant } from './testbed.js';

const variants: WorkersVariant[] = (process.env.BENCH_WORKERS_COST_VARIANTS ?? '1,2').split(',').map((v) => {
  const [workers, root] = v.split('@');
  return root ? { workers: Number(workers), root: root.endsWith('/') ? root : `${root}/` } : { workers: Number(workers) };
});
const runs = Number(process.env.BENCH_WORKERS_COST_RUNS ?? 3);
const idle = process.argv[2] === 'idle';
const receiver = idle ? 'none' : (process.argv[2] ?? 'zipkin');
const rate = idle ? 0 : Number(process.argv[3] ?? 10_000);
const rows = idle ? await workersIdle(Number(process.env.BENCH_WORKERS_IDLE_SECONDS ?? 30), runs, variants) : await workersCostRows(receiver, rate, Number(process.env.BENCH_SATURATION_SECONDS ?? 10), runs, variants);
const range = (xs: number[]): string => `${median(xs).toFixed(1)} % (${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)})`;
for (const r of rows) {
  console.log(`${receiver} ${rate}/s  ${r.workers} worker(s)${r.root ? ` of ${r.root}` : ''}: all processes ${range(r.cpu)}, primary ${range(r.primaryCpu)}${r.held ? '' : '  (a probe did not hold its rate)'}`);
}
// Per run, against the first variant's run beside it (alternating runs: the pairs share the machine's load).
for (const r of rows.slice(1)) {
  const ratios = r.cpu.map((c, i) => c / rows[0]!.cpu[i]!);
  console.log(`${r.workers}${r.root ? `@${r.root}` : ''} / ${rows[0]!.workers}${rows[0]!.root ? `@${rows[0]!.root}` : ''}: ratio of medians ${(median(r.cpu) / median(rows[0]!.cpu)).toFixed(2)}×, per pair ${median(ratios).toFixed(2)}× (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`);
}
console.log(JSON.stringify({ receiver, rate, rows }));
