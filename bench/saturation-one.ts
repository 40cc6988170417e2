/**
 * One steady-saturation search, for a receiver and a worker count (a part of `npm run bench`):
 *   node --import tsx bench/saturation-one.ts <zipkin|otlp-http|otlp-grpc|opencensus> <workers> [first rate, spans/s]
 * Prints the search as JSON (every probe: rate, collector CPU %, held or why not).
 */
import { saturationSearch } from './testbed.js';

const [receiver, workers, start] = process.argv.slice(2);
if (!receiver || !workers) throw new Error('usage: saturation-one.ts <receiver> <workers> [first rate]');
console.log(JSON.stringify(await saturationSearch(receiver, Number(workers), Number(process.env.BENCH_SATURATION_SECONDS ?? 10), Number(start ?? 4000))));
