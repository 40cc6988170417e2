"""OpenCensus Python (PyPI's opencensus) with its own agent exporter, opencensus-ext-ocagent, sending
a small trace to span-relay's opencensus receiver as an OpenCensus app does (the exporter's default
SyncTransport: one Export stream per finished span).

Usage: send_ocagent.py HOST:PORT
Prints one JSON object: the SpanData the tracer handed its exporter (IDs in hex, times in ns from
its microsecond timestamps, attribute values typed as OTLP AnyValue) and the Node it sent.
"""
import calendar
import datetime
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'python-tracers'))

from oc_node import node_json  # noqa: E402
from opencensus.ext.ocagent.trace_exporter import TraceExporter  # noqa: E402
from opencensus.trace import link as oc_link  # noqa: E402
from opencensus.trace import time_event  # noqa: E402
from opencensus.trace.attributes import Attributes  # noqa: E402
from opencensus.trace.samplers import AlwaysOnSampler  # noqa: E402
from opencensus.trace.span import SpanKind  # noqa: E402
from opencensus.trace.span_context import SpanContext  # noqa: E402
from opencensus.trace.status import Status  # noqa: E402
from opencensus.trace.tracer import Tracer  # noqa: E402
from opencensus.trace.tracestate import Tracestate  # noqa: E402
from otel_trace import attributes  # noqa: E402


class RecordingExporter(TraceExporter):
    """The agent exporter, keeping every SpanData it emits."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.span_datas = []

    def emit(self, span_datas):
        self.span_datas.extend(span_datas)
        super().emit(span_datas)


def ns(iso):
    """OpenCensus Python's timestamps are ISO text in UTC to the microsecond."""
    t = datetime.datetime.strptime(iso, '%Y-%m-%dT%H:%M:%S.%fZ')
    return str((calendar.timegm(t.timetuple()) * 1_000_000 + t.microsecond) * 1000)


def oc_attributes(a):
    return attributes(None if a is None else a.attributes)


KINDS = {SpanKind.UNSPECIFIED: 'UNSPECIFIED', SpanKind.SERVER: 'SERVER', SpanKind.CLIENT: 'CLIENT'}

exporter = RecordingExporter(service_name='py-ocagent', host_name='py-oc-host', endpoint=sys.argv[1])
state = Tracestate()
state['congo'] = 't61rcWkgMzE'
tracer = Tracer(exporter=exporter, sampler=AlwaysOnSampler(), span_context=SpanContext(tracestate=state))

with tracer.span(name='GET /orders') as root:
    root.span_kind = SpanKind.SERVER
    root.add_attribute('http.method', 'GET')
    root.add_attribute('http.status_code', 200)
    root.add_attribute('sample.ratio', 0.25)
    root.add_attribute('cache.hit', True)
    root.add_annotation('cache miss', key='orders:7', size=3, ratio=0.5, stale=False)
    with tracer.span(name='SELECT orders') as child:
        child.span_kind = SpanKind.CLIENT
        child.same_process_as_parent_span = True
        child.add_attribute('db.rows', 3)
        child.add_attribute('db.statement', 'SELECT * FROM orders')
        child.add_message_event(time_event.MessageEvent(datetime.datetime.utcnow(), id=7, type=time_event.Type.SENT, uncompressed_size_bytes=300, compressed_size_bytes=120))
        child.add_link(
            oc_link.Link(trace_id='5b8efff798038103d269b633813fc60c', span_id='eee19b7ec3c1b174', type=oc_link.Type.CHILD_LINKED_SPAN, attributes=Attributes({'messaging.message.id': 'm-17', 'attempt': 2}))
        )
        child.set_status(Status(14, 'orders database unavailable'))

spans = [
    {
        'traceId': d.context.trace_id,
        'spanId': d.span_id,
        'parentSpanId': d.parent_span_id,
        'traceState': ','.join(f'{k}={v}' for k, v in (d.context.tracestate or {}).items()),
        'name': d.name,
        'kind': KINDS[d.span_kind],
        'startTimeUnixNano': ns(d.start_time),
        'endTimeUnixNano': ns(d.end_time),
        'attributes': attributes(d.attributes),
        'annotations': [{'description': a.description, 'timeUnixNano': ns(a.timestamp), 'attributes': oc_attributes(a.attributes)} for a in d.annotations],
        'messageEvents': [
            {'type': m.type, 'id': m.id, 'uncompressedSize': m.uncompressed_size_bytes, 'compressedSize': m.compressed_size_bytes, 'timeUnixNano': ns(m.timestamp)} for m in d.message_events
        ],
        'links': [{'traceId': link.trace_id, 'spanId': link.span_id, 'type': link.type, 'attributes': oc_attributes(link.attributes)} for link in d.links],
        'status': {'code': d.status.canonical_code, 'message': d.status.description},
        'sameProcessAsParentSpan': d.same_process_as_parent_span,
        'childSpanCount': d.child_span_count,
    }
    for d in exporter.span_datas
]
print(json.dumps({'node': node_json(exporter.node), 'spans': spans}))
