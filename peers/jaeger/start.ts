/**
 * Jaeger v2 for a test: the built peer with peers/jaeger/config.yaml (memory storage), every
 * endpoint on a free loopback port, ready when its health check says so.
 */
import { join } from 'node:path';
import { portRun } from '../../collector/test/helpers/ports.js';
import { PEERS_DIR, peer } from '../peers.js';
import { answers, startPeerProcess, tempDir, type PeerProcess } from '../process.js';

export interface RunningJaeger extends PeerProcess {
  /** host:port of the OTLP gRPC receiver. */
  otlpGrpc: string;
  /** http://host:port of the OTLP HTTP receiver (no path). */
  otlpHttp: string;
  /** host:port of the Jaeger gRPC receiver (jaeger.api_v2.CollectorService). */
  jaegerGrpc: string;
  /** http://host:port of the Zipkin receiver (no path). */
  zipkin: string;
  /** http://host:port of the query API (/api/v3/..., /api/...). */
  query: string;
}

export interface JaegerPorts {
  otlpGrpc: number;
  otlpHttp: number;
  jaegerGrpc: number;
  zipkin: number;
  queryHttp: number;
  queryGrpc: number;
  health: number;
  metrics: number;
}

/** Starts Jaeger v2 on free ports, or on the ports given (a test standing it where senders already point). */
export async function startJaeger(fixed: Partial<JaegerPorts> = {}): Promise<RunningJaeger> {
  const dir = peer('jaeger');
  if (!dir) throw new Error('the jaeger peer is not built (npm run peers)');
  const base = await portRun(8);
  const ports: JaegerPorts = { otlpGrpc: base, otlpHttp: base + 1, jaegerGrpc: base + 2, zipkin: base + 3, queryHttp: base + 4, queryGrpc: base + 5, health: base + 6, metrics: base + 7, ...fixed };
  const env = {
    JAEGER_ZIPKIN_PORT: String(ports.zipkin),
    JAEGER_LISTEN_HOST: '127.0.0.1',
    JAEGER_OTLP_GRPC_PORT: String(ports.otlpGrpc),
    JAEGER_OTLP_HTTP_PORT: String(ports.otlpHttp),
    JAEGER_GRPC_PORT: String(ports.jaegerGrpc),
    JAEGER_QUERY_HTTP_PORT: String(ports.queryHttp),
    JAEGER_QUERY_GRPC_PORT: String(ports.queryGrpc),
    JAEGER_HEALTH_PORT: String(ports.health),
    JAEGER_METRICS_PORT: String(ports.metrics),
    JAEGER_LOG_LEVEL: 'warn',
  };
  const query = `http://127.0.0.1:${ports.queryHttp}`;
  const proc = await startPeerProcess('jaeger', join(dir, 'jaeger'), ['--config', join(PEERS_DIR, 'jaeger', 'config.yaml')], {
    dir: tempDir('jaeger'),
    env,
    ready: async () => (await answers(`http://127.0.0.1:${ports.health}/status`)) && answers(`${query}/api/v3/services`),
  });
  return Object.assign(proc, {
    otlpGrpc: `127.0.0.1:${ports.otlpGrpc}`,
    otlpHttp: `http://127.0.0.1:${ports.otlpHttp}`,
    jaegerGrpc: `127.0.0.1:${ports.jaegerGrpc}`,
    zipkin: `http://127.0.0.1:${ports.zipkin}`,
    query,
  });
}
