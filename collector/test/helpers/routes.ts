/** Traces with retried routes, for the routes tests (API, page, CLI, metrics). */
import type { Span } from '../../src/model/span.js';
import { span } from '../join/spans.js';

/** One vote retried by web's proxy: `statuses` are the attempts' HTTP answers. */
export function retriedVote(trace: string, statuses: number[]): Span[] {
  const t = { traceId: trace };
  const http = (status: number) => ({ 'http.request.method': 'POST', 'url.path': '/vote', 'http.response.status_code': String(status) });
  const out: Span[] = [
    span('1', undefined, 'web', 0, 100, { ...t, name: '/api/vote' }, 'web-pod'),
    span('2', '1', 'linkerd-proxy', 1, 99, { ...t, kind: 'client', name: '/vote', attributes: http(statuses.at(-1)!), status: { code: statuses.at(-1)! >= 500 ? 'error' : 'unset' } }, 'web-pod'),
  ];
  statuses.forEach((status, i) => {
    const a = (10 + i).toString(16);
    const start = 2 + i * 30;
    out.push(
      span(a, '2', 'linkerd-proxy', start, start + 3, { ...t, kind: 'client', name: '/vote', attributes: { ...http(status), 'linkerd.retry.attempt': i + 1 }, status: { code: status >= 500 ? 'error' : 'unset', ...(status === 504 ? { message: 'request timed out' } : {}) } }, 'web-pod'),
      span(`${a}1`, a, 'voting-svc', start + 1, start + 2, { ...t, name: 'POST /vote' }, 'voting-pod'),
    );
  });
  return out;
}
