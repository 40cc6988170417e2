"""The OpenTelemetry Python SDK with PyPI's opentelemetry-exporter-opencensus, which speaks the
OpenCensus agent protocol (gRPC, as OC_AGENT_HOST senders do), sending the same trace as the OTLP
sender (../python-tracers/otel_trace.py) to span-relay's opencensus receiver.

Usage: send_otel.py HOST:PORT
Prints one JSON object: the SDK's view of what it exported, and the Node the exporter sent with it.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'python-tracers'))

from oc_node import node_json  # noqa: E402
from opentelemetry.exporter.opencensus.trace_exporter import OpenCensusSpanExporter  # noqa: E402
from otel_trace import send_trace  # noqa: E402

exporter = OpenCensusSpanExporter(endpoint=sys.argv[1], host_name='py-oc-host')
sent = send_trace(exporter, 'py-otel-opencensus')
# The exporter makes its Node again for each export (the service name from the spans' resource).
sent['node'] = node_json(exporter.node)
print(json.dumps(sent))
