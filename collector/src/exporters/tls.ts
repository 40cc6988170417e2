import { z } from 'zod';
import { clientTlsSettings, type ClientTlsSettings } from '../config/schema-helpers.js';
import { ConfigError } from '../model/errors.js';
import { TlsConfigError, TlsSource } from '../net/tls.js';
import type { CreateContext } from '../component.js';

export const tlsSettings = clientTlsSettings;
export const headersSetting = z.record(z.string(), z.string()).default({});

/** otelcol's rule: plain text when tls.insecure is set or the endpoint says http://. */
export function isInsecure(endpoint: string, tls: { insecure: boolean }): boolean {
  return tls.insecure || endpoint.startsWith('http://');
}

/**
 * The exporter's own certificate and the CA it trusts, when the config names files or PEM: checked
 * now (a bad pair is a startup error), followed as the files change.
 */
export function clientTlsSource(tls: ClientTlsSettings, ctx: CreateContext): TlsSource | undefined {
  if (!tls.ca_file && !tls.ca_pem && !tls.cert_file && !tls.cert_pem) return undefined;
  try {
    const source = new TlsSource(tls, {
      onUpdate: (m) => ctx.telemetry.logger.info({ exporter: ctx.id, serial: m.serial }, `exporter ${ctx.id}: new client certificate or CA in use for new connections`),
      onRefused: (reason) => ctx.telemetry.logger.error({ exporter: ctx.id, reason }, `exporter ${ctx.id}: changed certificate files refused, keeping the previous ones: ${reason}`),
    });
    source.start();
    return source;
  } catch (err) {
    if (err instanceof TlsConfigError) throw new ConfigError(`exporters.${ctx.id}.tls`, err.message);
    throw err;
  }
}
