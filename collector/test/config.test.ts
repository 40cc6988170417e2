import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { builtinComponents } from '../src/components.js';
import { parseConfig, substituteEnv } from '../src/config/load.js';
import { DEFAULT_CONFIG_YAML } from '../src/config/default.js';
import { ConfigError } from '../src/model/errors.js';
import { applyActions } from '../src/processors/resource/index.js';
import { JaegerGrpcSink, b64hex } from './helpers/sinks.js';
import { capturingLogger, eventually, metricValue, startCollector } from './helpers/collector.js';
import { parse, stringify } from 'yaml';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { join } from 'node:path';
import { PROTO_DIR } from '../src/paths.js';

const LINKERD = readFileSync(new URL('../../../shared/fixtures/config/linkerd-jaeger-collector.yaml', import.meta.url), 'utf8');

function configError(yaml: string, env: NodeJS.ProcessEnv = {}): string {
  try {
    parseConfig(yaml, builtinComponents, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a config error');
}

const MIN = (exporters: string, extra = '') => `
receivers:
  otlp:
exporters:
${exporters}
${extra}
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [${exporters.trim().split(':')[0]}]
`;

describe('config', () => {
  it('loads the config the linkerd-jaeger extension ships, as is', () => {
    const c = parseConfig(LINKERD, builtinComponents, { POD_NAMESPACE: 'linkerd-jaeger' });
    expect(c.pipelines).toEqual([{ name: 'traces', receivers: ['opencensus', 'otlp'], processors: ['resource', 'k8sattributes', 'batch'], exporters: ['jaeger'] }]);
    expect(c.exporters.get('jaeger')!.config).toMatchObject({ endpoint: 'jaeger.linkerd-jaeger:14250', tls: { insecure: true } });
    // `otlp: protocols: grpc:` with no value: gRPC on its default port, HTTP off.
    expect(c.receivers.get('otlp')!.config).toMatchObject({ grpc: { endpoint: '0.0.0.0:4317', max_recv_msg_size_mib: 4 } });
    expect((c.receivers.get('otlp')!.config as { http?: unknown }).http).toBeUndefined();
    expect(c.receivers.get('opencensus')!.config).toMatchObject({ endpoint: '0.0.0.0:55678' });
    expect(c.extensions.map((e) => e.id)).toEqual(['health_check']);
  });

  it('loads the embedded default', () => {
    const c = parseConfig(DEFAULT_CONFIG_YAML, builtinComponents, {});
    expect([...c.receivers.keys()]).toEqual(['zipkin', 'opencensus', 'otlp', 'jaeger']);
    expect([...c.exporters.keys()]).toEqual(['embedded']);
  });

  it('substitutes ${env:VAR}, ${VAR}, ${VAR:-default} and $$', () => {
    expect(substituteEnv({ a: ['${env:A}', '${B}:4317', '${C:-fallback}', 'cost $$5', '${MISSING}'] }, { A: 'x', B: 'jaeger' })).toEqual({
      a: ['x', 'jaeger:4317', 'fallback', 'cost $5', ''],
    });
  });

  it('names an unknown component and lists the ones we have', () => {
    const msg = configError(MIN('  prometheusremotewrite:\n    endpoint: http://a'));
    expect(msg).toContain("exporters.prometheusremotewrite: unknown exporter type 'prometheusremotewrite'");
    expect(msg).toContain('otlp, otlphttp, jaeger, jaeger_thrift, file');
  });

  it('names the key path of a bad value and of an unknown key, with named instances', () => {
    expect(configError(MIN('  otlp/jaeger:\n    endpoint: 42'))).toContain('exporters.otlp/jaeger.endpoint: ');
    expect(configError(MIN('  otlp/jaeger:\n    endpoint: jaeger:4317\n    sending_queue:\n      queue_size: -1'))).toContain('exporters.otlp/jaeger.sending_queue.queue_size');
    expect(configError(MIN('  otlp/jaeger:\n    endpont: jaeger:4317'))).toMatch(/exporters\.otlp\/jaeger: unknown key\(s\) 'endpont'/);
    expect(configError(MIN('  otlp:\n    endpoint: j:1\n    timeout: soon'))).toContain('exporters.otlp.timeout: expected a duration');
  });

  it('says when a pipeline names a component that is not defined, or a signal we do not carry', () => {
    expect(configError(`receivers:\n  otlp:\nexporters:\n  file:\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp, zipkin]\n      exporters: [file]\n`)).toContain(
      "service.pipelines.traces.receivers[1]: receiver 'zipkin' is not defined under 'receivers'",
    );
    expect(configError(`receivers:\n  otlp:\nexporters:\n  file:\nservice:\n  pipelines:\n    metrics:\n      receivers: [otlp]\n      exporters: [file]\n`)).toContain('handles traces only');
    expect(configError('receivers: [')).toContain('YAML');
  });

  it('resource processor actions: insert, update, upsert, delete, from_attribute', () => {
    const out = applyActions(
      [
        { key: 'k8s.pod.name', from_attribute: 'host.name', action: 'insert' },
        { key: 'env', value: 'prod', action: 'insert' },
        { key: 'region', value: 'eu', action: 'update' },
        { key: 'team', value: 'mesh', action: 'upsert' },
        { key: 'secret', action: 'delete' },
        { key: 'k8s.namespace.name', from_attribute: 'missing', action: 'insert' },
      ],
      { 'host.name': 'web-1', env: 'dev', secret: 'x', team: 'old' },
    );
    expect(out).toEqual({ 'host.name': 'web-1', 'k8s.pod.name': 'web-1', env: 'dev', team: 'mesh' });
  });
});

describe('the linkerd-jaeger config running', () => {
  const sinks: JaegerGrpcSink[] = [];
  afterAll(async () => {
    for (const s of sinks) await s.stop();
  });

  it('starts as shipped (only its ports moved to free ones on loopback): health_check answers', async () => {
    // Tests never take the standard ports: the same config with each endpoint on 127.0.0.1:0.
    const doc = parse(LINKERD) as { receivers: Record<string, unknown>; extensions: Record<string, unknown> };
    doc.receivers.opencensus = { endpoint: '127.0.0.1:0' };
    doc.receivers.otlp = { protocols: { grpc: { endpoint: '127.0.0.1:0' } } };
    doc.extensions.health_check = { endpoint: '127.0.0.1:0' };
    const logs = capturingLogger();
    const relay = await startCollector(stringify(doc), { POD_NAMESPACE: 'linkerd-jaeger' }, { logger: logs.logger });
    try {
      const health = logs.lines.find((l) => l.msg === 'health_check listening')!.endpoint as string;
      const res = await fetch(`http://${health}/`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: 'Server available' });
    } finally {
      await relay.stop();
    }
  });

  it('with the Jaeger endpoint pointed at a Jaeger gRPC backend, OpenCensus spans arrive with the resource actions applied', async () => {
    const sink = await new JaegerGrpcSink().start();
    sinks.push(sink);
    const yaml = LINKERD.replace('jaeger.${POD_NAMESPACE}:14250', sink.endpoint)
      .replace('  opencensus:\n', '  opencensus:\n    endpoint: 127.0.0.1:0\n')
      .replace('      grpc:\n', '      grpc:\n        endpoint: 127.0.0.1:0\n')
      .replace('  health_check:\n', '  health_check:\n    endpoint: 127.0.0.1:0\n');
    const relay = await startCollector(yaml);
    try {
      const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(join(PROTO_DIR, 'opencensus.proto'), { keepCase: true, longs: String, enums: String }));
      const Svc = (pkg as unknown as { opencensus: { proto: { agent: { trace: { v1: { TraceService: grpc.ServiceClientConstructor } } } } } }).opencensus.proto.agent.trace.v1.TraceService;
      const client = new Svc(relay.address('opencensus'), grpc.credentials.createInsecure()) as unknown as grpc.Client & { Export(): grpc.ClientDuplexStream<object, object> };
      const stream = client.Export();
      stream.write({
        node: { identifier: { host_name: 'web-5d5f4c9b8-x2x2x' }, service_info: { name: 'web' }, attributes: { 'linkerd.io/workload-ns': 'emojivoto' } },
        spans: [{ trace_id: Buffer.alloc(16, 7), span_id: Buffer.alloc(8, 9), name: { value: '/api/list' }, kind: 'SERVER', start_time: { seconds: '1700000000' }, end_time: { seconds: '1700000001' } }],
      });
      stream.end();
      await sink.waitForSpans(1);
      client.close();
      const b = sink.requests[0]!.batch;
      expect(b.process.serviceName).toBe('web');
      const tags = Object.fromEntries((b.process.tags ?? []).map((t) => [t.key, t.vStr]));
      expect(tags).toMatchObject({ 'k8s.pod.name': 'web-5d5f4c9b8-x2x2x', 'k8s.namespace.name': 'emojivoto', 'host.name': 'web-5d5f4c9b8-x2x2x' });
      expect(b64hex(b.spans[0]!.traceId)).toBe('07'.repeat(16));
      await eventually(async () => metricValue(await relay.metrics(), 'span_relay_exporter_sent_spans_total', { exporter: 'jaeger' }) === 1);
    } finally {
      await relay.stop();
    }
  });
});
