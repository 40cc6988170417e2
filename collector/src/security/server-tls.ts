/**
 * TLS for span-relay's servers, with what a user sees of it: the pair served is checked at start
 * (a bad pair is a startup error naming the endpoint), rotations and refused rotations are logged
 * and counted, and every failed handshake (a plaintext client, a client certificate from another
 * CA, none when one is required) is one rate-limited line naming the endpoint and the reason.
 */
import type { ServerTlsSettings } from '../config/schema-helpers.js';
import { ConfigError } from '../model/errors.js';
import { TlsConfigError, TlsSource, type ServerTls } from '../net/tls.js';
import type { Telemetry } from '../telemetry/telemetry.js';

export function serverTls(settings: ServerTlsSettings | undefined, where: string, endpoint: string, telemetry: Telemetry): ServerTls | undefined {
  if (!settings) return undefined;
  const m = {
    handshakes: telemetry.counter('span_relay_tls_handshake_failures_total', 'TLS handshakes a server refused, by endpoint and reason.', ['endpoint', 'reason'] as const),
    reloads: telemetry.counter('span_relay_tls_reloads_total', 'Certificate files read again after they changed, by result.', ['endpoint', 'result'] as const),
    expiry: telemetry.gauge('span_relay_tls_certificate_expiry_timestamp_seconds', 'When the certificate a server presents expires (Unix seconds).', ['endpoint'] as const),
  };
  let source: TlsSource;
  try {
    source = new TlsSource(
      { ...settings, ca_file: settings.client_ca_file },
      {
        onUpdate: (mat) => {
          m.reloads.inc({ endpoint, result: 'ok' });
          if (mat.notAfter) m.expiry.set({ endpoint }, mat.notAfter.getTime() / 1000);
          telemetry.logger.info({ endpoint, serial: mat.serial, not_after: mat.notAfter?.toISOString() }, `${where}: serving a new certificate from now on (new connections)`);
        },
        onRefused: (reason) => {
          m.reloads.inc({ endpoint, result: 'refused' });
          telemetry.logger.error({ endpoint, reason }, `${where}: the changed certificate files were refused, the previous certificate keeps serving: ${reason}`);
        },
      },
    );
  } catch (err) {
    if (err instanceof TlsConfigError) throw new ConfigError(`${where}.tls`, `${endpoint}: ${err.message}`);
    throw err;
  }
  if (source.material.notAfter) m.expiry.set({ endpoint }, source.material.notAfter.getTime() / 1000);
  source.start();
  return {
    source,
    requireClientCert: settings.client_ca_file !== undefined,
    onHandshakeError: (reason) => {
      m.handshakes.inc({ endpoint, reason });
      telemetry.warnLimited(`tls:${endpoint}:${reason}`, { endpoint, reason }, `${where}: refused a TLS handshake on ${endpoint}: ${reason}`);
    },
  };
}
