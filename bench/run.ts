/**
 * `npm run bench`: figures and ratios against a baseline measured in the same run. Nothing here
 * passes or fails on a time; it prints what it measured.
 */
import { availableParallelism } from 'node:os';
import { endToEnd, inProcess, zipkinBodies } from './zipkin-to-otlp.js';
import { bytesPerHeldSpan, joinThroughput } from './join.js';
import { joinRelayBench } from './join-relay.js';
import { kitBench } from './kit.js';
import { replayBench } from './replay.js';
import { jaegerThriftBench } from './jaeger-thrift.js';
import { walBench } from './wal.js';
import { storeBench } from './store.js';
import { FLOOR_RECEIVERS, OTEL_FIGURES, saturationSearch, testbed, testbedFloor, testbedRun, workersCost } from './testbed.js';
import { heapPerDecodedSpan, otlpCodecBench } from './otlp-codec.js';
import { jaegerDecodeBench, jaegerDecodeLines } from './jaeger-decode.js';
import { startupBench } from './startup.js';
import { sideBySide } from './side-by-side.js';
import { kafkaBench, printKafkaBench } from './kafka.js';

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;

async function main(): Promise<void> {
  const spansPerBody = 100;
  const bodies = zipkinBodies(Number(process.env.BENCH_BODIES ?? 400), spansPerBody);
  console.log(`span-relay bench — node ${process.version}, ${bodies.length} Zipkin v2 JSON bodies × ${spansPerBody} spans\n`);

  const ip = inProcess(bodies, spansPerBody);
  console.log('zipkin-v2-json → otlp-protobuf, in process (median of 5)');
  console.log(`  floor (JSON.parse + OTLP encode of the same spans): ${fmt(ip.floor)} spans/s`);
  console.log(`  span-relay decode + validate + encode:             ${fmt(ip.relay)} spans/s   ratio to floor ${(ip.relay / ip.floor).toFixed(2)}`);

  const oc = otlpCodecBench(Number(process.env.BENCH_BODIES ?? 400) / 2, spansPerBody);
  console.log('\notlp protobuf ↔ span model, in process (median of 5): protobufjs (message objects, then the model) beside span-relay\'s hand-written codec');
  console.log(`  decode: protobufjs ${fmt(oc.decode.protobufjs)} spans/s, hand-written ${fmt(oc.decode.hand)} spans/s   ratio ${(oc.decode.hand / oc.decode.protobufjs).toFixed(2)}`);
  console.log(`  encode: protobufjs ${fmt(oc.encode.protobufjs)} spans/s, hand-written ${fmt(oc.encode.hand)} spans/s   ratio ${(oc.encode.hand / oc.encode.protobufjs).toFixed(2)}`);
  console.log(`  decode, lazy (attributes and events checked, left as bytes; what the receivers do): ${fmt(oc.decode.lazy)} spans/s   ratio to read whole ${(oc.decode.lazy / oc.decode.hand).toFixed(2)}`);
  console.log(`  decode + encode again (OTLP in, OTLP out): read whole ${fmt(oc.relay.hand)} spans/s, lazy ${fmt(oc.relay.lazy)} spans/s   ratio ${(oc.relay.lazy / oc.relay.hand).toFixed(2)}`);
  const perSpan = await heapPerDecodedSpan(300, spansPerBody);
  const perLazySpan = await heapPerDecodedSpan(300, spansPerBody, true);
  if (perSpan) console.log(`  memory per decoded span, kept: read whole ${perSpan.toFixed(0)} B on the heap; lazy ${perLazySpan!.toFixed(0)} B (heap + the request bytes it keeps)   ratio ${(perLazySpan! / perSpan).toFixed(2)}`);

  console.log('');
  for (const line of jaegerDecodeLines(await jaegerDecodeBench(Number(process.env.BENCH_BODIES ?? 400) / 2))) console.log(line);

  const e2e = await endToEnd(bodies, spansPerBody);
  console.log('\nzipkin HTTP receiver → batch → otlp gRPC exporter, through sockets (8 concurrent POSTs)');
  console.log(`  end to end: ${fmt(e2e)} spans/s   ratio to in-process floor ${(e2e / ip.floor).toFixed(2)}`);

  const traces = Number(process.env.BENCH_TRACES ?? 5000);
  const jt = await joinThroughput(traces);
  console.log(`\njoin processor, ${traces} vote traces × 11 spans (window, ID unification, shared spans, clock skew, continuity; median of 3)`);
  console.log(`  floor (group the same spans by trace ID): ${fmt(jt.floor)} spans/s`);
  console.log(`  join, in and out:                          ${fmt(jt.join)} spans/s   ratio to floor ${(jt.join / jt.floor).toFixed(3)}`);
  const held = await bytesPerHeldSpan(traces);
  if (held) console.log(`  bytes held per span in the window: ${held.measured.toFixed(0)} B measured on the heap; max_bytes accounting counts ${held.estimated.toFixed(0)} B (ratio ${(held.estimated / held.measured).toFixed(2)})`);
  if (held) console.log(`  bytes per span remembered after release (late_span_memory, to join late spans and drop retries): ${held.remembered.toFixed(0)} B`);
  else console.log('  (run with --expose-gc for bytes held per span)');
  const jr = await joinRelayBench(Number(process.env.BENCH_BODIES ?? 400) * 1.5, spansPerBody);
  console.log('  OTLP in → join → OTLP out, compiled, the testbed\'s requests (lazy decode; median of 5), beside decode + encode alone:');
  console.log(`    ${fmt(jr.spansPerSec.join)} spans/s against ${fmt(jr.spansPerSec.relay)}   ratio ${(jr.spansPerSec.join / jr.spansPerSec.relay).toFixed(2)}`);
  console.log(`    allocated per span (garbage included): ${fmt(jr.allocatedPerSpan.join)} B against ${fmt(jr.allocatedPerSpan.relay)} B   ratio ${(jr.allocatedPerSpan.join / jr.allocatedPerSpan.relay).toFixed(2)}`);

  const wal = await walBench(Number(process.env.BENCH_WAL_SECONDS ?? 5));
  console.log('\njoin write-ahead log at a steady 10,000 spans/s (requests of 100 spans), in process: CPU of this process, time to acknowledge a request');
  const none = wal[0]!;
  for (const w of wal) {
    console.log(`  ${w.mode.padEnd(10)} CPU ${w.cpuPercent.toFixed(1).padStart(5)}% of one core (${w === none ? 'baseline' : `+${(w.cpuPercent - none.cpuPercent).toFixed(1)} points`})   ack p50 ${w.p50Ms.toFixed(2)} ms, p99 ${w.p99Ms.toFixed(2)} ms`);
  }

  const st = await startupBench(Number(process.env.BENCH_STARTUP_RUNS ?? 5));
  console.log('\nstartup, span-relay run on the embedded default config (every receiver, join, the store and its page; ports moved), compiled, from the CLI: spawn → /readyz 200, RSS 2 s and 12 s later (idle: V8 gives memory back after 8 s idle); median of 5, interleaved');
  for (const [name, r] of [['single-file bundle (npm start)', st.bundle], ['per-module build', st.modules], ['bare node, as the floor', st.node]] as const) {
    console.log(`  ${name.padEnd(31)} ready ${r.readyMs.toFixed(0).padStart(4)} ms   RSS at 2 s ${r.startedRssMiB.toFixed(0).padStart(3)} MiB, idle (12 s) ${r.idleRssMiB.toFixed(0).padStart(3)} MiB`);
  }
  console.log(`  the bundle starts in ${(st.bundle.readyMs / st.modules.readyMs).toFixed(2)}× the per-module build's time (issue #10's goal: ready ≤ 300 ms, idle ≤ 70 MiB)`);

  const tb = await testbed(Number(process.env.BENCH_TESTBED_SECONDS ?? 10));
  console.log('\ntestbed (the OpenTelemetry Collector load test\'s shape): 10,000 spans/s in requests of 100 from a separate process → receiver → [join →] batch → otlp gRPC → sink; the collector compiled, from the CLI');
  console.log('  receiver     join  CPU % of one core  peak RSS   delivered/sent   OTel Collector (CPU, RAM)   ratio');
  for (const r of tb) {
    const o = OTEL_FIGURES[r.receiver]!;
    console.log(`  ${r.receiver.padEnd(12)} ${(r.join ? 'on' : 'off').padEnd(5)} ${r.cpuPercent.toFixed(1).padStart(17)}  ${r.peakRssMiB.toFixed(0).padStart(5)} MiB   ${String(r.delivered).padStart(7)}/${r.sent}   ${String(o.cpu).padStart(5)} %, ${o.ramMiB} MiB           ${(r.cpuPercent / o.cpu).toFixed(2)}×`);
  }

  // The floor: what node costs to take the same requests and pass their bytes on, nothing else.
  console.log('  the floor: bench/floor-relay.ts in span-relay\'s place (the same libraries take the requests; the bytes go to the sink every 200 ms, not decoded), and span-relay\'s figure over it');
  for (const receiver of FLOOR_RECEIVERS) {
    const f = await testbedFloor(receiver, Number(process.env.BENCH_TESTBED_SECONDS ?? 10));
    const over = (j: boolean) => (tb.find((r) => r.receiver === receiver && r.join === j)!.cpuPercent / f.cpuPercent).toFixed(2);
    console.log(`  ${receiver.padEnd(12)} floor ${f.cpuPercent.toFixed(1).padStart(16)}  ${f.peakRssMiB.toFixed(0).padStart(5)} MiB   ${String(f.delivered).padStart(7)}/${f.sent}   span-relay / floor: join off ${over(false)}×, join on ${over(true)}×`);
  }

  // The join remembers released traces for late_span_memory (60 s) up to max_traces: a 10 s run
  // does not reach the steady state's memory, so one receiver runs longer.
  const steadySeconds = Number(process.env.BENCH_STEADY_SECONDS ?? 60);
  const steady = await testbedRun('otlp-grpc', true, steadySeconds);
  console.log(`  otlp-grpc    on for ${steadySeconds} s (the join's memory of released traces full): CPU ${steady.cpuPercent.toFixed(1)} %, peak RSS ${steady.peakRssMiB.toFixed(0)} MiB, ${steady.delivered}/${steady.sent} delivered`);

  // Issue #31: the OpenTelemetry Collector itself (peers/otelcol), run in turn by the same generator.
  console.log('');
  await sideBySide((process.env.BENCH_SIDE_MODES ?? 'table,saturation,rss').split(','));

  // Issue #33: router → Kafka → joiner against one process doing both.
  const kafkaSeconds = Number(process.env.BENCH_KAFKA_SECONDS ?? 10);
  printKafkaBench(await kafkaBench(kafkaSeconds, Number(process.env.BENCH_KAFKA_RATE ?? 10_000), Number(process.env.BENCH_KAFKA_RUNS ?? 3)), kafkaSeconds);

  const satSeconds = Number(process.env.BENCH_SATURATION_SECONDS ?? 10);
  console.log(`\nsteady saturation, span-relay run --workers N: the highest rate of requests of 100 spans that receiver → memory_limiter (512 MiB per worker, as the default config) → join → batch → otlp gRPC → sink holds for ${satSeconds} s with nothing refused, the generator on schedule and every span delivered within the join's quiet period (+1 s); generator and sink share the machine's ${availableParallelism()} cores`);
  console.log('  receiver     workers  steady spans/s  ratio to 1 worker   probes (spans/s: collector CPU %, verdict)');
  // Every receiver on one worker (issue #10's saturation rate); two workers for one JSON and one
  // protobuf receiver (issue #13's scaling figure). otlp-grpc's generator uses four connections
  // (one is its own limit, near 70,000 spans/s); opencensus keeps one stream, as an agent does, and
  // its generator waits while the stream is full, so a collector that reads slower puts it behind.
  for (const receiver of ['zipkin', 'otlp-http', 'otlp-grpc', 'opencensus']) {
    const one = await saturationSearch(receiver, 1, satSeconds);
    const rows = [one];
    if (receiver === 'zipkin' || receiver === 'otlp-http') rows.push(await saturationSearch(receiver, 2, satSeconds, Math.max(4000, one.steadySpansPerSecond)));
    for (const r of rows) {
      console.log(`  ${r.receiver.padEnd(12)} ${String(r.workers).padEnd(8)} ${fmt(r.steadySpansPerSecond).padStart(14)}  ${(r.steadySpansPerSecond / one.steadySpansPerSecond).toFixed(2).padStart(16)}×   ${r.probes.map((p) => `${fmt(p.rate)}: ${p.cpuPercent.toFixed(0)}% ${p.held ? 'held' : `(${p.why})`}`).join('; ')}`);
    }
  }

  const costRuns = Number(process.env.BENCH_WORKERS_COST_RUNS ?? 3);
  console.log(`\n--workers 2 against 1 at the same offered rate (10,000 spans/s, the saturation probe's pipeline, ${satSeconds} s, ${costRuns} alternating runs): CPU of all the collector's processes, median (min–max), and the ratio (issue #31's goal: ≤ 1.10×)`);
  for (const receiver of ['zipkin', 'otlp-http']) {
    const w = await workersCost(receiver, 10_000, satSeconds, costRuns);
    const range = (xs: number[]) => `${[...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!.toFixed(1)} % (${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)})`;
    console.log(`  ${receiver.padEnd(12)} 1 worker ${range(w.one)}   2 workers ${range(w.two)}   ratio ${w.ratio.toFixed(2)}×${w.held ? '' : '   (a probe did not hold: the figure is not at a rate both hold)'}`);
  }

  const sb = storeBench(Number(process.env.BENCH_STORE_SPANS ?? 1_000_000));
  console.log(`\nembedded store (SQLite), ${fmt(sb.spans)} spans of vote traces written in batches of 1,000, then queried`);
  console.log(`  ingest: ${fmt(sb.ingestSpansPerSec)} spans/s   file in use: ${sb.fileMiB.toFixed(0)} MiB (${((sb.fileMiB * 1024 * 1024) / sb.spans).toFixed(0)} B/span)`);
  console.log(`  trace by ID: median ${sb.byIdMedianMs.toFixed(2)} ms, p95 ${sb.byIdP95Ms.toFixed(2)} ms (target < 50 ms)`);
  console.log(`  search by service, 20 newest: median ${sb.searchMedianMs.toFixed(2)} ms, p95 ${sb.searchP95Ms.toFixed(2)} ms; with a tag: median ${sb.tagSearchMedianMs.toFixed(2)} ms (target < 300 ms)`);

  const jt2 = jaegerThriftBench(2000);
  console.log(`\njaeger_thrift encoding, ${jt2.spans} spans in batches of 100 (3 runs after a warm-up)`);
  console.log(`  thriftrw + jaeger-client's jaeger.thrift (under @opentelemetry/exporter-jaeger): ${fmt(jt2.thriftrw)} spans/s`);
  console.log(`  span-relay's hand-written TBinaryProtocol writer:                            ${fmt(jt2.handWritten)} spans/s   ratio ${(jt2.handWritten / jt2.thriftrw).toFixed(2)}`);

  const rb = await replayBench(Number(process.env.BENCH_REPLAY_RECORDS ?? 2000), 50);
  console.log(`\nreplay --speed max of a capture (${rb.spans} spans in OTLP/HTTP records) to a null target, 8 in flight (median of 3)`);
  console.log(`  floor (POST the same bodies, nothing else): ${fmt(rb.floor)} spans/s`);
  console.log(`  span-relay replay (read, decode, send, account): ${fmt(rb.replay)} spans/s   ratio to floor ${(rb.replay / rb.floor).toFixed(2)}`);

  const kit = await kitBench(Number(process.env.BENCH_KIT_SECONDS ?? 5));
  const base = kit[0]!;
  console.log('\nexpress service, requests/s with autocannon (10 connections, loopback, median of 2 interleaved rounds)');
  for (const k of kit) {
    console.log(`  ${k.name.padEnd(28)} ${fmt(k.rps).padStart(7)} req/s   ratio to no tracing ${(k.rps / base.rps).toFixed(2)}   startup ${k.startupMs.toFixed(0)} ms (+${(k.startupMs - base.startupMs).toFixed(0)} ms)`);
  }

  console.log(`\npeak RSS of the bench process: ${mib(process.resourceUsage().maxRSS * 1024)}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
