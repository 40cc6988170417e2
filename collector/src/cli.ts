import { parseArgs } from 'node:util';
import { builtinComponents } from './components.js';
import { DEFAULT_CONFIG_YAML } from './config/default.js';
import { loadConfigFile, parseConfig, type CollectorConfig } from './config/load.js';
import { ConfigError, DecodeError } from './model/errors.js';
import { checkFiles } from './continuity/check.js';
import { replayCommand, UsageError } from './replay/cli.js';
import { Collector } from './pipeline.js';

const USAGE = `usage: span-relay <command> [options]

commands:
  run [--config FILE]       run the collector (no --config: the embedded default,
                            every receiver on its standard port, OTLP JSON lines in ./data)
  validate --config FILE    check a config file and print what it would run
  check FILE...             print the trace trees in Jaeger UI JSON, OTLP JSON or Zipkin
                            JSON files and where each trace breaks; exit 1 when one does
  replay FILE... --to HOST  send captures (and Jaeger UI JSON, OTLP JSON lines, Zipkin JSON)
                            to a collector or Jaeger; options:
      --as PROTOCOL         zipkin | otlp-http | otlp-grpc | opencensus | jaeger-thrift
                            (default: each capture's own protocol; files go as otlp-http)
      --speed 1|N|max       original pacing, N times faster, or as fast as accepted (default max)
      --shift-time          move all times so the traces look recent
      --new-ids             new trace and span IDs, every parent link kept
      --loop N              replay N times        --rate SPANS_PER_S   at most this many spans/s
  help                      this text`;

async function configFrom(path: string | undefined): Promise<CollectorConfig> {
  return path ? loadConfigFile(path, builtinComponents) : parseConfig(DEFAULT_CONFIG_YAML, builtinComponents);
}

async function run(path: string | undefined): Promise<number> {
  const collector = new Collector(await configFrom(path));
  await collector.start();
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      collector.telemetry.logger.info({ signal }, 'shutting down: flushing queues');
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await collector.shutdown();
  return 0;
}

async function validate(path: string | undefined): Promise<number> {
  if (!path) {
    console.error('validate needs --config FILE');
    return 2;
  }
  const config = await configFrom(path);
  for (const p of config.pipelines) {
    console.log(`${p.name}: ${p.receivers.join(', ')} -> ${p.processors.join(' -> ') || '(no processors)'} -> ${p.exporters.join(', ')}`);
  }
  console.log(`config ${path} is valid`);
  return 0;
}

async function check(paths: string[]): Promise<number> {
  if (paths.length === 0) {
    console.error('check needs at least one FILE');
    return 2;
  }
  const outcome = await checkFiles(paths);
  console.log(outcome.lines.join('\n'));
  return outcome.broken > 0 ? 1 : 0;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      config: { type: 'string', short: 'c' },
      to: { type: 'string' },
      as: { type: 'string' },
      speed: { type: 'string' },
      'shift-time': { type: 'boolean' },
      'new-ids': { type: 'boolean' },
      loop: { type: 'string' },
      rate: { type: 'string' },
      concurrency: { type: 'string' },
    },
    allowPositionals: true,
    strict: false,
  });
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  const config = typeof values.config === 'string' ? values.config : undefined;
  try {
    switch (command) {
      case 'run':
        return await run(config);
      case 'validate':
        return await validate(config);
      case 'check':
        return await check(positionals);
      case 'replay':
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
      case undefined:
      case 'help':
      case '--help':
        console.log(USAGE);
        return 0;
      default:
        console.error(`unknown command '${command}'\n\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`span-relay ${command}: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    if (err instanceof ConfigError) {
      console.error(`invalid config:\n${err.message}`);
      return 1;
    }
    if (err instanceof DecodeError || (err as NodeJS.ErrnoException).code === 'ENOENT') {
      console.error(`span-relay ${command}: ${(err as Error).message}`);
      return 2;
    }
    throw err;
  }
}
