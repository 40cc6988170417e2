/**
 * A real Apache Kafka 4.4 broker (the peer) for one describe block: started before its tests, and
 * after them, what the tests registered is stopped (newest first), then the broker.
 */
import { afterAll, beforeAll } from 'vitest';
import { startKafka, type KafkaSecurity, type RunningKafka } from '../../../peers/kafka/start.js';
import { stopPeerProcesses } from '../../../peers/process.js';
import type { Logger } from 'pino';
import { startCollector, type RunningCollector } from './collector.js';

export interface KafkaForTests {
  /** The running broker (set once beforeAll has run). */
  readonly broker: RunningKafka;
  /** Registers something to stop after the block's tests, before the broker. */
  cleanup(stop: () => Promise<unknown>): void;
}

/** `secure`: made when the broker starts, for its SASL_SSL and SSL listeners. */
export function kafkaForTests(partitions: number, secure?: () => KafkaSecurity): KafkaForTests {
  let broker: RunningKafka | undefined;
  const stops: (() => Promise<unknown>)[] = [];
  beforeAll(async () => {
    broker = await startKafka({ partitions, ...(secure ? { secure: secure() } : {}) });
  }, 120_000);
  afterAll(async () => {
    for (const s of stops.reverse()) await s();
    await stopPeerProcesses();
  });
  return {
    get broker(): RunningKafka {
      if (!broker) throw new Error('the Kafka broker is not started yet (use it inside a test)');
      return broker;
    },
    cleanup: (stop) => void stops.push(stop),
  };
}

/**
 * A collector taking OTLP/HTTP and producing to `topic` with the kafka exporter (retrying without
 * end; a 2 s shutdown). `client`: the YAML lines of the connection (brokers, tls, auth) at the
 * component's indent.
 */
export function startKafkaProducer(client: string, topic: string, options: { encoding?: string; logger?: Logger } = {}): Promise<RunningCollector> {
  return startCollector(
    `
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:0 }
exporters:
  kafka:
${client}
    traces: { topic: ${topic}, encoding: ${options.encoding ?? 'otlp_proto'} }
    timeout: 2s
    retry_on_failure: { initial_interval: 50ms, max_interval: 500ms, max_elapsed_time: 0 }
service:
  shutdown_timeout: 2s
  pipelines:
    traces: { receivers: [otlp], exporters: [kafka] }
`,
    {},
    options.logger ? { logger: options.logger } : {},
  );
}

/**
 * A collector reading `topic` with the kafka receiver (earliest, quick commits and heartbeats) and
 * sending OTLP gRPC to `sink`. `client`: the YAML lines of the connection (brokers, tls, auth) at
 * the component's indent.
 */
export function startKafkaConsumer(client: string, topic: string, sink: string, encoding = 'otlp_proto'): Promise<RunningCollector> {
  return startCollector(`
receivers:
  kafka:
${client}
    traces: { topic: ${topic}, encoding: ${encoding} }
    group_id: g-${topic}
    initial_offset: earliest
    commit_interval: 100ms
    session_timeout: 6s
    heartbeat_interval: 500ms
exporters:
  otlp:
    endpoint: ${sink}
    tls: { insecure: true }
service:
  pipelines:
    traces: { receivers: [kafka], exporters: [otlp] }
`);
}

/** Posts one server span per trace ID as OTLP/JSON to a collector's otlp http receiver; answers the status. */
export async function postOtlpSpans(r: RunningCollector, traceIds: string[]): Promise<number> {
  const body = {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] },
        scopeSpans: [{ spans: traceIds.map((t, i) => ({ traceId: t, spanId: (i + 1).toString(16).padStart(16, '0'), name: 'op', kind: 2, startTimeUnixNano: '1700000000000000000', endTimeUnixNano: '1700000000001000000' })) }],
      },
    ],
  };
  const res = await fetch(`${r.url('otlp.http')}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return res.status;
}
