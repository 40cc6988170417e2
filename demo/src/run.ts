/**
 * `npm run demo`: the whole topology as local processes on 127.0.0.1, the collector included; drives
 * votes; says where to look; Ctrl-C stops every process it started.
 *   npm run demo -- [--proxy-protocol otlp] [--ingress-128] [--voting-delay-ms 2000] [--votes N] [--rate R]
 *                   [--port-base P] [--offset-collector-ports]
 *   npm run demo -- --compose     writes docker-compose.yml from the same topology
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { composeFile, DEFAULTS, ports, topology, type TopologyOptions } from './topology.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface RunningDemo {
  procs: Map<string, ChildProcess>;
  ports: ReturnType<typeof ports>;
  stop(): Promise<void>;
}

export interface DemoRunOptions {
  /** Replace the collector's config (tests point it at their own backend). */
  collectorConfig?: string;
  extraEnv?: Record<string, string>;
  /** Lines the processes print, for a user or a test. */
  onOutput?: (name: string, line: string) => void;
  startDriver?: boolean;
}

function waitReady(name: string, child: ChildProcess, isReady: (line: string) => boolean, onOutput?: DemoRunOptions['onOutput']): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 20 s`)), 20_000);
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        onOutput?.(name, line);
        if (isReady(line)) {
          clearTimeout(timer);
          resolve();
        }
      }
    };
    // What the process said last, so a failure to start shows its reason.
    const said: string[] = [];
    const keep = (line: string) => {
      if (!line.trim()) return;
      said.push(line);
      if (said.length > 8) said.shift();
    };
    child.stdout!.on('data', (d: Buffer) => {
      d.toString().split('\n').forEach(keep);
      onData(d);
    });
    child.stderr!.on('data', (d: Buffer) => {
      d.toString().split('\n').forEach(keep);
      onOutput?.(name, d.toString().trimEnd());
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before it was ready${said.length ? `:\n  ${said.join('\n  ')}` : ''}`));
    });
  });
}

