import brave.Span;
import brave.Tracer;
import brave.Tracing;
import brave.handler.MutableSpan;
import brave.handler.SpanHandler;
import brave.propagation.TraceContext;
import brave.propagation.TraceContextOrSamplingFlags;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import zipkin2.reporter.BytesMessageSender;
import zipkin2.reporter.InMemoryReporterMetrics;
import zipkin2.reporter.brave.AsyncZipkinSpanHandler;
import zipkin2.reporter.urlconnection.URLConnectionSender;

/**
 * Brave with its Zipkin reporter, left at its defaults (Zipkin v2 JSON over HTTP, gzipped, 64-bit
 * trace IDs, B3 propagation, a server joining its caller's span ID), sends one trace to `args[0]`
 * (a Zipkin /api/v2/spans URL): a frontend server span, its client call to a backend, the backend's
 * server span that shares the client's ID, and a local span under it. Two Tracing instances in one
 * JVM stand for the two services; the B3 headers pass between them in a map as they would in HTTP.
 *
 * Prints on stdout, as JSON, each span as Brave handed it to its span handlers (what the reporter
 * then encoded), in the order they finished. Exits 1 when the reporter dropped anything.
 *
 * Run from source: java -cp '<peer>/libs/*' BraveSender.java http://127.0.0.1:PORT/api/v2/spans
 */
public class BraveSender {
  public static void main(String[] args) throws Exception {
    URLConnectionSender sender = URLConnectionSender.create(args[0]);
    InMemoryReporterMetrics metrics = new InMemoryReporterMetrics();
    AsyncZipkinSpanHandler zipkin = AsyncZipkinSpanHandler.newBuilder((BytesMessageSender) sender).metrics(metrics).build();
    List<MutableSpan> finished = Collections.synchronizedList(new ArrayList<>());
    SpanHandler recorder = new SpanHandler() {
      @Override
      public boolean end(TraceContext context, MutableSpan span, Cause cause) {
        if (cause == Cause.FINISHED) finished.add(new MutableSpan(span));
        return true;
      }
    };
    // No localPort: Brave 6.3.1 sizes the JSON of a span whose local endpoint has a port but no IP
    // (no site-local address, as on a host with loopback alone) too small, and fails its encoding.
    Tracing frontend = Tracing.newBuilder().localServiceName("java-frontend").addSpanHandler(recorder).addSpanHandler(zipkin).build();
    Tracing backend = Tracing.newBuilder().localServiceName("java-backend").addSpanHandler(recorder).addSpanHandler(zipkin).build();

    Tracer fe = frontend.tracer();
    Span root = fe.newTrace().name("GET /checkout").kind(Span.Kind.SERVER);
    root.remoteIpAndPort("192.0.2.10", 51000);
    root.tag("http.method", "GET").tag("http.path", "/checkout").start();
    Thread.sleep(2);

    Span client = fe.newChild(root.context()).name("GET /inventory").kind(Span.Kind.CLIENT);
    client.remoteServiceName("java-backend");
    client.remoteIpAndPort("2001:db8:0:0:0:0:0:c001", 9090);
    client.tag("http.method", "GET").tag("http.url", "http://java-backend:9090/inventory?sku=42").start();
    Map<String, String> headers = new LinkedHashMap<>();
    frontend.propagation().<Map<String, String>>injector(Map::put).inject(client.context(), headers);
    // Each Tracing times a trace by its own clock, anchored when the span that starts its part of
    // the trace starts: the backend's can read a little off the frontend's, as another host's would.
    // The margins keep the server half inside its client's time all the same.
    Thread.sleep(3);

    // The backend, on receiving the request: Brave's default joins the caller's span ID (shared).
    TraceContextOrSamplingFlags extracted = backend.propagation().<Map<String, String>>extractor(Map::get).extract(headers);
    Span server = backend.tracer().joinSpan(extracted.context()).name("GET /inventory").kind(Span.Kind.SERVER);
    server.remoteIpAndPort("192.0.2.20", 52000);
    server.tag("http.method", "GET").tag("http.path", "/inventory").start();
    Thread.sleep(1);
    server.annotate("cache miss");
    Span db = backend.tracer().newChild(server.context()).name("SELECT stock");
    db.tag("db.system", "postgresql").tag("db.statement", "SELECT qty FROM stock WHERE sku = ?").tag("db.rows", "0").start();
    Thread.sleep(2);
    db.finish();
    server.tag("http.status_code", "503");
    server.error(new IllegalStateException("stock service unavailable"));
    server.finish();
    Thread.sleep(3);

    client.tag("http.status_code", "503").tag("error", "503");
    client.finish();
    Thread.sleep(1);
    root.tag("http.status_code", "502");
    root.finish();

    frontend.close();
    backend.close();
    // flush() sends what is still queued, on this thread; close() waits for the reporter's own
    // thread, which may hold a message it took from the queue (up to its 1 s message timeout).
    zipkin.flush();
    zipkin.close();
    sender.close();
    if (metrics.spansDropped() > 0 || metrics.spans() != finished.size()) {
      System.err.println("BraveSender: reported " + metrics.spans() + " of " + finished.size() + " spans, dropped " + metrics.spansDropped() + ": " + metrics.messagesDroppedByCause());
      System.exit(1);
    }

    StringBuilder out = new StringBuilder("{\"headers\":");
    stringMap(out, headers);
    out.append(",\"spans\":[");
    for (int i = 0; i < finished.size(); i++) {
      if (i > 0) out.append(',');
      span(out, finished.get(i));
    }
    System.out.println(out.append("]}"));
  }

  static void span(StringBuilder o, MutableSpan s) {
    o.append("{\"traceId\":").append(str(s.traceId()));
    o.append(",\"parentId\":").append(str(s.parentId()));
    o.append(",\"id\":").append(str(s.id()));
    o.append(",\"kind\":").append(str(s.kind() == null ? null : s.kind().name()));
    o.append(",\"name\":").append(str(s.name()));
    o.append(",\"startTimestamp\":").append(s.startTimestamp());
    o.append(",\"finishTimestamp\":").append(s.finishTimestamp());
    o.append(",\"localServiceName\":").append(str(s.localServiceName()));
    o.append(",\"localIp\":").append(str(s.localIp()));
    o.append(",\"localPort\":").append(s.localPort());
    o.append(",\"remoteServiceName\":").append(str(s.remoteServiceName()));
    o.append(",\"remoteIp\":").append(str(s.remoteIp()));
    o.append(",\"remotePort\":").append(s.remotePort());
    o.append(",\"shared\":").append(s.shared());
    o.append(",\"error\":").append(str(s.error() == null ? null : s.error().getMessage()));
    o.append(",\"tags\":");
    stringMap(o, s.tags());
    o.append(",\"annotations\":[");
    for (int i = 0; i < s.annotationCount(); i++) {
      if (i > 0) o.append(',');
      o.append("{\"timestamp\":").append(s.annotationTimestampAt(i)).append(",\"value\":").append(str(s.annotationValueAt(i))).append('}');
    }
    o.append("]}");
  }

  static void stringMap(StringBuilder o, Map<String, String> m) {
    o.append('{');
    boolean first = true;
    for (Map.Entry<String, String> e : m.entrySet()) {
      if (!first) o.append(',');
      first = false;
      o.append(str(e.getKey())).append(':').append(str(e.getValue()));
    }
    o.append('}');
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
