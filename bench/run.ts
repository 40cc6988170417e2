/**
 * `npm run bench`: figures and ratios against a baseline measured in the same run. Nothing here
 * passes or fails on a time; it prints what it measured.
 */
import { endToEnd, inProcess, zipkinBodies } from './zipkin-to-otlp.js';

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

  const e2e = await endToEnd(bodies, spansPerBody);
  console.log('\nzipkin HTTP receiver → batch → otlp gRPC exporter, through sockets (8 concurrent POSTs)');
  console.log(`  end to end: ${fmt(e2e)} spans/s   ratio to in-process floor ${(e2e / ip.floor).toFixed(2)}`);

  console.log(`\npeak RSS: ${mib(process.resourceUsage().maxRSS * 1024)}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
