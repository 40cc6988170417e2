/**
 * TLS and mTLS (issue #14) with certificates made at test time: real clients (the OTel OTLP gRPC
 * exporter, zipkin-js over https, grpc-js speaking OpenCensus) to span-relay's receivers, span-relay's
 * own exporters to TLS backends, rotation under a running collector (a long stream survives, a new
 * connection sees the new serial), and each bad-certificate case refused with a line and a counter.
 */
import { copyFileSync, mkdirSync, mkdtempSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { Annotation, BatchRecorder, ExplicitContext, Tracer, jsonEncoder } from 'zipkin';
import { HttpLogger } from 'zipkin-transport-http';
import { PROTO_DIR } from '../src/paths.js';
import { parseConfig } from '../src/config/load.js';
import { builtinComponents } from '../src/components.js';
import { Collector } from '../src/pipeline.js';
import { ConfigError } from '../src/model/errors.js';
import { OtlpGrpcSink } from './helpers/sinks.js';
import { capturingLogger, eventually, metricValue, startCollector, type RunningCollector } from './helpers/collector.js';
import { TestCA, type Pair } from './helpers/certs.js';

const require = createRequire(import.meta.url);
const nodeFetch = require('node-fetch') as (url: string, init: object) => Promise<unknown>;

let ca: TestCA;
let otherCa: TestCA;
let serverPair: Pair;
let clientPair: Pair;
let strangerPair: Pair;
/** cert-manager's layout: files behind a `..data` link swapped to a new folder on renewal. */
let secretDir: string;
let sink: OtlpGrpcSink;
let relay: RunningCollector;
const logs = capturingLogger();

function mountSecret(dir: string, pair: Pair, generation: string): void {
  const data = join(dir, generation);
  mkdirSync(data);
  copyFileSync(pair.cert, join(data, 'tls.crt'));
  copyFileSync(pair.key, join(data, 'tls.key'));
  copyFileSync(ca.pair.cert, join(data, 'ca.crt'));
  const link = join(dir, '..data_tmp');
  symlinkSync(generation, link);
  renameSync(link, join(dir, '..data'));
}

beforeAll(async () => {
  ca = new TestCA('span-relay test CA');
  otherCa = new TestCA('some other CA');
  serverPair = ca.issue('relay');
  clientPair = ca.issue('client');
  strangerPair = otherCa.issue('stranger');
  secretDir = mkdtempSync(join(tmpdir(), 'span-relay-secret-'));
  mountSecret(secretDir, serverPair, 'gen1');
  for (const f of ['tls.crt', 'tls.key', 'ca.crt']) symlinkSync(join('..data', f), join(secretDir, f));
  sink = await new OtlpGrpcSink().start();
  const tls = (mtls: boolean) => `
        tls:
          cert_file: ${secretDir}/tls.crt
          key_file: ${secretDir}/tls.key
          reload_interval: 200ms${mtls ? `\n          client_ca_file: ${secretDir}/ca.crt` : ''}`;
  relay = await startCollector(
    `
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0${tls(true)}
  zipkin:
    endpoint: 127.0.0.1:0
    tls:
      cert_file: ${secretDir}/tls.crt
      key_file: ${secretDir}/tls.key
  opencensus:
    endpoint: 127.0.0.1:0
    tls:
      cert_file: ${secretDir}/tls.crt
      key_file: ${secretDir}/tls.key
      reload_interval: 200ms
processors:
  batch:
    timeout: 10ms
exporters:
  otlp:
    endpoint: ${sink.endpoint}
    tls: { insecure: true }
service:
  pipelines:
    traces:
      receivers: [otlp, zipkin, opencensus]
      processors: [batch]
      exporters: [otlp]
`,
    {},
    { logger: logs.logger },
  );
}, 30_000);
afterAll(async () => {
  await relay?.stop();
  await sink?.stop();
});

const pem = (p: Pair) => ({ cert: Buffer.from(p.certPem), key: Buffer.from(p.keyPem) });
const caPem = () => Buffer.from(ca.pair.certPem);

async function otlpSend(credentials: grpc.ChannelCredentials, name: string): Promise<{ code: number; error?: string }> {
  const exporter = new OTLPTraceExporter({ url: `https://${relay.address('otlp.grpc')}`, credentials });
  const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'tls-app' }), spanProcessors: [] });
  const span = provider.getTracer('t').startSpan(name);
  span.end();
  const result = await new Promise<{ code: number; error?: Error }>((resolve) => exporter.export([span as never], resolve));
  await exporter.shutdown();
  return { code: result.code, ...(result.error ? { error: result.error.message } : {}) };
}

