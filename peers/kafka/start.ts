/**
 * Apache Kafka 4.4 for a test: one KRaft node (broker and controller) from the peer's jars, on two
 * free loopback ports, with a temporary data directory formatted for it; ready when it answers an
 * ApiVersions request on its broker port.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { portRun } from '../../collector/test/helpers/ports.js';
import { PEERS_DIR, peer } from '../peers.js';
import { startPeerProcess, tempDir, type PeerProcess } from '../process.js';

export interface RunningKafka extends PeerProcess {
  /** host:port of the broker's PLAINTEXT listener. */
  bootstrap: string;
  /** With `secure`: host:port of its SASL_SSL listener (SASL PLAIN and SCRAM over TLS) and its SSL listener (TLS alone). */
  saslSsl?: string;
  ssl?: string;
  /** Stops the broker (SIGTERM: a controlled shutdown), keeping its data and ports for `resume`. */
  halt(): Promise<void>;
  /** Starts it again on the same data and ports; resolves once it answers. */
  resume(): Promise<void>;
}

export interface KafkaSecurity {
  /** The broker's certificate and key (PEM; the key unencrypted PKCS#8, as openssl makes it). */
  certPem: string;
  keyPem: string;
  /** SASL users: PLAIN ones in the broker's JAAS config, SCRAM ones (SHA-256 and SHA-512) added when the storage is formatted. */
  users: { username: string; password: string }[];
}

export async function startKafka(options: { partitions?: number; secure?: KafkaSecurity } = {}): Promise<RunningKafka> {
  const dir = peer('kafka');
  if (!dir) throw new Error('the kafka peer is not built (npm run peers)');
  const work = tempDir('kafka');
  const secure = options.secure;
  const port = await portRun(secure ? 4 : 2);
  const properties = join(work, 'server.properties');
  const listeners = [`PLAINTEXT://127.0.0.1:${port}`, ...(secure ? [`SASL_SSL://127.0.0.1:${port + 2}`, `SSL://127.0.0.1:${port + 3}`] : [])];
  let securityLines: string[] = [];
  if (secure) {
    const pem = join(work, 'broker.pem');
    writeFileSync(pem, `${secure.keyPem.trim()}\n${secure.certPem.trim()}\n`);
    const plainUsers = secure.users.map((u) => `user_${u.username}="${u.password}"`).join(' ');
    securityLines = [
      'inter.broker.listener.name=PLAINTEXT',
      'sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
      `listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required ${plainUsers};`,
      'listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
      'listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
      'ssl.keystore.type=PEM',
      `ssl.keystore.location=${pem}`,
    ];
  }
  writeFileSync(
    properties,
    [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@127.0.0.1:${port + 1}`,
      `listeners=${[...listeners, `CONTROLLER://127.0.0.1:${port + 1}`].join(',')}`,
      `advertised.listeners=${listeners.join(',')}`,
      'controller.listener.names=CONTROLLER',
      `listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT${secure ? ',SASL_SSL:SASL_SSL,SSL:SSL' : ''}`,
      ...securityLines,
      `log.dirs=${join(work, 'data')}`,
      `num.partitions=${options.partitions ?? 3}`,
      'offsets.topic.replication.factor=1',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'group.initial.rebalance.delay.ms=0',
      '',
    ].join('\n'),
  );
  const java = ['-Xmx512m', '-XX:+UseSerialGC', '-Xshare:auto', `-Dlog4j2.configurationFile=${join(PEERS_DIR, 'kafka', 'log4j2.xml')}`, '-cp', join(dir, 'libs', '*')];
  // A cluster ID is 16 random bytes in URL-safe base64, as `kafka-storage random-uuid` makes one.
  const clusterId = randomBytes(16).toString('base64url');
  const scram = (secure?.users ?? []).flatMap((u) => ['SCRAM-SHA-256', 'SCRAM-SHA-512'].flatMap((m) => ['--add-scram', `${m}=[name=${u.username},password=${u.password}]`]));
  const format = spawnSync('java', [...java, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', properties, ...scram], { encoding: 'utf8', timeout: 60_000 });
  if (format.status !== 0) throw new Error(`kafka storage format failed (${format.status}):\n${format.stdout}${format.stderr}`);
  const launch = (): Promise<PeerProcess> =>
    startPeerProcess('kafka', 'java', [...java, 'kafka.Kafka', properties], {
      dir: work,
      ready: () => apiVersions(`127.0.0.1:${port}`).then((keys) => keys > 0),
      timeoutMs: 90_000,
    });
  let current = await launch();
  return {
    bootstrap: `127.0.0.1:${port}`,
    ...(secure ? { saslSsl: `127.0.0.1:${port + 2}`, ssl: `127.0.0.1:${port + 3}` } : {}),
    dir: work,
    get child() {
      return current.child;
    },
    output: () => current.output(),
    stop: () => current.stop(),
    async halt() {
      const { child } = current;
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(killer);
    },
    async resume() {
      current = await launch();
    },
  };
}

/**
 * Sends ApiVersions v0 (API key 18) and resolves with how many APIs the broker lists, having
 * checked the answer's correlation ID and error code: a real request of the Kafka protocol, made
 * here so the peer's readiness does not depend on the client a test is about to try.
 */
export function apiVersions(hostPort: string, timeoutMs = 2000): Promise<number> {
  const [host, port] = [hostPort.slice(0, hostPort.lastIndexOf(':')), Number(hostPort.slice(hostPort.lastIndexOf(':') + 1))];
  const clientId = Buffer.from('span-relay-test');
  const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length);
  body.writeInt16BE(18, 0); // ApiVersions
  body.writeInt16BE(0, 2); // version 0
  body.writeInt32BE(0x5eed, 4); // correlation ID
  body.writeInt16BE(clientId.length, 8);
  clientId.copy(body, 10);
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length);
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(new Error('no ApiVersions answer')), timeoutMs);
    socket.on('connect', () => socket.write(Buffer.concat([size, body])));
    socket.on('data', (b: Buffer) => {
      chunks.push(b);
      const all = Buffer.concat(chunks);
      if (all.length < 4 || all.length < 4 + all.readInt32BE(0)) return;
      clearTimeout(timer);
      socket.end();
      if (all.readInt32BE(4) !== 0x5eed) return reject(new Error('ApiVersions answer for another request'));
      const error = all.readInt16BE(8);
      if (error !== 0) return reject(new Error(`ApiVersions error code ${error}`));
      resolve(all.readInt32BE(10));
    });
    socket.on('error', (err) => (clearTimeout(timer), reject(err)));
  });
}
