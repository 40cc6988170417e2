"""One small trace made with the OpenTelemetry Python SDK as an application makes it, handed to any
SpanExporter through a BatchSpanProcessor, and the SDK's own view of what it handed over.

Shared by send_otlp.py (this peer's OTLP exporters) and ../python-opencensus/send_otel.py (the
OpenCensus agent exporter, which needs an older protobuf and so a virtualenv of its own).
"""
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState, set_span_in_context


def any_value(v):
    """A Python attribute value in OTLP AnyValue's JSON shape (int64 as a string), so its type survives JSON."""
    if isinstance(v, bool):
        return {'boolValue': v}
    if isinstance(v, int):
        return {'intValue': str(v)}
    if isinstance(v, float):
        return {'doubleValue': v}
    if isinstance(v, str):
        return {'stringValue': v}
    if isinstance(v, (tuple, list)):
        return {'arrayValue': {'values': [any_value(x) for x in v]}}
    raise TypeError(f'unexpected attribute value {v!r}')


def attributes(attrs):
    return {k: any_value(v) for k, v in (attrs or {}).items()}


class Recording(SpanExporter):
    """Passes every batch to the real exporter and keeps what it was given and what it answered."""

    def __init__(self, inner):
        self.inner = inner
        self.spans = []
        self.results = []

    def export(self, spans):
        result = self.inner.export(spans)
        self.spans.extend(spans)
        self.results.append(result.name)
        return result

    def shutdown(self):
        self.inner.shutdown()

    def force_flush(self, timeout_millis=30000):
        return self.inner.force_flush(timeout_millis)


def span_json(s):
    ctx = s.get_span_context()
    scope = s.instrumentation_scope
    return {
        'traceId': format(ctx.trace_id, '032x'),
        'spanId': format(ctx.span_id, '016x'),
        'parentSpanId': format(s.parent.span_id, '016x') if s.parent else None,
        'parentIsRemote': s.parent.is_remote if s.parent else None,
        'traceState': ctx.trace_state.to_header(),
        'traceFlags': int(ctx.trace_flags),
        'name': s.name,
        'kind': s.kind.name,
        'startTimeUnixNano': str(s.start_time),
        'endTimeUnixNano': str(s.end_time),
        'attributes': attributes(s.attributes),
        'events': [{'name': e.name, 'timeUnixNano': str(e.timestamp), 'attributes': attributes(e.attributes)} for e in s.events],
        'links': [
            {
                'traceId': format(link.context.trace_id, '032x'),
                'spanId': format(link.context.span_id, '016x'),
                'traceState': link.context.trace_state.to_header(),
                'traceFlags': int(link.context.trace_flags),
                'isRemote': link.context.is_remote,
                'attributes': attributes(link.attributes),
            }
            for link in s.links
        ],
        'status': {'code': s.status.status_code.name, 'description': s.status.description},
        'scope': {'name': scope.name, 'version': scope.version, 'schemaUrl': scope.schema_url, 'attributes': attributes(scope.attributes)},
    }


def send_trace(exporter, service_name):
    """Makes the trace, flushes it through `exporter` by shutting the provider down, and returns the SDK's view."""
    resource = Resource.create(
        {'service.name': service_name, 'service.version': '1.4.2', 'deployment.environment': 'test', 'host.name': 'py-host-1', 'process.pid': 4242}
    )
    recording = Recording(exporter)
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(recording))
    # As the opentelemetry-instrumentation-* packages ask for theirs: name, version and schema URL.
    tracer = provider.get_tracer('checkout.instrumentation', '2.3.4', schema_url='https://opentelemetry.io/schemas/1.21.0')

    # A span of another trace (with a vendor's tracestate), as a batch consumer links to the message that started it.
    linked = SpanContext(
        trace_id=0x5B8EFFF798038103D269B633813FC60C,
        span_id=0xEEE19B7EC3C1B174,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=TraceState([('vendor', 'value1')]),
    )
    with tracer.start_as_current_span(
        'GET /checkout',
        kind=SpanKind.SERVER,
        attributes={'http.request.method': 'GET', 'http.response.status_code': 200, 'sample.ratio': 0.25, 'cache.hit': True, 'http.route.parts': ('api', 'checkout')},
    ) as root:
        child = tracer.start_span(
            'SELECT orders',
            context=set_span_in_context(root),
            kind=SpanKind.CLIENT,
            attributes={'db.system': 'postgresql', 'db.rows': 3, 'db.cost': 1.5, 'db.cached': False, 'db.ids': (7, 11)},
            links=[Link(linked, {'messaging.message.id': 'm-17', 'attempt': 2})],
        )
        child.add_event('retry', {'attempt': 2, 'backoff.seconds': 0.02, 'final': False, 'reason': 'timeout'})
        child.set_status(Status(StatusCode.ERROR, 'connection refused'))
        child.end()
        render = tracer.start_span('render', context=set_span_in_context(root))
        render.set_status(Status(StatusCode.OK))
        render.end()

    provider.shutdown()
    return {
        'exportResults': recording.results,
        'resource': attributes(resource.attributes),
        'resourceSchemaUrl': resource.schema_url,
        'spans': [span_json(s) for s in recording.spans],
    }
