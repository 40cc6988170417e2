/**
 * The `--workers` hand-off's cost alone (a part of `npm run bench`): CPU per span with 2 workers
 * against 1 at the same offered rate, alternating runs.
 *   node --import tsx bench/workers-cost.ts [receiver] [rate]   (BENCH_SATURATION_SECONDS, BENCH_WORKERS_COST_RUNS)
 */
import { workersCost } from './testbed.js';

const receiver = process.argv[2] ?? 'zipkin';
const rate = Number(process.argv[3] ?? 10_000);
console.log(JSON.stringify({ receiver, rate, ...(await workersCost(receiver, rate, Number(process.env.BENCH_SATURATION_SECONDS ?? 10), Number(process.env.BENCH_WORKERS_COST_RUNS ?? 3))) }));
