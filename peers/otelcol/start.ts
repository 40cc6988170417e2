/**
 * The OpenTelemetry Collector for a test or the bench: the built peer with the caller's config (its
 * own ports, which the caller chose free), its own telemetry off the standard port 8888, ready when
 * it logs that everything is ready.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { peer } from '../peers.js';
import { startPeerProcess, tempDir, type PeerProcess } from '../process.js';

/** `cpus`: run it on these cores only (taskset's list), with GOMAXPROCS the count of them, as the bench pins it. */
export async function startOtelcol(configYaml: string, options: { cpus?: string } = {}): Promise<PeerProcess> {
  const dir = peer('otelcol');
  if (!dir) throw new Error('the otelcol peer is not built (npm run peers)');
  const work = tempDir('otelcol');
  const config = join(work, 'config.yaml');
  writeFileSync(config, configYaml);
  // The Collector serves its own metrics on :8888 unless told otherwise: no telemetry readers here.
  const args = ['--config', config, '--config', 'yaml:service::telemetry::metrics::level: none'];
  const pinned = options.cpus ? ['taskset', ['-c', options.cpus, join(dir, 'otelcol'), ...args]] as const : [join(dir, 'otelcol'), args] as const;
  return startPeerProcess('otelcol', pinned[0], [...pinned[1]], {
    dir: work,
    ...(options.cpus ? { env: { GOMAXPROCS: String(options.cpus.split(',').length) } } : {}),
    ready: (output) => output.includes('Everything is ready'),
  });
}
