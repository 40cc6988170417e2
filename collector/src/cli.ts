import { parseArgs, type ParseArgsConfig } from 'node:util';
import { builtinComponents } from './components.js';
import { checkListenHost, DEFAULT_LISTEN_HOST, defaultConfig, LISTEN_HOST_ENV } from './config/default.js';
import { loadConfigFile, parseConfig, type CollectorConfig } from './config/load.js';
import { ConfigError, DecodeError, ListenError, UsageError } from './model/errors.js';
import { checkFiles } from './continuity/check.js';
import { replayCommand } from './replay/cli.js';
import { formatRoutes, routesFrom } from './exporters/embedded/routes-cli.js';
import { Collector } from './pipeline.js';
import { applyHeapPolicy, heapGrowingPercent } from './heap-policy.js';
import { Telemetry } from './telemetry/telemetry.js';
import { isWorker, parseWorkers, runPrimary, workerIndex, workerRole } from './workers/cluster.js';

type Options = NonNullable<ParseArgsConfig['options']>;

interface Command {
  usage: string;
  options: Options;
  positionals: boolean;
}

const HELP = { help: { type: 'boolean', short: 'h' } } as const;

const COMMANDS: Record<string, Command> = {
  run: {
    usage: `usage: span-relay run [--config FILE | --listen-host HOST]

Runs the collector. Without --config: the embedded default, every receiver on its standard port
(Zipkin 9411, OpenCensus 55678, OTLP 4317/4318, Jaeger 14250/14268/6831/6832), admin and
/metrics on 8888, traces stored in ./data/traces.db with the trace page and Jaeger's query API on
http://localhost:16686, all on 127.0.0.1 unless --listen-host or ${LISTEN_HOST_ENV} names another
host (0.0.0.0: every interface, as a container needs). A config names its own endpoints. Relative paths in a config (the store, file exporter, capture and storage
directories) are taken from the directory you
run the command in. SIGTERM or Ctrl-C stops it after flushing.

  -c, --config FILE   an OpenTelemetry-Collector-style YAML config
  --listen-host HOST  where the embedded default listens (default: $${LISTEN_HOST_ENV}, else ${DEFAULT_LISTEN_HOST})
  -w, --workers N     N worker processes sharing the ports, each trace joined in the one that owns
                      it; auto = one per core (default 1: a single process). Not with components
                      that own files (embedded, file, file_storage, capture)
  -h, --help          this text`,
    options: { config: { type: 'string', short: 'c' }, 'listen-host': { type: 'string' }, workers: { type: 'string', short: 'w' }, ...HELP },
    positionals: false,
  },
  validate: {
    usage: `usage: span-relay validate --config FILE

Checks a config and prints the pipelines it would run. Every error is listed, each naming its key;
exit 1 when there is one.

  -c, --config FILE   the config to check
  -h, --help          this text`,
    options: { config: { type: 'string', short: 'c' }, ...HELP },
    positionals: false,
  },
  check: {
    usage: `usage: span-relay check FILE... (- for standard input)

Prints the trace trees in Jaeger UI downloads, OTLP JSON (one request or JSON lines) or Zipkin JSON
arrays, and where each trace breaks. Exit 1 when a trace is broken.

  -h, --help          this text`,
    options: { ...HELP },
    positionals: true,
  },
  routes: {
    usage: `usage: span-relay routes FILE... | --store PATH [options]

Prints per called service and route what the trace page's /routes shows (GET /api/routes): requests
against attempts (a request retried three times is 1 request and 3 attempts: linkerd viz routes'
effective against actual count), success rate (the last attempt's outcome), latency p50/p95/p99 from
the first attempt to the last, and timeouts (504, DEADLINE_EXCEEDED, the proxy's timeout). FILEs are
OTLP JSON lines as the file exporter writes them, or anything check reads (- for standard input),
grouped into traces as the join would.

  --store PATH        read the embedded store's SQLite file instead (the newest 5,000 traces)
  --lookback D        with --store: traces that started in the last D (1h, 30m; default all)
  --service S         only the routes of the called service S
  --json              the JSON of GET /api/routes: {"routes":[...],"traces":N,"truncated":false}
  -h, --help          this text`,
    options: { store: { type: 'string' }, lookback: { type: 'string' }, service: { type: 'string' }, json: { type: 'boolean' }, ...HELP },
    positionals: true,
  },
  replay: {
    usage: `usage: span-relay replay FILE... --to HOST[:PORT]|URL [options]

Sends captures (and Jaeger UI JSON, OTLP JSON lines, Zipkin JSON) to a collector or Jaeger.

  --to HOST[:PORT]|URL  where to; a bare host sends each protocol to its standard port
  --as PROTOCOL         zipkin | otlp-http | otlp-grpc | opencensus | jaeger-thrift
                        (default: each capture's own protocol; files go as otlp-http)
  --speed 1|N|max       original pacing, N times faster, or as fast as accepted (default max)
  --shift-time          move all times so the traces look recent
  --new-ids             new trace and span IDs, every parent link kept
  --loop N              replay N times
  --rate SPANS_PER_S    at most this many spans per second
  --concurrency N       requests in flight at once (default 8)
  -h, --help            this text`,
    options: {
      to: { type: 'string' },
      as: { type: 'string' },
      speed: { type: 'string' },
      'shift-time': { type: 'boolean' },
      'new-ids': { type: 'boolean' },
      loop: { type: 'string' },
      rate: { type: 'string' },
      concurrency: { type: 'string' },
      ...HELP,
    },
    positionals: true,
  },
};