function serialOf(address: string): Promise<string> {
  const [host, port] = address.split(':') as [string, string];
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host, port: Number(port), ca: caPem(), servername: 'relay', ...pem(clientPair) }, () => {
      resolve(s.getPeerCertificate().serialNumber);
      s.end();
    });
    s.on('error', reject);
  });
}

describe('TLS receivers with real clients', () => {
  it('the OTel OTLP gRPC exporter over mTLS: a client certificate from the CA is taken', async () => {
    const r = await otlpSend(grpc.credentials.createSsl(caPem(), Buffer.from(clientPair.keyPem), Buffer.from(clientPair.certPem)), 'mtls-ok');
    expect(r).toEqual({ code: 0 });
    await eventually(() => sink.spans().some((s) => s.name === 'mtls-ok'), 'span over mTLS');
  });

  it('mTLS refuses a client certificate from another CA, and a client with none: one line and a counter each', async () => {
    const stranger = await otlpSend(grpc.credentials.createSsl(caPem(), Buffer.from(strangerPair.keyPem), Buffer.from(strangerPair.certPem)), 'stranger');
    expect(stranger.code).not.toBe(0);
    const none = await otlpSend(grpc.credentials.createSsl(caPem()), 'no-cert');
    expect(none.code).not.toBe(0);
    await eventually(async () => metricValue(await relay.metrics(), 'span_relay_tls_handshake_failures_total', { endpoint: '127.0.0.1:0' }) >= 1, 'handshake failures counted');
    const lines = logs.lines.filter((l) => String(l.msg).startsWith('receivers.otlp.protocols.grpc: refused a TLS handshake'));
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(lines)).toMatch(/not signed by client_ca_file|sent no certificate/);
    expect(sink.spans().some((s) => s.name === 'stranger' || s.name === 'no-cert')).toBe(false);
  });

  it('zipkin-js over https; a plaintext client on the TLS port is refused with a line naming it', async () => {
    const agent = new Agent({ ca: caPem() });
    const options: ConstructorParameters<typeof HttpLogger>[0] & { fetchImplementation: unknown } = {
      endpoint: `https://localhost:${relay.address('zipkin').split(':')[1]}/api/v2/spans`,
      jsonEncoder: jsonEncoder.JSON_V2,
      httpInterval: 20,
      fetchImplementation: (url: string, init: object) => nodeFetch(url, { ...init, agent }),
    };
    const tracer = new Tracer({ ctxImpl: new ExplicitContext(), recorder: new BatchRecorder({ logger: new HttpLogger(options) }), localServiceName: 'zipkin-tls' });
    tracer.setId(tracer.createRootId());
    tracer.recordServiceName('zipkin-tls');
    tracer.recordRpc('over https');
    tracer.recordAnnotation(new Annotation.ServerRecv());
    tracer.recordAnnotation(new Annotation.ServerSend());
    await eventually(() => sink.spans().some((s) => s.name === 'over https'), 'zipkin span over https', 5000);

    const plain = await fetch(`http://${relay.address('zipkin')}/api/v2/spans`, { method: 'POST', body: '[]', headers: { 'content-type': 'application/json' } }).catch((e: Error) => e);
    expect(plain instanceof Error || (plain as Response).status >= 400).toBe(true);
    await eventually(() => logs.lines.some((l) => String(l.msg).includes('receivers.zipkin: refused a TLS handshake') && String(l.msg).includes('plaintext client')), 'plaintext line');
  });
});

