/**
 * Certificates from files (or inline PEM) that can change under a running collector: cert-manager
 * rewrites a mounted Secret by swapping a symlink. A source loads and checks a pair (the key
 * matches the certificate, the certificate is valid now), watches the files' folders and polls
 * every reload_interval, and hands a new pair to its servers and clients only once it checks out;
 * a half-written or mismatched pair is refused with one log line and the old pair keeps serving.
 */
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { watch, readFileSync, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import type { SecureContextOptions } from 'node:tls';

export interface TlsFiles {
  cert_file?: string | undefined;
  key_file?: string | undefined;
  cert_pem?: string | undefined;
  key_pem?: string | undefined;
  /** Servers: the CA client certificates must chain to (mTLS). Clients: the server's CA. */
  ca_file?: string | undefined;
  ca_pem?: string | undefined;
  min_version: '1.0' | '1.1' | '1.2' | '1.3';
  max_version?: '1.0' | '1.1' | '1.2' | '1.3' | undefined;
  /** Poll the files this often (ms), beside watching them; 0: watch only. */
  reload_interval: number;
}

export interface TlsMaterial {
  cert?: Buffer;
  key?: Buffer;
  ca?: Buffer;
  /** The leaf certificate's serial number, hex (what a test or a log line names). */
  serial?: string;
  notAfter?: Date;
}

export class TlsConfigError extends Error {}

const VERSIONS = { '1.0': 'TLSv1', '1.1': 'TLSv1.1', '1.2': 'TLSv1.2', '1.3': 'TLSv1.3' } as const;

/** Reads and checks a pair; throws TlsConfigError naming what is wrong. */
export function loadTls(files: TlsFiles, now = new Date()): TlsMaterial {
  const read = (file: string | undefined, pem: string | undefined, what: string): Buffer | undefined => {
    if (pem) return Buffer.from(pem);
    if (!file) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new TlsConfigError(`cannot read the ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  const cert = read(files.cert_file, files.cert_pem, 'certificate');
  const key = read(files.key_file, files.key_pem, 'private key');
  const ca = read(files.ca_file, files.ca_pem, 'CA certificate');
  const out: TlsMaterial = {};
  if (ca) {
    try {
      new X509Certificate(ca);
    } catch (err) {
      throw new TlsConfigError(`the CA certificate is not a PEM certificate (${(err as Error).message})`);
    }
    out.ca = ca;
  }
  if (!cert && !key) return out;
  if (!cert || !key) throw new TlsConfigError(cert ? 'a certificate without its private key (set key_file or key_pem)' : 'a private key without its certificate (set cert_file or cert_pem)');
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw new TlsConfigError(`the certificate is not a PEM certificate, or only part of one (${(err as Error).message})`);
  }
  try {
    if (!x509.checkPrivateKey(createPrivateKey(key))) throw new TlsConfigError(`the private key does not match the certificate (serial ${x509.serialNumber})`);
  } catch (err) {
    if (err instanceof TlsConfigError) throw err;
    throw new TlsConfigError(`the private key cannot be read, or only part of it was written (${(err as Error).message})`);
  }
  const notAfter = new Date(x509.validTo);
  const notBefore = new Date(x509.validFrom);
  if (notAfter < now) throw new TlsConfigError(`the certificate expired on ${notAfter.toISOString()} (serial ${x509.serialNumber})`);
  if (notBefore > now) throw new TlsConfigError(`the certificate is not valid before ${notBefore.toISOString()} (serial ${x509.serialNumber})`);
  return { ...out, cert, key, serial: x509.serialNumber, notAfter };
}

export function secureContextOptions(files: TlsFiles, m: TlsMaterial): SecureContextOptions {
  return {
    ...(m.cert ? { cert: m.cert } : {}),
    ...(m.key ? { key: m.key } : {}),
    ...(m.ca ? { ca: m.ca } : {}),
    minVersion: VERSIONS[files.min_version],
    ...(files.max_version ? { maxVersion: VERSIONS[files.max_version] } : {}),
  };
}

const digest = (m: TlsMaterial): string =>
  createHash('sha256')
    .update(m.cert ?? '')
    .update('\0')
    .update(m.key ?? '')
    .update('\0')
    .update(m.ca ?? '')
    .digest('hex');

export interface TlsEvents {
  /** A new pair checked out and is now served. */
  onUpdate?: (m: TlsMaterial) => void;
  /** A new pair was refused; the old one keeps serving. */
  onRefused?: (reason: string) => void;
}

/** A checked pair that follows its files. */
export class TlsSource {
  material: TlsMaterial;
  private readonly watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private hash: string;
  private readonly listeners: ((m: TlsMaterial) => void)[] = [];
  private lastRefusal = '';

  /** Loads now: a pair that does not check out at start is a startup error (TlsConfigError). */
  constructor(
    readonly files: TlsFiles,
    private readonly events: TlsEvents = {},
  ) {
    this.material = loadTls(files);
    this.hash = digest(this.material);
  }

  subscribe(listener: (m: TlsMaterial) => void): void {
    this.listeners.push(listener);
  }

  /** Starts following the files (watch their folders; poll every reload_interval). */
  start(): void {
    const dirs = new Set([this.files.cert_file, this.files.key_file, this.files.ca_file].filter((f): f is string => !!f).map((f) => dirname(f)));
    for (const dir of dirs) {
      try {
        const w = watch(dir, () => this.soon());
        w.on('error', () => undefined);
        this.watchers.push(w);
      } catch {
        // A folder that cannot be watched is still polled.
      }
    }
    if (this.files.reload_interval > 0 && dirs.size > 0) {
      this.timer = setInterval(() => this.reload(), this.files.reload_interval);
      this.timer.unref();
    }
  }

  private soon(): void {
    // cert-manager writes several files and swaps a link: look once things settle.
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => this.reload(), 100);
    this.debounce.unref();
  }

  /** Reads the files again; serves the new pair only if it checks out. */
  reload(): void {
    let next: TlsMaterial;
    try {
      next = loadTls(this.files);
    } catch (err) {
      const reason = (err as Error).message;
      if (reason !== this.lastRefusal) this.events.onRefused?.(reason);
      this.lastRefusal = reason;
      return;
    }
    this.lastRefusal = '';
    const h = digest(next);
    if (h === this.hash) return;
    this.hash = h;
    this.material = next;
    this.events.onUpdate?.(next);
    for (const l of this.listeners) l(next);
  }

  stop(): void {
    for (const w of this.watchers.splice(0)) w.close();
    if (this.timer) clearInterval(this.timer);
    if (this.debounce) clearTimeout(this.debounce);
  }
}

/** TLS on a server: the pair it serves, whether clients must present a certificate, where handshake failures go. */
export interface ServerTls {
  source: TlsSource;
  requireClientCert: boolean;
  onHandshakeError: (reason: string) => void;
}

/** What a failed handshake means, in words a user can act on. */
export function handshakeFailure(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { reason?: string };
  const text = `${e.code ?? ''} ${e.reason ?? ''} ${e.message ?? String(err)}`;
  if (/wrong version number|http request|unknown protocol|packet length too long|record layer failure/i.test(text)) return 'a plaintext client on a TLS port';
  if (/peer did not return a certificate|certificate required/i.test(text)) return 'the client sent no certificate, and client_ca_file requires one';
  if (/certificate has expired|certificate expired/i.test(text)) return "the client's certificate has expired";
  if (/unknown ca|unable to get local issuer|certificate verify failed|self.signed|bad certificate|certificate unknown/i.test(text)) return "the client's certificate is not signed by client_ca_file";
  if (/ECONNRESET|socket hang up/i.test(text)) return 'the client closed the connection during the handshake';
  return (e.code ?? e.message ?? 'handshake failed').toString();
}