const USAGE = `usage: span-relay <command> [options]

commands:
  run [--config FILE]        run the collector (default: the embedded config, standard ports)
  validate --config FILE     check a config file and print what it would run
  check FILE...              print trace trees and where each trace breaks; exit 1 when one does
  routes FILE|--store PATH   requests, attempts, success, latency and timeouts per service and route
  replay FILE... --to HOST   send captures and trace files to a collector or Jaeger
  help [COMMAND]             this text, or a command's

'span-relay COMMAND --help' tells more about each.`;

async function configFrom(path: string | undefined, listenHost?: string): Promise<CollectorConfig> {
  return path ? loadConfigFile(path, builtinComponents) : parseConfig(defaultConfig(listenHost), builtinComponents);
}

/** Where the embedded default listens: the flag, else the environment, else loopback. */
function listenHostFor(path: string | undefined, flag: string | undefined): string | undefined {
  if (path) {
    if (flag !== undefined) throw new UsageError('--listen-host applies to the embedded default; a --config names its own endpoints');
    return undefined;
  }
  const [host, from] = flag !== undefined ? [flag, '--listen-host'] : [process.env[LISTEN_HOST_ENV] || DEFAULT_LISTEN_HOST, LISTEN_HOST_ENV];
  const wrong = checkListenHost(host);
  if (wrong) throw new UsageError(`${from}: ${wrong}`);
  return host;
}

async function run(path: string | undefined, workersFlag: string | undefined, listenHostFlag?: string): Promise<number> {
  // Checked first (a bad value is a usage error), set once the collector is ready: node compiles
  // from source each of its own modules loaded after a V8 flag is set (src/run-bundle.ts), and a
  // start loads some as it listens. Nothing a start holds is old enough for the policy to matter.
  heapGrowingPercent(process.execArgv, process.env);
  const config = await configFrom(path, listenHostFor(path, listenHostFlag));
  const workers = parseWorkers(workersFlag);
  if (workers > 1 && !isWorker()) {
    applyHeapPolicy();
    return runPrimary(config, workers);
  }
  const index = workerIndex();
  const telemetry = new Telemetry({ level: config.telemetry.logLevel, ...(index !== undefined ? { bindings: { worker: index } } : {}) });
  const worker = workerRole(telemetry);
  const collector = new Collector(config, worker?.options ?? { telemetry });
  // A bug must not take every client's spans down with it: log, count, stay up.
  process.on('unhandledRejection', (err) => collector.telemetry.reportUnexpected(err, 'process (unhandled rejection)'));
  process.on('uncaughtException', (err) => collector.telemetry.reportUnexpected(err, 'process (uncaught exception)'));
  try {
    await worker?.handoff.start();
    await collector.start();
    worker?.ready();
  } catch (err) {
    await collector.shutdown(1000).catch(() => undefined);
    await worker?.handoff.shutdown();
    throw err;
  }
  applyHeapPolicy();
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  collector.telemetry.logger.info({ signal, shutdown_timeout_ms: config.shutdownTimeoutMs }, 'shutting down: no new requests; draining what was accepted');
  // Whatever a component does, the process is gone shortly after the timeout.
  setTimeout(() => {
    collector.telemetry.logger.error('shutdown did not finish within shutdown_timeout + 5 s: exiting');
    process.exit(1);
  }, config.shutdownTimeoutMs + 5_000).unref();
  await collector.shutdown();
  await worker?.handoff.shutdown();
  const lost = collector.telemetry.lostAtShutdown;
  if (lost > 0) {
    collector.telemetry.logger.error({ undelivered_spans: lost }, `${lost} acknowledged span(s) could not be delivered within service.shutdown_timeout`);
    return 1;
  }
  return 0;
}

