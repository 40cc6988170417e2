import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.AttributeType;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.common.KeyValue;
import io.opentelemetry.api.common.Value;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Scope;
import io.opentelemetry.exporter.otlp.http.trace.OtlpHttpSpanExporter;
import io.opentelemetry.exporter.otlp.trace.OtlpGrpcSpanExporter;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.common.InstrumentationScopeInfo;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.EventData;
import io.opentelemetry.sdk.trace.data.LinkData;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The OpenTelemetry Java SDK with its OTLP exporter, at its defaults but for the endpoint (the
 * batch span processor; the OkHttp sender; no compression), sends one trace, its resource and scope
 * with schema URLs as instrumentation sets them: a server span with a client child (attributes of
 * every type, an event, an exception, an error status, a link to a remote producer's context with
 * its trace state), an internal child with an OK status and a producer child. `args[0]` is `grpc`
 * (`args[1]` http://host:port) or `http` (`args[1]` http://host:port, to which /v1/traces is added).
 *
 * Prints on stdout, as JSON, each span as the SDK handed it to the exporter (SpanData), attribute
 * values in OTLP's AnyValue shape. Exits 1 when the export failed.
 *
 * Run from source: java -cp '<peer>/libs/*' OtelSender.java grpc http://127.0.0.1:PORT
 */
public class OtelSender {
  public static void main(String[] args) throws Exception {
    String protocol = args[0];
    SpanExporter otlp = switch (protocol) {
      case "grpc" -> OtlpGrpcSpanExporter.builder().setEndpoint(args[1]).build();
      case "http" -> OtlpHttpSpanExporter.builder().setEndpoint(args[1] + "/v1/traces").build();
      default -> throw new IllegalArgumentException("protocol is grpc or http, not " + protocol);
    };
    List<SpanData> exported = Collections.synchronizedList(new ArrayList<>());
    AtomicReference<Throwable> failure = new AtomicReference<>();
    SpanExporter recording = new SpanExporter() {
      @Override
      public CompletableResultCode export(Collection<SpanData> spans) {
        CompletableResultCode result = otlp.export(spans);
        result.whenComplete(() -> {
          if (result.isSuccess()) exported.addAll(spans);
          else failure.compareAndSet(null, result.getFailureThrowable() != null ? result.getFailureThrowable() : new RuntimeException("export failed"));
        });
        return result;
      }

      @Override
      public CompletableResultCode flush() {
        return otlp.flush();
      }

      @Override
      public CompletableResultCode shutdown() {
        return otlp.shutdown();
      }
    };

    Resource resource = Resource.getDefault().merge(Resource.create(Attributes.builder()
        .put("service.name", "java-orders")
        .put("service.version", "1.4.2")
        .put("deployment.environment.name", "test")
        .build(), "https://opentelemetry.io/schemas/1.37.0"));
    SdkTracerProvider provider = SdkTracerProvider.builder().setResource(resource).addSpanProcessor(BatchSpanProcessor.builder(recording).build()).build();
    Tracer tracer = provider.tracerBuilder("com.example.orders").setInstrumentationVersion("2.0.1").setSchemaUrl("https://opentelemetry.io/schemas/1.36.0").build();

    Span root = tracer.spanBuilder("GET /orders/{id}").setSpanKind(SpanKind.SERVER)
        .setAttribute("http.request.method", "GET")
        .setAttribute("url.path", "/orders/42")
        .setAttribute("http.route", "/orders/{id}")
        .startSpan();
    try (Scope ignored = root.makeCurrent()) {
      SpanContext producer = SpanContext.createFromRemoteParent("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", TraceFlags.getSampled(),
          TraceState.builder().put("rojo", "00f067aa0ba902b7").put("congo", "t61rcWkgMzE").build());
      Span db = tracer.spanBuilder("SELECT orders").setSpanKind(SpanKind.CLIENT)
          .addLink(producer, Attributes.of(AttributeKey.stringKey("messaging.operation.type"), "process"))
          .setAttribute("db.system.name", "postgresql")
          .setAttribute("db.query.text", "SELECT * FROM orders WHERE id = ?")
          .setAttribute("db.response.returned_rows", 0L)
          .setAttribute("server.port", 5432L)
          .setAttribute("db.pool.usage", 0.75)
          .setAttribute("db.cached", false)
          .setAttribute(AttributeKey.stringArrayKey("db.operation.parameters"), List.of("42", "eu-west"))
          .setAttribute(AttributeKey.longArrayKey("retry.delays_ms"), List.of(10L, 20L, -40L))
          .setAttribute(AttributeKey.doubleArrayKey("db.latency.quantiles"), List.of(0.5, 1.25))
          .setAttribute(AttributeKey.booleanArrayKey("db.replicas.healthy"), List.of(true, false))
          .setAttribute(AttributeKey.valueKey("db.shard"), Value.of(KeyValue.of("region", Value.of("eu")), KeyValue.of("index", Value.of(3L))))
          .setAttribute(AttributeKey.valueKey("db.request.digest"), Value.of(new byte[] {0, 1, 2, (byte) 0xfe, (byte) 0xff}))
          .startSpan();
      Thread.sleep(1);
      db.addEvent("retry", Attributes.builder().put("retry.attempt", 2L).put("retry.backoff_ms", 12.5).build());
      db.recordException(new IllegalStateException("connection refused"));
      db.setStatus(StatusCode.ERROR, "connection refused");
      db.end();

      Span render = tracer.spanBuilder("render error page").startSpan();
      render.setStatus(StatusCode.OK);
      render.end();

      Span publish = tracer.spanBuilder("order.failed publish").setSpanKind(SpanKind.PRODUCER)
          .setAttribute("messaging.system", "kafka")
          .setAttribute("messaging.destination.name", "order.failed")
          .startSpan();
      publish.end();
    } finally {
      root.setAttribute("http.response.status_code", 500L);
      root.setStatus(StatusCode.ERROR);
      root.end();
    }

    provider.forceFlush().join(10, TimeUnit.SECONDS);
    provider.shutdown().join(10, TimeUnit.SECONDS);
    if (failure.get() != null || exported.size() != 4) {
      System.err.println("OtelSender: exported " + exported.size() + " of 4 spans: " + failure.get());
      System.exit(1);
    }

    StringBuilder out = new StringBuilder("{\"spans\":[");
    for (int i = 0; i < exported.size(); i++) {
      if (i > 0) out.append(',');
      span(out, exported.get(i));
    }
    System.out.println(out.append("]}"));
  }

  static void span(StringBuilder o, SpanData s) {
    SpanContext parent = s.getParentSpanContext();
    o.append("{\"traceId\":").append(str(s.getTraceId()));
    o.append(",\"spanId\":").append(str(s.getSpanId()));
    o.append(",\"parentSpanId\":").append(parent.isValid() ? str(parent.getSpanId()) : "null");
    o.append(",\"parentIsRemote\":").append(parent.isRemote());
    o.append(",\"traceFlags\":").append(s.getSpanContext().getTraceFlags().asByte() & 0xff);
    o.append(",\"traceState\":").append(str(traceState(s.getSpanContext().getTraceState())));
    o.append(",\"name\":").append(str(s.getName()));
    o.append(",\"kind\":").append(str(s.getKind().name()));
    o.append(",\"startEpochNanos\":").append(str(Long.toString(s.getStartEpochNanos())));
    o.append(",\"endEpochNanos\":").append(str(Long.toString(s.getEndEpochNanos())));
    o.append(",\"attributes\":");
    attributes(o, s.getAttributes());
    o.append(",\"totalAttributeCount\":").append(s.getTotalAttributeCount());
    o.append(",\"events\":[");
    for (int i = 0; i < s.getEvents().size(); i++) {
      EventData e = s.getEvents().get(i);
      if (i > 0) o.append(',');
      o.append("{\"name\":").append(str(e.getName())).append(",\"epochNanos\":").append(str(Long.toString(e.getEpochNanos()))).append(",\"attributes\":");
      attributes(o, e.getAttributes());
      o.append('}');
    }
    o.append("],\"totalRecordedEvents\":").append(s.getTotalRecordedEvents());
    o.append(",\"links\":[");
    for (int i = 0; i < s.getLinks().size(); i++) {
      LinkData l = s.getLinks().get(i);
      SpanContext c = l.getSpanContext();
      if (i > 0) o.append(',');
      o.append("{\"traceId\":").append(str(c.getTraceId())).append(",\"spanId\":").append(str(c.getSpanId()));
      o.append(",\"traceState\":").append(str(traceState(c.getTraceState())));
      o.append(",\"traceFlags\":").append(c.getTraceFlags().asByte() & 0xff).append(",\"isRemote\":").append(c.isRemote());
      o.append(",\"attributes\":");
      attributes(o, l.getAttributes());
      o.append('}');
    }
    o.append("],\"totalRecordedLinks\":").append(s.getTotalRecordedLinks());
    o.append(",\"status\":{\"code\":").append(str(s.getStatus().getStatusCode().name())).append(",\"description\":").append(str(s.getStatus().getDescription())).append('}');
    InstrumentationScopeInfo scope = s.getInstrumentationScopeInfo();
    o.append(",\"scope\":{\"name\":").append(str(scope.getName())).append(",\"version\":").append(str(scope.getVersion())).append(",\"schemaUrl\":").append(str(scope.getSchemaUrl())).append(",\"attributes\":");
    attributes(o, scope.getAttributes());
    o.append("},\"resource\":{\"schemaUrl\":").append(str(s.getResource().getSchemaUrl())).append(",\"attributes\":");
    attributes(o, s.getResource().getAttributes());
    o.append("}}");
  }

  /** The W3C tracestate header, as OTLP carries it. */
  static String traceState(TraceState state) {
    StringBuilder b = new StringBuilder();
    state.forEach((k, v) -> b.append(b.length() > 0 ? "," : "").append(k).append('=').append(v));
    return b.toString();
  }

  /** Attributes as an object of OTLP AnyValues: {"key": {"stringValue": "…"}, …}. */
  static void attributes(StringBuilder o, Attributes attrs) {
    o.append('{');
    boolean[] first = {true};
    attrs.forEach((k, v) -> {
      if (!first[0]) o.append(',');
      first[0] = false;
      o.append(str(k.getKey())).append(':');
      if (k.getType() == AttributeType.VALUE) anyValue(o, (Value<?>) v);
      else if (v instanceof List<?> list) {
        o.append("{\"arrayValue\":{\"values\":[");
        for (int i = 0; i < list.size(); i++) {
          if (i > 0) o.append(',');
          scalar(o, list.get(i));
        }
        o.append("]}}");
      } else scalar(o, v);
    });
    o.append('}');
  }

  static void scalar(StringBuilder o, Object v) {
    if (v instanceof String s) o.append("{\"stringValue\":").append(str(s)).append('}');
    else if (v instanceof Boolean b) o.append("{\"boolValue\":").append(b).append('}');
    else if (v instanceof Long l) o.append("{\"intValue\":").append(str(Long.toString(l))).append('}');
    else if (v instanceof Double d) o.append("{\"doubleValue\":").append(d).append('}');
    else throw new IllegalArgumentException("attribute value " + v);
  }

  static void anyValue(StringBuilder o, Value<?> v) {
    switch (v.getType()) {
      case ARRAY -> {
        o.append("{\"arrayValue\":{\"values\":[");
        List<?> values = (List<?>) v.getValue();
        for (int i = 0; i < values.size(); i++) {
          if (i > 0) o.append(',');
          anyValue(o, (Value<?>) values.get(i));
        }
        o.append("]}}");
      }
      case KEY_VALUE_LIST -> {
        o.append("{\"kvlistValue\":{\"values\":[");
        List<?> values = (List<?>) v.getValue();
        for (int i = 0; i < values.size(); i++) {
          KeyValue kv = (KeyValue) values.get(i);
          if (i > 0) o.append(',');
          o.append("{\"key\":").append(str(kv.getKey())).append(",\"value\":");
          anyValue(o, kv.getValue());
          o.append('}');
        }
        o.append("]}}");
      }
      case BYTES -> {
        ByteBuffer buf = ((ByteBuffer) v.getValue()).duplicate();
        byte[] bytes = new byte[buf.remaining()];
        buf.get(bytes);
        o.append("{\"bytesValue\":").append(str(Base64.getEncoder().encodeToString(bytes))).append('}');
      }
      case EMPTY -> o.append("{}");
      default -> scalar(o, v.getValue());
    }
  }

  static String str(String s) {
    if (s == null) return "null";
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') b.append('\\').append(c);
      else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
      else b.append(c);
    }
    return b.append('"').toString();
  }
}
