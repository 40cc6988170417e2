"""py_zipkin (PyPI's py-zipkin) reporting one request to span-relay's Zipkin receiver through its own
SimpleHTTPTransport, which picks the path and content type from the encoding.

Usage: send_py_zipkin.py ENCODING HOST:PORT   (ENCODING: V2_JSON, the default, V2_PROTO3 or V1_JSON)
Prints one JSON object: the spans as py_zipkin handed them to its encoder, with times in
microseconds as that encoder writes them, and how many payloads span-relay accepted (202).
"""
import json
import sys

from py_zipkin import Encoding
from py_zipkin import logging_helper
from py_zipkin.transport import SimpleHTTPTransport
from py_zipkin.zipkin import zipkin_client_span, zipkin_server_span, zipkin_span

encoding = Encoding[sys.argv[1]]
host, port = sys.argv[2].rsplit(':', 1)


class CountingTransport(SimpleHTTPTransport):
    """SimpleHTTPTransport (it asserts a 202), counting the payloads that got one."""

    sent = 0

    def send(self, payload):
        super().send(payload)
        self.sent += 1


# py_zipkin builds its Span objects at the end of the trace and hands each to ZipkinBatchSender to
# encode: keep each one it is given, unchanged, as the tracer's own view of what it sent.
seen = []
_add_span = logging_helper.ZipkinBatchSender.add_span


def add_span(self, span):
    seen.append(span)
    return _add_span(self, span)


logging_helper.ZipkinBatchSender.add_span = add_span


def endpoint(e):
    return None if e is None else {'serviceName': e.service_name, 'ipv4': e.ipv4, 'ipv6': e.ipv6, 'port': e.port}


def us(seconds):
    """Seconds (float) to microseconds as py_zipkin's encoder for this encoding writes them: its JSON
    encoders multiply by 1000000, its proto3 encoder by 1000 twice, which now and then gives a value 1 us apart."""
    if encoding == Encoding.V2_PROTO3:
        return int(seconds * 1000 * 1000)
    return int(seconds * 1000000)


transport = CountingTransport(host, int(port))
with zipkin_server_span(
    service_name='py-zipkin-shop',
    span_name='GET /cart',
    transport_handler=transport,
    sample_rate=100.0,
    encoding=encoding,
    use_128bit_trace_id=encoding == Encoding.V2_PROTO3,
    host='10.1.2.3',
    port=8080,
    binary_annotations={'http.method': 'GET', 'http.path': '/cart'},
) as root:
    root.add_annotation('cache.miss')
    try:
        with zipkin_client_span(service_name='py-zipkin-shop', span_name='get stock', encoding=encoding) as client:
            client.update_binary_annotations({'rpc.system': 'grpc', 'stock.items': '3'})
            client.add_sa_binary_annotation(port=9000, service_name='stock', host='2001:db8::7')
            client.add_annotation('retry')
            raise TimeoutError('stock service timed out')
    except TimeoutError:
        pass
    with zipkin_span(service_name='py-zipkin-shop', span_name='render', encoding=encoding) as local:
        local.update_binary_annotations({'template': 'cart.html'})

spans = [
    {
        'traceId': s.trace_id,
        'spanId': s.span_id,
        'parentSpanId': s.parent_id,
        'name': s.name,
        'kind': s.kind.name,
        'timestampMicros': us(s.timestamp),
        'durationMicros': us(s.duration),
        'shared': s.shared,
        'debug': s.debug,
        'localEndpoint': endpoint(s.local_endpoint),
        'remoteEndpoint': endpoint(s.remote_endpoint),
        'annotations': [{'value': v, 'timestampMicros': us(t)} for v, t in s.annotations.items()],
        'tags': s.tags,
    }
    for s in seen
]
print(json.dumps({'payloadsSent': transport.sent, 'spans': spans}))
