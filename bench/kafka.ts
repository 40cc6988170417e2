/**
 * Through Kafka (issue #33; a part of `npm run bench`): the testbed's Zipkin load (requests of 100
 * spans from the load generator in its own process) into a router (zipkin → batch → kafka exporter,
 * keyed by the low 64 bits) → the Apache Kafka 4.4 peer (one KRaft node, 6 partitions) → a joiner
 * (kafka receiver → join → batch → otlp gRPC) → a counting sink. Beside it in the same run, in
 * turn, the baseline: one span-relay doing both (zipkin → join → batch → otlp gRPC). Both run as
 * users run them (compiled, from the CLI). Reported: spans delivered of sent, CPU % of one core of
 * the router, the joiner and the baseline, and µs of CPU per span, so the Kafka tier's cost reads
 * as a ratio to the one-process pipeline. The broker's own CPU is not counted (it is Java's, and
 * the same for any client). Needs the kafka peer (`npm run peers kafka`); skipped by name without.
 *   node --expose-gc --import tsx bench/kafka.ts        (BENCH_KAFKA_SECONDS, BENCH_KAFKA_RATE, BENCH_KAFKA_RUNS)
 */
import { pathToFileURL } from 'node:url';
import { startKafka } from '../peers/kafka/start.js';
import { missingPeers } from '../peers/peers.js';
import { stopPeerProcesses } from '../peers/process.js';
import { kafkaLib } from '../collector/src/net/kafka.js';
import { median } from './median.js';
import { launchCollector, receiverYaml, underLoad, type TestbedRow } from './testbed.js';

const PARTITIONS = 6;

export interface KafkaBenchRow {
  rate: number;
  kafka: TestbedRow;
  baseline: TestbedRow;
}

const telemetry = (port: number): string => `  telemetry:\n    logs: { level: warn }\n    metrics:\n      address: 127.0.0.1:${port}\n`;

/** router: zipkin → batch → kafka. */
const routerConfig = (bootstrap: string, topic: string) => (port: number): string =>
  `receivers:\n  ${receiverYaml('zipkin', port)}\nprocessors:\n  batch:\nexporters:\n  kafka:\n    brokers: [${bootstrap}]\n    traces: { topic: ${topic} }\nservice:\n${telemetry(port + 1)}  pipelines:\n    traces: { receivers: [zipkin], processors: [batch], exporters: [kafka] }\n`;

/** joiner: kafka → join → batch → otlp. */
const joinerConfig = (bootstrap: string, topic: string, sink: string) => (port: number): string =>
  `receivers:\n  kafka:\n    brokers: [${bootstrap}]\n    traces: { topic: ${topic} }\n    group_id: bench-${topic}\n    initial_offset: earliest\nprocessors:\n  join:\n  batch:\nexporters:\n  otlp:\n    endpoint: ${sink}\n    tls: { insecure: true }\n    compression: none\nservice:\n${telemetry(port + 1)}  pipelines:\n    traces: { receivers: [kafka], processors: [join, batch], exporters: [otlp] }\n`;

/** baseline: zipkin → join → batch → otlp, one process. */
const baselineConfig = (sink: string) => (port: number): string =>
  `receivers:\n  ${receiverYaml('zipkin', port)}\nprocessors:\n  join:\n  batch:\nexporters:\n  otlp:\n    endpoint: ${sink}\n    tls: { insecure: true }\n    compression: none\nservice:\n${telemetry(port + 1)}  pipelines:\n    traces: { receivers: [zipkin], processors: [join, batch], exporters: [otlp] }\n`;

export async function kafkaBench(seconds: number, rate: number, runs: number): Promise<KafkaBenchRow[] | string> {
  const missing = missingPeers('kafka');
  if (missing) return missing;
  const broker = await startKafka({ partitions: PARTITIONS });
  const rows: KafkaBenchRow[] = [];
  try {
    for (let run = 0; run < runs; run++) {
      const topic = `bench-${run}`;
      const admin = new (kafkaLib().Admin)({ clientId: 'bench', bootstrapBrokers: [broker.bootstrap] });
      await admin.createTopics({ topics: [topic], partitions: PARTITIONS, replicas: 1 });
      await admin.close();
      const kafka = await underLoad('zipkin', seconds, rate, 100, async (sink) => {
        const joiner = await launchCollector({ configFor: joinerConfig(broker.bootstrap, topic, sink), adminPort: (p) => p + 1 });
        const router = await launchCollector({ configFor: routerConfig(broker.bootstrap, topic), adminPort: (p) => p + 1 });
        return { pid: router.pid, port: router.port, others: [{ name: 'joiner', pid: joiner.pid }], stop: async () => (await router.stop(), await joiner.stop()) };
      });
      const baseline = await underLoad('zipkin', seconds, rate, 100, async (sink) => {
        const one = await launchCollector({ configFor: baselineConfig(sink), adminPort: (p) => p + 1 });
        return { pid: one.pid, port: one.port, stop: one.stop };
      });
      rows.push({ rate, kafka: { receiver: 'zipkin', join: true, ...kafka }, baseline: { receiver: 'zipkin', join: true, ...baseline } });
    }
  } finally {
    await broker.stop();
    await stopPeerProcesses();
  }
  return rows;
}

/** The section's lines, as `npm run bench` prints them. */
export function printKafkaBench(result: KafkaBenchRow[] | string, seconds: number, print: (line: string) => void = console.log): void {
  print(`\nthrough Kafka: zipkin → router (batch → kafka exporter) → Apache Kafka 4.4 (1 node, ${PARTITIONS} partitions) → joiner (kafka receiver → join → batch → otlp) → sink, against one span-relay doing both (zipkin → join → batch → otlp), ${seconds} s each, in turn`);
  if (typeof result === 'string') return print(`  skipped: ${result}`);
  // µs of CPU per span at the offered rate: CPU % of a core ÷ spans per second.
  const us = (cpuPercent: number, rate: number): number => ((cpuPercent / 100) * 1e6) / rate;
  for (const r of result) {
    const router = r.kafka.cpuPercent;
    const joiner = r.kafka.othersCpuPercent?.joiner ?? NaN;
    print(
      `  ${r.rate} spans/s: router ${router.toFixed(1)} % (${us(router, r.rate).toFixed(1)} µs/span), joiner ${joiner.toFixed(1)} % (${us(joiner, r.rate).toFixed(1)} µs/span), delivered ${r.kafka.delivered} of ${r.kafka.sent}, ${r.kafka.refusedRequests} requests refused; ` +
        `one process ${r.baseline.cpuPercent.toFixed(1)} % (${us(r.baseline.cpuPercent, r.rate).toFixed(1)} µs/span), delivered ${r.baseline.delivered} of ${r.baseline.sent}; router + joiner ${((router + joiner) / r.baseline.cpuPercent).toFixed(2)}× one process`,
    );
  }
  if (result.length > 1) {
    const ratios = result.map((r) => (r.kafka.cpuPercent + (r.kafka.othersCpuPercent?.joiner ?? NaN)) / r.baseline.cpuPercent);
    print(`  median of ${result.length} runs: router + joiner ${median(ratios).toFixed(2)}× one process (spread ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const seconds = Number(process.env.BENCH_KAFKA_SECONDS ?? 10);
  printKafkaBench(await kafkaBench(seconds, Number(process.env.BENCH_KAFKA_RATE ?? 10_000), Number(process.env.BENCH_KAFKA_RUNS ?? 1)), seconds);
}
