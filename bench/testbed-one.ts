/**
 * One testbed run (a part of `npm run bench`): 10,000 spans/s in requests of 100 into one receiver,
 * join on or off, or into the floor (bench/floor-relay.ts, for the gRPC and protobuf receivers: otlp-grpc, otlp-http, opencensus;
 * otlp-grpc-h2 is otlp-grpc's load into a floor on node:http2 instead of grpc-js), for
 * BENCH_TESTBED_SECONDS (default 10):
 *   node --import tsx bench/testbed-one.ts <zipkin|otlp-grpc|otlp-http|opencensus> <on|off|floor>
 *   node --import tsx bench/testbed-one.ts otlp-grpc-h2 floor
 * BENCH_COLLECTOR_NODE_ARGS passes flags to the collector's node (e.g. --cpu-prof); BENCH_COLLECTOR_STDOUT names
 * a file for what it prints (with --trace-gc, say).
 */
import { FLOOR_RECEIVERS, FLOOR_VARIANTS, isFloorName, testbedFloor, testbedRun } from './testbed.js';

const [receiver, join] = process.argv.slice(2);
if (!receiver || !join) throw new Error('usage: testbed-one.ts <receiver> <on|off|floor>');
const seconds = Number(process.env.BENCH_TESTBED_SECONDS ?? 10);
if (join === 'floor') {
  if (!isFloorName(receiver)) throw new Error(`the floor stands in for ${[...FLOOR_RECEIVERS, ...Object.keys(FLOOR_VARIANTS)].join(', ')} only`);
  console.log(JSON.stringify(await testbedFloor(receiver, seconds)));
} else console.log(JSON.stringify(await testbedRun(receiver, join === 'on', seconds)));
