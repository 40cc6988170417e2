"""The OpenTelemetry Python SDK with its OTLP exporter (PyPI's opentelemetry-exporter-otlp) sending
otel_trace.py's trace to span-relay, over gRPC or HTTP/protobuf, with the exporter's defaults.

Usage: send_otlp.py grpc|http HOST:PORT
Prints one JSON object: the SDK's view of what it exported (otel_trace.send_trace).
"""
import json
import sys

from otel_trace import send_trace

transport, address = sys.argv[1], sys.argv[2]
if transport == 'grpc':
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    exporter = OTLPSpanExporter(endpoint=f'http://{address}', insecure=True, timeout=10)
elif transport == 'http':
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    exporter = OTLPSpanExporter(endpoint=f'http://{address}/v1/traces', timeout=10)
else:
    raise SystemExit(f'unknown transport {transport!r}: grpc or http')

print(json.dumps(send_trace(exporter, f'py-otlp-{transport}')))
