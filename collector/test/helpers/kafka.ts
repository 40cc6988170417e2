/**
 * A real Apache Kafka 4.4 broker (the peer) for one describe block: started before its tests, and
 * after them, what the tests registered is stopped (newest first), then the broker.
 */
import { afterAll, beforeAll } from 'vitest';
import { startKafka, type KafkaSecurity, type RunningKafka } from '../../../peers/kafka/start.js';
import { stopPeerProcesses } from '../../../peers/process.js';

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