describe('rotation under a running collector', () => {
  it('a cert-manager renewal (symlink swap): a long-lived OpenCensus stream survives, new connections see the new serial; a bad pair is refused and the old one keeps serving', async () => {
    const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(join(PROTO_DIR, 'opencensus.proto'), { keepCase: true, longs: String, enums: String }));
    const Svc = (pkg as unknown as { opencensus: { proto: { agent: { trace: { v1: { TraceService: grpc.ServiceClientConstructor } } } } } }).opencensus.proto.agent.trace.v1.TraceService;
    const client = new Svc(relay.address('opencensus'), grpc.credentials.createSsl(caPem()), { 'grpc.ssl_target_name_override': 'relay' }) as unknown as grpc.Client & { Export(): grpc.ClientDuplexStream<object, object> };
    const stream = client.Export();
    const span = (n: number) => ({ trace_id: Buffer.alloc(16, 9), span_id: Buffer.alloc(8, n), name: { value: `oc-${n}` }, kind: 'SERVER', start_time: { seconds: '1700000000' }, end_time: { seconds: '1700000001' } });
    stream.write({ node: { service_info: { name: 'oc-tls' } }, spans: [span(1)] });
    await eventually(() => sink.spans().some((s) => s.name === 'oc-1'), 'first OC span');
    expect(await serialOf(relay.address('opencensus'))).toBe(serverPair.serial);

    // Renewal: a new certificate, behind the same paths.
    const renewed = ca.issue('relay');
    mountSecret(secretDir, renewed, 'gen2');
    await eventually(async () => (await serialOf(relay.address('opencensus'))) === renewed.serial, 'new connections see the renewed certificate', 5000);
    stream.write({ spans: [span(2)] });
    await eventually(() => sink.spans().some((s) => s.name === 'oc-2'), 'the stream opened before the renewal still carries spans');

    // A renewal that is wrong: a key that does not match, then an expired certificate.
    const expired = ca.issue('relay', { start: '20200101000000Z', end: '20200102000000Z' });
    const mismatched = { ...renewed, key: clientPair.key };
    mountSecret(secretDir, mismatched, 'gen3');
    await eventually(() => logs.lines.some((l) => String(l.msg).includes('refused') && String(l.msg).includes('does not match the certificate')), 'mismatched pair refused', 5000);
    mountSecret(secretDir, expired, 'gen4');
    await eventually(() => logs.lines.some((l) => String(l.msg).includes('refused') && String(l.msg).includes('expired on 2020-01-02')), 'expired pair refused', 5000);
    expect(await serialOf(relay.address('opencensus'))).toBe(renewed.serial);
    stream.write({ spans: [span(3)] });
    await eventually(() => sink.spans().some((s) => s.name === 'oc-3'), 'still serving');
    expect(metricValue(await relay.metrics(), 'span_relay_tls_reloads_total', { result: 'refused' })).toBeGreaterThanOrEqual(2);
    stream.end();
    client.close();
  }, 30_000);

  it('an expired certificate at start is a config error naming the endpoint', async () => {
    const expired = ca.issue('relay', { start: '20200101000000Z', end: '20200102000000Z' });
    const yaml = `receivers:\n  zipkin:\n    endpoint: 127.0.0.1:0\n    tls:\n      cert_file: ${expired.cert}\n      key_file: ${expired.key}\nexporters:\n  file:\n    path: /dev/null\nservice:\n  pipelines:\n    traces:\n      receivers: [zipkin]\n      exporters: [file]\n`;
    expect(() => new Collector(parseConfig(yaml, builtinComponents, {}), { adminEndpoint: false })).toThrow(ConfigError);
    expect(() => new Collector(parseConfig(yaml, builtinComponents, {}), { adminEndpoint: false })).toThrow(/receivers\.zipkin\.tls: 127\.0\.0\.1:0: the certificate expired on 2020-01-02/);
  });
});

describe("span-relay's exporters to TLS backends", () => {
  it('otlp (gRPC) with ca_file and a client certificate to an mTLS sink; without the client certificate it is refused', async () => {
    const tlsSink = await new OtlpGrpcSink().start({ key: Buffer.from(serverPair.keyPem), cert: Buffer.from(serverPair.certPem), clientCa: caPem() });
    const exporter = (withCert: boolean) => `
exporters:
  otlp:
    endpoint: ${tlsSink.endpoint}
    tls:
      ca_file: ${ca.pair.cert}
      server_name_override: relay${withCert ? `\n      cert_file: ${clientPair.cert}\n      key_file: ${clientPair.key}` : ''}
    retry_on_failure: { initial_interval: 20ms, max_interval: 50ms, max_elapsed_time: 300ms }`;
    const yaml = (withCert: boolean) => `receivers:\n  zipkin:\n    endpoint: 127.0.0.1:0\n${exporter(withCert)}\nservice:\n  pipelines:\n    traces:\n      receivers: [zipkin]\n      exporters: [otlp]\n`;
    const good = await startCollector(yaml(true));
    const bad = await startCollector(yaml(false));
    try {
      for (const [r, name] of [[good, 'via-mtls'], [bad, 'no-client-cert']] as const) {
        const res = await fetch(`${r.url('zipkin')}/api/v2/spans`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ traceId: 'e'.repeat(16), id: name === 'via-mtls' ? '1'.repeat(16) : '2'.repeat(16), name, timestamp: 1700000000000000, duration: 1, localEndpoint: { serviceName: 'x' } }]) });
        expect(res.status).toBe(202);
      }
      await tlsSink.waitForSpans(1);
      await eventually(async () => metricValue(await bad.metrics(), 'span_relay_exporter_send_failed_spans_total') === 1, 'the exporter without a client certificate gives up');
      expect(tlsSink.spans().map((s) => s.name)).toEqual(['via-mtls']);
    } finally {
      await good.stop();
      await bad.stop();
      await tlsSink.stop();
    }
  });
});

