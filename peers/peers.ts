/**
 * The real systems span-relay's tests and bench run beside it, built from the package registries by
 * `npm run peers` (peers/install.ts). Each peer is a folder here with its manifest; what it builds
 * goes to a cache outside the checkout, in a folder named by a hash of that manifest, so a CI run in
 * a fresh clone on the same machine finds it, and a changed version builds anew.
 *
 * Tests ask `peer(name)` for a built peer and skip themselves by name when it is missing.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PEERS_DIR = fileURLToPath(new URL('.', import.meta.url));

export interface PeerSpec {
  /** What it is, with its version, as the install log and the README say it. */
  title: string;
  /** Files of peers/<name>/ whose content makes the cache key (the versions are pinned in them). */
  manifest: string[];
  /**
   * How it is built (peers/install.ts): `go` builds `goPackage` (default: the folder's own main) to
   * `product`; `mvn` copies the runtime dependencies of the folder's pom.xml into libs/; `python3`
   * makes a virtualenv at venv/ and installs the folder's requirements.txt into it.
   */
  needs: 'go' | 'mvn' | 'python3';
  goPackage?: string;
  /** The file whose presence in the built folder says the build finished. */
  product: string;
}

export const PEERS = {
  jaeger: {
    title: 'Jaeger v2.12.0 (github.com/jaegertracing/jaeger v1.75.0)',
    manifest: ['go.mod', 'go.sum'],
    needs: 'go',
    goPackage: 'github.com/jaegertracing/jaeger/cmd/jaeger',
    product: 'jaeger',
  },
  otelcol: {
    title: 'OpenTelemetry Collector v0.165.0 (contrib v0.165.1)',
    manifest: ['go.mod', 'go.sum', 'main.go'],
    needs: 'go',
    product: 'otelcol',
  },
  // helm lint and helm template for deploy/helm/span-relay (test/helm.test.ts). v3 rather than v4.3.2:
  // its cold build took 257 s of CPU here against v4's 348 s.
  helm: {
    title: 'Helm v3.22.0 (helm.sh/helm/v3, Go module proxy)',
    manifest: ['go.mod', 'go.sum'],
    needs: 'go',
    goPackage: 'helm.sh/helm/v3/cmd/helm',
    product: 'helm',
  },
  kafka: {
    title: 'Apache Kafka 4.4.0 (org.apache.kafka:kafka_2.13)',
    manifest: ['pom.xml'],
    needs: 'mvn',
    product: 'libs/kafka_2.13-4.4.0.jar',
  },
  // Tracers written by others, each sending in its default transport (their tests: collector/test/tracers-*.test.ts).
  'python-opencensus': {
    title: 'Python OpenCensus agent exporters: opentelemetry-exporter-opencensus 0.66b1 (OpenTelemetry SDK 1.45.1) and opencensus-ext-ocagent 0.7.1 (opencensus 0.11.4), from PyPI',
    manifest: ['requirements.txt'],
    needs: 'python3',
    product: 'venv/bin/python',
  },
  'python-tracers': {
    title: 'Python py-zipkin 1.2.8 and opentelemetry-exporter-otlp 1.45.2 (gRPC and HTTP/protobuf, OpenTelemetry SDK 1.45.2), from PyPI',
    manifest: ['requirements.txt'],
    needs: 'python3',
    product: 'venv/bin/python',
  },
  'go-tracers': {
    title: 'Go OpenTelemetry SDK v1.47.0 with otlptracegrpc and otlptracehttp v1.47.0, OpenCensus Go v0.24.0 with ocagent v0.7.0, ochttp and ocgrpc (Go module proxy)',
    manifest: ['go.mod', 'go.sum', 'main.go'],
    needs: 'go',
    product: 'go-tracers',
  },
  'jaeger-proto': {
    title: "Jaeger api_v2 requests as Jaeger's Go code writes them: jaeger-idl v0.14.0's model (gogo protobuf v1.3.2) and the OpenTelemetry Collector's Jaeger translator (contrib pkg/translator/jaeger v0.165.1), Go module proxy",
    manifest: ['go.mod', 'go.sum', 'main.go'],
    needs: 'go',
    product: 'jaeger-proto',
  },
  'java-tracers': {
    title: 'Java Brave 6.3.1 with zipkin-reporter 3.5.3 and the OpenTelemetry Java SDK 1.68.0 with its OTLP exporters (Maven Central)',
    manifest: ['pom.xml'],
    needs: 'mvn',
    product: 'libs/opentelemetry-exporter-otlp-1.68.0.jar',
  },
} satisfies Record<string, PeerSpec>;

export type PeerName = keyof typeof PEERS;

/** Where built peers live: $SPAN_RELAY_PEERS_CACHE, else ~/.cache/span-relay-peers. */
export function peersCache(): string {
  return process.env.SPAN_RELAY_PEERS_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'span-relay-peers');
}

/** The folder a peer builds into: its name and the first 12 hex digits of its manifest's hash. */
export function peerDir(name: PeerName): string {
  const spec: PeerSpec = PEERS[name];
  const hash = createHash('sha256');
  for (const file of spec.manifest) hash.update(file).update('\0').update(readFileSync(join(PEERS_DIR, name, file))).update('\0');
  return join(peersCache(), `${name}-${hash.digest('hex').slice(0, 12)}`);
}

/** The built peer's folder, or undefined when `npm run peers` has not built it on this machine. */
export function peer(name: PeerName): string | undefined {
  const dir = peerDir(name);
  return existsSync(join(dir, PEERS[name].product)) ? dir : undefined;
}

/** For describe.skipIf: the reason a test that needs these peers cannot run here, or '' when all are built. */
export function missingPeers(...names: PeerName[]): string {
  const missing = names.filter((n) => !peer(n));
  return missing.length ? `peer${missing.length > 1 ? 's' : ''} not built: ${missing.join(', ')} (npm run peers)` : '';
}
