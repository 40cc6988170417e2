import { describe, expect, it } from 'vitest';
import { readConfig } from '../src/config.js';
import { detectResource, workloadFromPodName } from '../src/resource.js';

describe('kit configuration from the environment', () => {
  it('defaults: OTLP, tracecontext + baggage + B3 multi, parent-based always-on', () => {
    const problems: string[] = [];
    expect(readConfig({}, problems)).toMatchObject({ exporters: ['otlp'], propagators: ['tracecontext', 'baggage', 'b3multi'], sampler: { name: 'parentbased_always_on' } });
    expect(problems).toEqual([]);
  });

  it('OC_AGENT_HOST (emojivoto\'s kubectl set env) switches the default exporter to the OpenCensus agent', () => {
    expect(readConfig({ OC_AGENT_HOST: 'collector.linkerd-jaeger:55678' }, [])).toMatchObject({ exporters: ['opencensus'], ocAgentHost: 'collector.linkerd-jaeger:55678' });
    expect(readConfig({ OC_AGENT_HOST: 'x:1', OTEL_TRACES_EXPORTER: 'otlp,opencensus' }, []).exporters).toEqual(['otlp', 'opencensus']);
  });

  it('OTEL_PROPAGATORS and OTEL_TRACES_SAMPLER(_ARG) are honoured; bad values are reported and replaced', () => {
    const problems: string[] = [];
    const c = readConfig({ OTEL_PROPAGATORS: 'b3,tracecontext,xray', OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '2' }, problems);
    expect(c.propagators).toEqual(['b3', 'tracecontext']);
    expect(c.sampler).toEqual({ name: 'parentbased_traceidratio', arg: 1 });
    expect(problems).toEqual([expect.stringContaining('xray'), expect.stringContaining('OTEL_TRACES_SAMPLER_ARG: 2')]);
  });
});

describe('service name and Kubernetes resource', () => {
  it('OTEL_SERVICE_NAME wins', () => {
    expect(detectResource({ OTEL_SERVICE_NAME: 'web', POD_NAME: 'other-7d4b9c-abcde' }, '/')['service.name']).toBe('web');
  });
  it('else the workload from the downward-API pod name, with namespace and pod attributes', () => {
    const r = detectResource({ POD_NAME: 'voting-6d5b7b8c9-x2x2x', POD_NAMESPACE: 'emojivoto', NODE_NAME: 'node-1' }, '/');
    expect(r).toMatchObject({ 'service.name': 'voting', 'k8s.pod.name': 'voting-6d5b7b8c9-x2x2x', 'k8s.namespace.name': 'emojivoto', 'k8s.node.name': 'node-1' });
    expect(detectResource({ KUBERNETES_SERVICE_HOST: '10.0.0.1', HOSTNAME: 'emoji-7f9d8c6b5-abcde' }, '/')['service.name']).toBe('emoji');
  });
  it('else package.json\'s name', () => {
    expect(detectResource({}, new URL('.', import.meta.url).pathname)['service.name']).toBe('@span-relay/instrumentation');
  });
  it('pod names → workloads', () => {
    expect(workloadFromPodName('web-6d5b7b8c9-abcde')).toBe('web');
    expect(workloadFromPodName('db-0')).toBe('db');
    expect(workloadFromPodName('plain')).toBe('plain');
  });
});