describe("span-relay's HTTP exporters over TLS", () => {
  it('otlphttp with ca_file and a client certificate to an https mTLS backend', async () => {
    const { OtlpHttpSink } = await import('./helpers/sinks.js');
    const httpsSink = await new OtlpHttpSink().start({ key: Buffer.from(serverPair.keyPem), cert: Buffer.from(serverPair.certPem), clientCa: caPem() });
    const r = await startCollector(`receivers:
  zipkin:
    endpoint: 127.0.0.1:0
exporters:
  otlphttp:
    endpoint: ${httpsSink.url.replace('127.0.0.1', 'localhost')}
    tls:
      ca_file: ${ca.pair.cert}
      cert_file: ${clientPair.cert}
      key_file: ${clientPair.key}
service:
  pipelines:
    traces:
      receivers: [zipkin]
      exporters: [otlphttp]
`);
    try {
      const res = await fetch(`${r.url('zipkin')}/api/v2/spans`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ traceId: 'd'.repeat(16), id: '4'.repeat(16), name: 'over-https', timestamp: 1700000000000000, duration: 1, localEndpoint: { serviceName: 'x' } }]) });
      expect(res.status).toBe(202);
      await httpsSink.waitForSpans(1);
      expect(httpsSink.spans()[0]!.name).toBe('over-https');
    } finally {
      await r.stop();
      await httpsSink.stop();
    }
  });
});

describe('bearer token auth on receivers', () => {
  it('zipkin (HTTP) and OTLP gRPC take requests only with the token', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'span-relay-token-'));
    writeFileSync(join(dir, 'token'), 's3cret\n');
    const authed = await startCollector(`
extensions:
  bearertokenauth:
    filename: ${dir}/token
receivers:
  zipkin:
    endpoint: 127.0.0.1:0
    auth: { authenticator: bearertokenauth }
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
        auth: { authenticator: bearertokenauth }
exporters:
  otlp:
    endpoint: ${sink.endpoint}
    tls: { insecure: true }
service:
  extensions: [bearertokenauth]
  pipelines:
    traces:
      receivers: [zipkin, otlp]
      exporters: [otlp]
`);
    try {
      const body = JSON.stringify([{ traceId: 'f'.repeat(16), id: '3'.repeat(16), name: 'authed', timestamp: 1700000000000000, duration: 1, localEndpoint: { serviceName: 'x' } }]);
      const post = (headers: Record<string, string>) => fetch(`${authed.url('zipkin')}/api/v2/spans`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
      expect((await post({})).status).toBe(401);
      expect((await post({ authorization: 'Bearer wrong' })).status).toBe(401);
      expect((await post({ authorization: 'Bearer s3cret' })).status).toBe(202);
      const client = new grpc.Client(authed.address('otlp.grpc'), grpc.credentials.createInsecure());
      const call = (md: grpc.Metadata) =>
        new Promise<grpc.ServiceError | null>((resolve) => client.makeUnaryRequest('/opentelemetry.proto.collector.trace.v1.TraceService/Export', (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), md, (err) => resolve(err)));
      expect((await call(new grpc.Metadata()))?.code).toBe(grpc.status.UNAUTHENTICATED);
      const md = new grpc.Metadata();
      md.set('authorization', 'Bearer s3cret');
      expect(await call(md)).toBeNull();
      client.close();
      expect(() => parseConfig('receivers:\n  zipkin:\n    auth: { authenticator: bearertokenauth }\nexporters:\n  file:\n    path: x\nservice:\n  pipelines:\n    traces:\n      receivers: [zipkin]\n      exporters: [file]\n', builtinComponents, {})).not.toThrow();
    } finally {
      await authed.stop();
    }
  });
});
