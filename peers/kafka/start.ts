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
}

export async function startKafka(options: { partitions?: number } = {}): Promise<RunningKafka> {
  const dir = peer('kafka');
  if (!dir) throw new Error('the kafka peer is not built (npm run peers)');
  const work = tempDir('kafka');
  const port = await portRun(2);
  const properties = join(work, 'server.properties');
  writeFileSync(
    properties,
    [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@127.0.0.1:${port + 1}`,
      `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${port + 1}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
      'controller.listener.names=CONTROLLER',
      'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
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
  const format = spawnSync('java', [...java, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', properties], { encoding: 'utf8', timeout: 60_000 });
  if (format.status !== 0) throw new Error(`kafka storage format failed (${format.status}):\n${format.stdout}${format.stderr}`);
  const proc = await startPeerProcess('kafka', 'java', [...java, 'kafka.Kafka', properties], {
    dir: work,
    ready: () => apiVersions(`127.0.0.1:${port}`).then((keys) => keys > 0),
    timeoutMs: 90_000,
  });
  return Object.assign(proc, { bootstrap: `127.0.0.1:${port}` });
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
