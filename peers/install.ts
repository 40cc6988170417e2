/**
 * `npm run peers [name...]`: builds the real systems of peers/peers.ts from the package registries
 * into the cache outside the checkout, each once per manifest. Idempotent: a peer already built is
 * reported and left alone. A peer whose tool (go, mvn, python3) is missing on the machine is skipped
 * with a line saying so (its tests then skip themselves by name); a build that fails fails the command.
 *
 * Go builds take both cores, so they run one after another; Maven and pip mostly wait on the
 * network, so they run beside the Go lane.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PEERS, PEERS_DIR, peer, peerDir, peersCache, type PeerName, type PeerSpec } from './peers.js';

function has(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

function run(command: string, args: string[], cwd: string, log: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-buildvcs=false', PIP_DISABLE_PIP_VERSION_CHECK: '1' };
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => out.push(b));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) return resolve();
      log.push(Buffer.concat(out).toString('utf8').slice(-4000));
      reject(new Error(`${command} ${args.join(' ')} exited with ${code} (in ${cwd})`));
    });
  });
}

async function build(name: PeerName, into: string, log: string[]): Promise<void> {
  const spec: PeerSpec = PEERS[name];
  const src = join(PEERS_DIR, name);
  switch (spec.needs) {
    case 'go':
      // -s -w: no symbol table or DWARF, which the tests never read; the link is the slowest step of Jaeger's build.
      return run('go', ['build', '-trimpath', '-ldflags=-s -w', '-o', join(into, spec.product), spec.goPackage ?? '.'], src, log);
    case 'mvn':
      return run('mvn', ['-q', '-B', 'dependency:copy-dependencies', `-DoutputDirectory=${join(into, 'libs')}`, '-DincludeScope=runtime'], src, log);
    case 'python3':
      await run('python3', ['-m', 'venv', join(into, 'venv')], src, log);
      return run(join(into, 'venv', 'bin', 'pip'), ['install', '-q', '-r', 'requirements.txt'], src, log);
  }
}

async function install(name: PeerName): Promise<boolean> {
  const spec: PeerSpec = PEERS[name];
  const dir = peerDir(name);
  if (peer(name)) {
    console.log(`peers: ${name}: ${spec.title} already built in ${dir}`);
    return true;
  }
  if (!has(spec.needs)) {
    console.log(`peers: ${name}: SKIPPED, no ${spec.needs} on this machine (its tests skip themselves)`);
    return true;
  }
  const started = Date.now();
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const log: string[] = [];
  try {
    await build(name, tmp, log);
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
    console.log(`peers: ${name}: built ${spec.title} in ${((Date.now() - started) / 1000).toFixed(1)} s -> ${dir}`);
    return true;
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    console.error(`peers: ${name}: FAILED after ${((Date.now() - started) / 1000).toFixed(1)} s: ${(err as Error).message}\n${log.join('\n')}`);
    return false;
  }
}

async function lane(names: PeerName[]): Promise<boolean> {
  let ok = true;
  for (const name of names) ok = (await install(name)) && ok;
  return ok;
}

const all = Object.keys(PEERS) as PeerName[];
const asked = process.argv.slice(2);
const unknown = asked.filter((n) => !all.includes(n as PeerName));
if (unknown.length) {
  console.error(`peers: no peer named ${unknown.join(', ')}; the peers are ${all.join(', ')}`);
  process.exit(2);
}
const names = asked.length ? (asked as PeerName[]) : all;
const started = Date.now();
console.log(`peers: building into ${peersCache()}`);
const results = await Promise.all([lane(names.filter((n) => PEERS[n].needs === 'go')), lane(names.filter((n) => PEERS[n].needs !== 'go'))]);
console.log(`peers: done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
if (results.includes(false)) process.exit(1);
