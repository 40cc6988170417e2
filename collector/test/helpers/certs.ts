/**
 * Certificates made at test time with Debian's openssl: a CA, leaves it signs (with chosen
 * validity dates, for expired ones), and a second, unrelated CA.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Pair {
  cert: string;
  key: string;
  /** The PEM texts. */
  certPem: string;
  keyPem: string;
  serial: string;
}

const ossl = (args: string[], cwd: string) => execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });

export class TestCA {
  readonly dir: string;
  readonly pair: Pair;
  private n = 0;

  constructor(readonly name = 'span-relay test CA') {
    this.dir = mkdtempSync(join(tmpdir(), 'span-relay-ca-'));
    mkdirSync(join(this.dir, 'issued'));
    writeFileSync(join(this.dir, 'index.txt'), '');
    writeFileSync(join(this.dir, 'serial'), `${(0x10000000 + Math.floor(Math.random() * 0xfffffff)).toString(16)}\n`);
    writeFileSync(
      join(this.dir, 'ca.cnf'),
      `[ca]\ndefault_ca = test\n[test]\ndir = ${this.dir}\ndatabase = $dir/index.txt\nnew_certs_dir = $dir/issued\nserial = $dir/serial\ndefault_md = sha256\npolicy = any\ncopy_extensions = copy\nunique_subject = no\n[any]\ncommonName = supplied\n`,
    );
    ossl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-keyout', 'ca.key', '-out', 'ca.crt'], this.dir);
    this.pair = this.read('ca.crt', 'ca.key');
  }

  private read(cert: string, key: string): Pair {
    const certPem = readFileSync(join(this.dir, cert), 'utf8');
    const serial = execFileSync('openssl', ['x509', '-noout', '-serial', '-in', join(this.dir, cert)]).toString().trim().split('=')[1]!;
    return { cert: join(this.dir, cert), key: join(this.dir, key), certPem, keyPem: readFileSync(join(this.dir, key), 'utf8'), serial };
  }

  /** A leaf for `cn` (also its DNS name; 127.0.0.1 and localhost always), valid from..to (openssl YYYYMMDDHHMMSSZ). */
  issue(cn: string, validity: { start?: string; end?: string } = {}): Pair {
    const id = `leaf${++this.n}`;
    ossl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${cn}`, '-addext', `subjectAltName=DNS:${cn},DNS:localhost,IP:127.0.0.1`, '-keyout', `${id}.key`, '-out', `${id}.csr`], this.dir);
    const dates = validity.start || validity.end ? ['-startdate', validity.start ?? '20200101000000Z', '-enddate', validity.end ?? '20991231000000Z'] : ['-days', '2'];
    ossl(['ca', '-batch', '-config', 'ca.cnf', '-cert', 'ca.crt', '-keyfile', 'ca.key', '-in', `${id}.csr`, '-out', `${id}.crt`, '-notext', ...dates], this.dir);
    return this.read(`${id}.crt`, `${id}.key`);
  }
}
