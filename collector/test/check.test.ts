import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { checkFiles } from '../src/continuity/check.js';
import { decodeTraceDocument } from '../src/formats/read.js';
import { modelToOtlpJson } from '../src/protocol/otlp/encode.js';
import { decodeZipkinV2Json } from '../src/protocol/zipkin/decode.js';

const FIXTURE = new URL('../../../shared/fixtures/zipkin/jaeger-zipkin_v1_merged_spans.json', import.meta.url).pathname;
const BIN = new URL('../bin/span-relay.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'span-relay-check-'));
const file = (name: string, content: unknown) => {
  const p = join(dir, name);
  writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content));
  return p;
};

// What the Jaeger UI's "Download JSON" gives for a trace whose middle hop never reported.
const jaegerDownload = {
  data: [
    {
      traceID: '00000000000000004ed11df465275600',
      spans: [
        { traceID: '00000000000000004ed11df465275600', spanID: '4ed11df465275600', operationName: 'POST /api/vote', references: [], startTime: 1700000000000000, duration: 100000, tags: [{ key: 'span.kind', type: 'string', value: 'server' }], logs: [], processID: 'p1' },
        {
          traceID: '00000000000000004ed11df465275600',
          spanID: '1111111111111111',
          operationName: '/api/vote',
          references: [{ refType: 'CHILD_OF', traceID: '00000000000000004ed11df465275600', spanID: '4ed11df465275600' }],
          startTime: 1700000000002000,
          duration: 96000,
          tags: [{ key: 'span.kind', type: 'string', value: 'server' }, { key: 'http.response.status_code', type: 'string', value: '200' }],
          logs: [{ timestamp: 1700000000003000, fields: [{ key: 'event', type: 'string', value: 'sent' }] }],
          processID: 'p2',
        },
        {
          traceID: '00000000000000004ed11df465275600',
          spanID: '3333333333333333',
          operationName: '/emojivoto.v1.VotingService/VoteDoughnut',
          references: [{ refType: 'CHILD_OF', traceID: '00000000000000004ed11df465275600', spanID: '2222222222222222' }],
          startTime: 1700000000012000,
          duration: 46000,
          tags: [{ key: 'span.kind', type: 'string', value: 'server' }, { key: 'error', type: 'bool', value: true }],
          logs: [],
          processID: 'p3',
        },
      ],
      processes: {
        p1: { serviceName: 'nginx', tags: [] },
        p2: { serviceName: 'linkerd-proxy', tags: [{ key: 'host.name', type: 'string', value: 'web-pod' }] },
        p3: { serviceName: 'linkerd-proxy', tags: [{ key: 'host.name', type: 'string', value: 'voting-pod' }] },
      },
      warnings: null,
    },
  ],
  total: 0,
  limit: 0,
  offset: 0,
  errors: null,
};

describe('span-relay check', () => {
  it('reads a Jaeger UI download: tree, verdict, and the orphan named with its missing parent', async () => {
    const out = await checkFiles([file('jaeger.json', jaegerDownload)]);
    const text = out.lines.join('\n');
    expect(out).toMatchObject({ traces: 1, broken: 1 });
    expect(text).toContain('jaeger-json, 3 span(s)');
    expect(text).toContain('services: nginx → linkerd-proxy');
    expect(text).toMatch(/^ {2}nginx \[server\] POST \/api\/vote \(4ed11df465275600\)/m);
    expect(text).toMatch(/^ {4}linkerd-proxy \[server\] \/api\/vote \(1111111111111111\)/m);
    expect(text).toContain('ORPHAN: parent 2222222222222222 missing');
    expect(text).toContain('span 3333333333333333 "/emojivoto.v1.VotingService/VoteDoughnut" from service linkerd-proxy names parent 2222222222222222, which no service reported');
    expect(text).toContain('verdict: BROKEN, 1 root(s), 1 orphan(s)');
  });

  it('reads the file exporter\'s OTLP JSON lines and a Zipkin array; mixed ID widths are one trace', async () => {
    const zipkin = [
      { traceId: 'a1b2c3d4e5f60718', id: 'a1b2c3d4e5f60718', name: 'ingress', kind: 'SERVER', timestamp: 1700000000000000, duration: 100, localEndpoint: { serviceName: 'nginx' } },
    ];
    const app = decodeZipkinV2Json(JSON.stringify([{ traceId: 'f00d0000000000a1a1b2c3d4e5f60718', parentId: 'a1b2c3d4e5f60718', id: 'b1b2c3d4e5f60718', name: 'vote', kind: 'SERVER', timestamp: 1700000000000010, duration: 50, localEndpoint: { serviceName: 'web' } }]));
    const jsonl = `${JSON.stringify(modelToOtlpJson({ spans: app.spans }))}\n{"resourceSpans":[]}\n`;
    const out = await checkFiles([file('zipkin.json', zipkin), file('traces.jsonl', jsonl)]);
    const text = out.lines.join('\n');
    expect(text).toContain('zipkin-v2-json, 1 span(s)');
    expect(text).toContain('otlp-jsonl, 1 span(s)');
    expect(text).toContain('both 64-bit and 128-bit trace IDs');
    expect(text).toContain('trace f00d0000000000a1a1b2c3d4e5f60718: 2 span(s), services: nginx → web');
    expect(out).toMatchObject({ traces: 1, broken: 0 });
  });

  it('detects formats by content', () => {
    expect(decodeTraceDocument(JSON.stringify(jaegerDownload)).format).toBe('jaeger-json');
    expect(decodeTraceDocument(JSON.stringify({ resourceSpans: [] })).format).toBe('otlp-json');
    expect(decodeTraceDocument(JSON.stringify([[{ traceId: 'a'.repeat(16), id: 'a'.repeat(16), timestamp: 1700000000000000 }]])).format).toBe('zipkin-v2-json');
    expect(decodeTraceDocument(JSON.stringify([{ traceId: 'a'.repeat(16), id: 'a'.repeat(16), annotations: [], binaryAnnotations: [] }])).format).toBe('zipkin-v1-json');
    expect(() => decodeTraceDocument('{"hello": 1}')).toThrow(/not a Jaeger UI download/);
  });

  it('exits 0 for a complete trace and 1 for a broken one', () => {
    const ok = spawnSync(process.execPath, [BIN, 'check', FIXTURE], { encoding: 'utf8' });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('verdict: COMPLETE');
    const bad = spawnSync(process.execPath, [BIN, 'check', file('broken.json', jaegerDownload)], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stdout).toContain('1 trace(s), 1 broken');
    const missing = spawnSync(process.execPath, [BIN, 'check', join(dir, 'nope.json')], { encoding: 'utf8' });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('ENOENT');
  });
});
