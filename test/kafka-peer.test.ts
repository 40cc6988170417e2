/**
 * The Kafka peer (Apache Kafka 4.4.0 from Maven Central, KRaft): it formats, starts on free loopback
 * ports, answers the Kafka protocol, and stops. Its users (the Kafka exporter and receiver) test
 * through it; this says the peer itself works on the machine.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { missingPeers } from '../peers/peers.js';
import { apiVersions, startKafka } from '../peers/kafka/start.js';
import { stopPeerProcesses } from '../peers/process.js';

describe.skipIf(missingPeers('kafka'))('Apache Kafka 4.4.0 peer', () => {
  afterAll(stopPeerProcesses);

  it('starts as a single KRaft node on loopback, answers ApiVersions, and is gone after stop', async () => {
    const kafka = await startKafka();
    expect(kafka.bootstrap).toMatch(/^127\.0\.0\.1:\d+$/);
    // Kafka 4 lists dozens of APIs (Produce, Fetch, Metadata, the consumer group protocol…).
    expect(await apiVersions(kafka.bootstrap)).toBeGreaterThan(40);
    await kafka.stop();
    await expect(apiVersions(kafka.bootstrap, 500)).rejects.toThrow();
  }, 120_000);
});
