/**
 * One steady-saturation search, for a receiver and a worker count (a part of `npm run bench`):
 *   node --import tsx bench/saturation-one.ts <zipkin|otlp-http|otlp-grpc|opencensus> <workers> [first rate, spans/s]
 * Prints the search as JSON (every probe: rate, collector CPU %, held or why not).
 * BENCH_COLLECTOR_CPUS=0 (or 0-1): the collector on those cores, this process (the sink) and the
 * generator on core 1 (taskset), as the side-by-side bench pins them.
 */
import { execFileSync } from 'node:child_process';
import { saturationSearch } from './testbed.js';

if (process.env.BENCH_COLLECTOR_CPUS) execFileSync('taskset', ['-a', '-pc', '1', String(process.pid)], { stdio: 'ignore' });

const [receiver, workers, start] = process.argv.slice(2);
if (!receiver || !workers) throw new Error('usage: saturation-one.ts <receiver> <workers> [first rate]');
console.log(JSON.stringify(await saturationSearch(receiver, Number(workers), Number(process.env.BENCH_SATURATION_SECONDS ?? 10), Number(start ?? 4000))));
