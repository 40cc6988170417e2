"""py_zipkin (Debian's python3-py-zipkin) reporting two requests to span-relay's Zipkin receiver.

Usage: py_zipkin_client.py BASE_URL ENCODING   (ENCODING: V1_THRIFT, V1_JSON or V2_JSON)
Prints one JSON line with the IDs the tracer chose, for the test to check against.

1. "lone": a server whose caller is not traced. py_zipkin reuses the incoming span ID
   (Zipkin's shared span) and has no client half to join.
2. "pair": a traced client calls a traced server; the server shares the client's span ID.
"""
import json
import sys
import threading
import time
import urllib.request

from py_zipkin.encoding._types import Encoding
from py_zipkin.transport import BaseTransportHandler
from py_zipkin.util import generate_random_64bit_string
from py_zipkin.zipkin import ZipkinAttrs, zipkin_client_span, zipkin_server_span, zipkin_span

base, encoding_name = sys.argv[1], sys.argv[2]
encoding = Encoding[encoding_name]
path, content_type = {
    'V1_THRIFT': ('/api/v1/spans', 'application/x-thrift'),
    'V1_JSON': ('/api/v1/spans', 'application/json'),
    'V2_JSON': ('/api/v2/spans', 'application/json'),
}[encoding_name]


class Http(BaseTransportHandler):
    def get_max_payload_bytes(self):
        return None

    def send(self, payload):
        data = payload.encode('utf-8') if isinstance(payload, str) else payload
        req = urllib.request.Request(base + path, data=data, headers={'Content-Type': content_type}, method='POST')
        with urllib.request.urlopen(req, timeout=5) as res:
            if res.status != 202:
                raise SystemExit('span-relay answered %d' % res.status)


transport = Http()
out = {}

# 1. lone shared server: the incoming request carried B3 headers from an untraced caller.
lone_trace = generate_random_64bit_string()
lone_span = generate_random_64bit_string()
with zipkin_server_span(
    service_name='py-lone',
    span_name='GET /lone',
    zipkin_attrs=ZipkinAttrs(trace_id=lone_trace, span_id=lone_span, parent_span_id=None, flags='0', is_sampled=True),
    transport_handler=transport,
    encoding=encoding,
    host='2001:0db8:0:0::5',
    port=8080,
):
    time.sleep(0.002)
    with zipkin_client_span(service_name='py-lone', span_name='SELECT', encoding=encoding) as db:
        db.update_binary_annotations({'db.statement': 'SELECT 1'})
        time.sleep(0.002)
out['lone'] = {'traceId': lone_trace, 'serverId': lone_span}

# 2. pair: a traced front end calls a traced payment service that shares its span ID. The server
#    runs on its own thread (py_zipkin keeps one context stack per thread), as it would in its own
#    process, while the client span is open.
def pay_server(attrs):
    with zipkin_server_span(
        service_name='py-pay',
        span_name='POST /pay',
        zipkin_attrs=ZipkinAttrs(trace_id=attrs.trace_id, span_id=attrs.span_id, parent_span_id=attrs.parent_span_id, flags='0', is_sampled=True),
        transport_handler=transport,
        encoding=encoding,
        binary_annotations={
            'census.status_code': '14',
            'census.status_description': 'card service unavailable',
            'otel.library.name': 'py-pay-lib',
            'otel.library.version': '1.2.3',
        },
    ):
        time.sleep(0.002)
        with zipkin_span(service_name='py-pay', span_name='charge', encoding=encoding):
            time.sleep(0.002)


with zipkin_span(service_name='py-front', span_name='checkout', transport_handler=transport, sample_rate=100.0, encoding=encoding) as root:
    with zipkin_client_span(service_name='py-front', span_name='POST /pay', encoding=encoding) as client:
        attrs = client.zipkin_attrs
        server = threading.Thread(target=pay_server, args=(attrs,))
        server.start()
        server.join()
    out['pair'] = {'traceId': root.zipkin_attrs.trace_id, 'rootId': root.zipkin_attrs.span_id, 'clientId': attrs.span_id}

print(json.dumps(out))