async function validate(path: string | undefined): Promise<number> {
  if (!path) throw new UsageError('validate needs --config FILE');
  const config = await configFrom(path);
  for (const p of config.pipelines) {
    console.log(`${p.name}: ${p.receivers.join(', ')} -> ${p.processors.join(' -> ') || '(no processors)'} -> ${p.exporters.join(', ')}`);
  }
  console.log(`config ${path} is valid`);
  return 0;
}

async function check(paths: string[]): Promise<number> {
  if (paths.length === 0) throw new UsageError('check needs at least one FILE (- for standard input)');
  const outcome = await checkFiles(paths);
  console.log(outcome.lines.join('\n'));
  return outcome.broken > 0 ? 1 : 0;
}

function parse(name: string, spec: Command, args: string[]): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args, options: spec.options, allowPositionals: spec.positionals, strict: true });
    return { values: values as Record<string, string | boolean | undefined>, positionals };
  } catch (err) {
    // node:util's messages name the flag: "Unknown option '--foo'".
    throw new UsageError(`${(err as Error).message.split('. ')[0]}`);
  }
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    const about = rest[0] ? COMMANDS[rest[0]] : undefined;
    console.log(about ? about.usage : USAGE);
    return 0;
  }
  const spec = COMMANDS[command];
  if (!spec) {
    console.error(`span-relay: unknown command '${command}'\n\n${USAGE}`);
    return 2;
  }
  try {
    const { values, positionals } = parse(command, spec, rest);
    if (values.help === true) {
      console.log(spec.usage);
      return 0;
    }
    const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
    switch (command) {
      case 'run':
        return await run(str(values.config), str(values.workers), str(values['listen-host']));
      case 'validate':
        return await validate(str(values.config));
      case 'check':
        return await check(positionals);
      case 'routes': {
        const answer = await routesFrom({ files: positionals, store: str(values.store), service: str(values.service), lookback: str(values.lookback) });
        console.log(values.json === true ? JSON.stringify(answer) : formatRoutes(answer));
        return 0;
      }
      default:
        return await replayCommand({
          files: positionals,
          to: str(values.to),
          as: str(values.as),
          speed: str(values.speed),
          shiftTime: values['shift-time'] === true,
          newIds: values['new-ids'] === true,
          loop: str(values.loop),
          rate: str(values.rate),
          concurrency: str(values.concurrency),
        });
    }
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`span-relay ${command}: ${err.message}\n\n${spec.usage}`);
      return 2;
    }
    if (err instanceof ConfigError) {
      console.error(`invalid config:\n${err.message}`);
      return 1;
    }
    if (err instanceof ListenError) {
      console.error(`span-relay ${command}: ${err.message}`);
      return 1;
    }
    if (err instanceof DecodeError || (err as NodeJS.ErrnoException).code === 'ENOENT') {
      console.error(`span-relay ${command}: ${(err as Error).message}`);
      return 2;
    }
    throw err;
  }
}
