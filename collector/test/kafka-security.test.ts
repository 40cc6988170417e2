/**
 * The kafka exporter and receiver to a broker that wants TLS and SASL, as managed Kafka and
 * Strimzi clusters do: a real Apache Kafka 4.4 broker (the peer) with a SASL_SSL listener (PLAIN,
 * SCRAM-SHA-256 and SCRAM-SHA-512 users) and an SSL listener, its certificate from a test CA.
 * Spans go round through the topic with each mechanism; a wrong password and a CA the broker's
 * certificate does not chain to are refused visibly (errors counted and named, nothing delivered),
 * and an unsupported mechanism is a config error naming the key.
 */
import { describe, expect, it } from 'vitest';
import { missingPeers } from '../../peers/peers.js';
import { kafkaForTests, postOtlpSpans, startKafkaConsumer, startKafkaProducer } from './helpers/kafka.js';
import { TestCA } from './helpers/certs.js';
import { OtlpGrpcSink } from './helpers/sinks.js';
import { capturingLogger, eventually, metricValue } from './helpers/collector.js';
import { parseConfig } from '../src/config/load.js';
import { builtinComponents } from '../src/components.js';

const USER = { username: 'relay', password: 'relay-secret-1' };

describe('kafka security config', () => {
  it('takes the Collector\'s auth keys (sasl, the deprecated plain_text) and refuses what span-relay does not speak, naming the key', () => {
    const yaml = (client: string): string => `receivers: { otlp: { protocols: { grpc: { endpoint: 127.0.0.1:0 } } } }\nexporters:\n  kafka:\n    brokers: [127.0.0.1:1]\n${client}\nservice: { pipelines: { traces: { receivers: [otlp], exporters: [kafka] } } }\n`;
    expect(() => parseConfig(yaml('    auth: { sasl: { mechanism: SCRAM-SHA-512, username: u, password: p, version: 1 } }\n    tls: { ca_file: /dev/null }'), builtinComponents, {})).not.toThrow();
    expect(() => parseConfig(yaml('    auth: { plain_text: { username: u, password: p } }'), builtinComponents, {})).not.toThrow();
    expect(() => parseConfig(yaml('    auth: { sasl: { mechanism: AWS_MSK_IAM_OAUTHBEARER, username: u, password: p } }'), builtinComponents, {})).toThrow(/exporters\.kafka\.auth\.sasl\.mechanism.*SCRAM-SHA-512/s);
    expect(() => parseConfig(yaml('    auth: { kerberos: { service_name: kafka } }'), builtinComponents, {})).toThrow(/kerberos \(GSSAPI\) is not supported/);
    expect(() => parseConfig(yaml('    auth: { sasl: { mechanism: PLAIN, username: u } }'), builtinComponents, {})).toThrow(/password/);
  });
});

describe.skipIf(missingPeers('kafka'))('kafka over TLS and SASL → Apache Kafka 4.4 (SASL_SSL and SSL listeners)', () => {
  const ca = new TestCA('kafka test CA');
  const k = kafkaForTests(2, () => {
    const leaf = ca.issue('kafka-broker');
    return { certPem: leaf.certPem, keyPem: leaf.keyPem, users: [USER] };
  });

  const traces = (tag: number): string[] => Array.from({ length: 8 }, (_, i) => `${tag.toString(16).padStart(4, '0')}${i.toString(16).padStart(12, '0')}5ec0de${i.toString(16).padStart(10, '0')}`);

  async function roundTrip(client: () => string, topic: string, tag: number): Promise<void> {
    const sink = await new OtlpGrpcSink().start();
    k.cleanup(() => sink.stop());
    const r = await startKafkaProducer(client(), topic);
    k.cleanup(() => r.stop());
    const c = await startKafkaConsumer(client(), topic, sink.endpoint);
    k.cleanup(() => c.stop());
    const sent = traces(tag);
    expect(await postOtlpSpans(r, sent)).toBe(200);
    await sink.waitForSpans(sent.length, 30_000);
    expect(new Set(sink.spans().map((s) => s.traceId))).toEqual(new Set(sent));
  }

  const sasl = (mechanism: string, password = USER.password): string =>
    `    brokers: [${k.broker.saslSsl}]\n    tls: { ca_file: ${ca.pair.cert} }\n    auth: { sasl: { mechanism: ${mechanism}, username: ${USER.username}, password: ${password} } }`;

  for (const [i, mechanism] of ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'].entries()) {
    it(`SASL ${mechanism} over TLS: exporter and receiver, every span through the topic`, () => roundTrip(() => sasl(mechanism), `sasl-${mechanism.toLowerCase()}`, 0x100 + i), 60_000);
  }

  it('TLS alone (the SSL listener), and the deprecated auth.plain_text as SASL PLAIN', async () => {
    await roundTrip(() => `    brokers: [${k.broker.ssl}]\n    tls: { ca_file: ${ca.pair.cert} }`, 'tls-only', 0x200);
    await roundTrip(() => `    brokers: [${k.broker.saslSsl}]\n    tls: { ca_file: ${ca.pair.cert} }\n    auth: { plain_text: { username: ${USER.username}, password: ${USER.password} } }`, 'plain-text', 0x201);
  }, 90_000);

  it('a wrong password and a CA the broker does not chain to: produce errors counted, the reason logged, nothing acknowledged as sent', async () => {
    const other = new TestCA('another CA');
    for (const [client, reason] of [
      [sasl('SCRAM-SHA-512', 'not-the-password'), /SASL authentication failed.*SASL_AUTHENTICATION_FAILED/],
      [`    brokers: [${k.broker.ssl}]\n    tls: { ca_file: ${other.pair.cert} }`, /unable to verify the first certificate/],
    ] as const) {
      const { logger, lines } = capturingLogger();
      const r = await startKafkaProducer(client, 'refused', { logger });
      k.cleanup(() => r.stop());
      // Accepted into the sending queue, then retried: the queue holds them, the errors say why.
      expect(await postOtlpSpans(r, traces(0x300))).toBe(200);
      await eventually(async () => metricValue(await r.metrics(), 'span_relay_kafka_produce_errors_total') >= 2, 'produce errors', 20_000);
      expect(metricValue(await r.metrics(), 'span_relay_kafka_produced_messages_total')).toBe(0);
      const warned = lines.filter((l) => l.level >= 40).map((l) => l.msg);
      expect(warned.join('\n')).toMatch(reason);
    }
  }, 90_000);
});