export async function startDemo(o: TopologyOptions, run: DemoRunOptions = {}): Promise<RunningDemo> {
  const procs = new Map<string, ChildProcess>();
  const stop = async (): Promise<void> => {
    // The driver first, the collector last so it gets every span.
    const order = [...procs.keys()].reverse();
    for (const name of order) {
      const child = procs.get(name)!;
      if (child.exitCode !== null || child.signalCode !== null) continue;
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => (clearTimeout(t), resolve()));
        child.kill('SIGTERM');
      });
    }
  };
  try {
    for (const proc of topology(o)) {
      if (proc.driver && run.startDriver === false) continue;
      const args = proc.name === 'collector' && run.collectorConfig ? [...proc.args.slice(0, -1), run.collectorConfig] : proc.args;
      const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...proc.env, ...run.extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
      procs.set(proc.name, child);
      if (proc.driver) {
        child.stdout.on('data', (d: Buffer) => d.toString().trimEnd().split('\n').forEach((l) => run.onOutput?.(proc.name, l)));
        continue;
      }
      const ready = proc.name === 'collector' ? (l: string) => l.includes('span-relay is running') : (l: string) => l.startsWith('{"service"');
      await waitReady(proc.name, child, ready, run.onOutput);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { procs, ports: ports(o.portBase, o.collectorPorts), stop };
}

export function usage(): string {
  const p = ports(DEFAULTS.portBase, 'standard');
  const o = ports(DEFAULTS.portBase, 'offset');
  return `usage: npm run demo -- [options]

  --proxy-protocol opencensus|otlp   what the linkerd-proxy stand-ins export (default opencensus)
  --ingress-128                      128-bit trace IDs at the ingress (default 64-bit, as nginx)
  --voting-delay-ms N                slow voting-svc down (over 300 ms: the sidecar answers 504)
  --votes N, --rate R                stop after N votes; R votes per second (default 2)
  --port-base P                      where the services' ports start (default ${DEFAULTS.portBase})
  --offset-collector-ports           the collector off its standard ports (for a machine that
                                     already runs a collector)
  --compose                          write docker-compose.yml from the same topology
  -h, --help                         this text

ports (with the default --port-base ${DEFAULTS.portBase}):
  ingress (the app)     ${p.ingress}
  web, emoji, voting    ${p.web}, ${p.emoji}, ${p.voting}   (their sidecars' inbound: ${p.webIn}, ${p.emojiIn}, ${p.votingIn})
  web's outbound        to emoji ${p.webToEmoji}, to voting ${p.webToVoting}
  collector             Zipkin ${p.zipkin}, OpenCensus ${p.opencensus}, OTLP gRPC ${p.otlpGrpc}, OTLP HTTP ${p.otlpHttp}, admin ${p.admin}, trace page ${p.query}
  with --offset-collector-ports: Zipkin ${o.zipkin}, OpenCensus ${o.opencensus}, OTLP ${o.otlpGrpc}/${o.otlpHttp}, admin ${o.admin}, trace page ${o.query}`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      help: { type: 'boolean', short: 'h' },
      compose: { type: 'boolean' },
      'proxy-protocol': { type: 'string' },
      'ingress-128': { type: 'boolean' },
      'voting-delay-ms': { type: 'string' },
      votes: { type: 'string' },
      rate: { type: 'string' },
      'port-base': { type: 'string' },
      'offset-collector-ports': { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(usage());
    return;
  }
  if (values.compose) {
    writeFileSync(`${ROOT}docker-compose.yml`, composeFile());
    console.log('wrote docker-compose.yml from demo/src/topology.ts');
    return;
  }
  const o: TopologyOptions = {
    ...DEFAULTS,
    portBase: Number(values['port-base'] ?? DEFAULTS.portBase),
    proxyProtocol: values['proxy-protocol'] === 'otlp' ? 'otlp' : 'opencensus',
    ingress128: values['ingress-128'] === true,
    votingDelayMs: Number(values['voting-delay-ms'] ?? 0),
    votes: { rate: Number(values.rate ?? 2), count: Number(values.votes ?? 0) },
    collectorPorts: values['offset-collector-ports'] ? 'offset' : 'standard',
  };
  const demo = await startDemo(o, { onOutput: (name, line) => (name === 'vote-bot' || line.includes('"level":40') || line.includes('"level":50') ? console.log(`${name.padEnd(12)} ${line}`) : undefined) });
  const p = demo.ports;
  console.log(`
emojivoto is running, traced end to end through span-relay:
  the app, through the ingress:  http://127.0.0.1:${p.ingress}/
  collector metrics:             http://127.0.0.1:${p.admin}/metrics   (span_relay_join_traces_total: complete vs broken)
  the traces, on the trace page: http://127.0.0.1:${p.query}/search?service=nginx&lookback=900000
  every trace, as OTLP JSON:     data/demo/traces.jsonl
  check the traces:              npx span-relay check data/demo/traces.jsonl
vote-bot votes ${o.votes.rate}/s${o.votes.count ? ` (${o.votes.count} votes)` : ''}; doughnut votes fail and are retried by web's sidecar. Ctrl-C stops everything.
`);
  // Every 10 s, the page of the newest vote's trace (the store answers once the join released it).
  let last = '';
  const newest = setInterval(() => {
    fetch(`http://127.0.0.1:${p.query}/api/traces?service=nginx&limit=1&lookback=1m`)
      .then((r) => r.json() as Promise<{ data: { traceID: string; spanRelay: { verdict: string } }[] }>)
      .then(({ data }) => {
        const t = data[0];
        if (t && t.traceID !== last) {
          last = t.traceID;
          console.log(`last vote's trace (${t.spanRelay.verdict}): http://127.0.0.1:${p.query}/trace/${t.traceID}`);
        }
      })
      .catch(() => undefined);
  }, 10_000);
  newest.unref();
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  console.log('stopping…');
  await demo.stop();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? `demo: ${err.message}` : err);
    process.exit(1);
  });
}
