// jaeger-proto: Jaeger api_v2 PostSpansRequest bodies (gRPC :14250) as Jaeger's own Go code writes
// them, for collector/test/jaeger-proto.test.ts, which reads each with span-relay's hand-written
// decoder and with protobufjs and compares the two. Two writers:
//
//   - the OpenTelemetry Collector's Jaeger translator (contrib pkg/translator/jaeger ProtoFromTraces):
//     what its jaeger exporter sent, and the linkerd-jaeger collector with it, from OTLP traces that
//     use every field OTLP has;
//   - Jaeger's model (jaeger-idl model/v1) built by hand, as jaeger-agent and Jaeger's clients fill
//     it: every tag type with its edge values, logs, references, a span carrying its own process, a
//     batch of 100 spans, and spans a collector must refuse (zero IDs, a time before 1990).
//
// Both are marshalled by jaeger-idl's gogo-generated PostSpansRequest.Marshal, the code jaeger-agent
// and the Collector's exporter put on the wire.
//
//	jaeger-proto    prints {"requests": [{"name": ..., "body": base64}]} on stdout
package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	model "github.com/jaegertracing/jaeger-idl/model/v1"
	"github.com/jaegertracing/jaeger-idl/proto-gen/api_v2"
	jaegertranslator "github.com/open-telemetry/opentelemetry-collector-contrib/pkg/translator/jaeger"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

type request struct {
	Name string `json:"name"`
	Body string `json:"body"`
}

func main() {
	var out []request
	add := func(name string, b *model.Batch) {
		body, err := (&api_v2.PostSpansRequest{Batch: *b}).Marshal()
		if err != nil {
			fmt.Fprintln(os.Stderr, "jaeger-proto:", name, err)
			os.Exit(1)
		}
		out = append(out, request{Name: name, Body: base64.StdEncoding.EncodeToString(body)})
	}
	for i, b := range jaegertranslator.ProtoFromTraces(otlpTraces()) {
		add(fmt.Sprintf("translator batch %d (%s)", i, b.Process.ServiceName), b)
	}
	add("model: every tag type and edge value", tagsBatch())
	add("model: a span with its own process, the batch's empty", ownProcessBatch())
	add("model: 100 spans of 10-span traces", hundredSpans())
	add("model: spans a collector refuses beside good ones", refusedBatch())
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(map[string]any{"requests": out}); err != nil {
		fmt.Fprintln(os.Stderr, "jaeger-proto:", err)
		os.Exit(1)
	}
}

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 123456789, time.UTC)

// ---- OTLP → the Collector's translator -------------------------------------------------------

func otlpTraces() ptrace.Traces {
	td := ptrace.NewTraces()
	for r, service := range []string{"web", "voting-svc"} {
		rs := td.ResourceSpans().AppendEmpty()
		attrs := rs.Resource().Attributes()
		attrs.PutStr("service.name", service)
		attrs.PutStr("host.name", fmt.Sprintf("pod-%d", r))
		attrs.PutInt("process.pid", int64(4000+r))
		attrs.PutDouble("sample.ratio", 0.25)
		attrs.PutBool("k8s.ready", r == 0)
		attrs.PutEmptyBytes("build.id").FromRaw([]byte{0xde, 0xad, 0xbe, 0xef})
		list := attrs.PutEmptySlice("k8s.labels")
		list.AppendEmpty().SetStr("app=web")
		list.AppendEmpty().SetInt(7)
		attrs.PutEmptyMap("k8s.pod").PutStr("name", "web-6d5b7b8c9-abcde")
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName("emojivoto/" + service)
		ss.Scope().SetVersion("1.2.3")
		kinds := []ptrace.SpanKind{ptrace.SpanKindServer, ptrace.SpanKindClient, ptrace.SpanKindInternal, ptrace.SpanKindProducer, ptrace.SpanKindConsumer, ptrace.SpanKindUnspecified}
		for i, kind := range kinds {
			s := ss.Spans().AppendEmpty()
			s.SetTraceID(pcommon.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, byte(0x36 + r)})
			s.SetSpanID(pcommon.SpanID{0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, byte(r), byte(0x02 + i)})
			if i > 0 {
				s.SetParentSpanID(pcommon.SpanID{0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, byte(r), byte(0x01 + i)})
			}
			s.SetName(fmt.Sprintf("/emojivoto.v1.VotingService/Vote%d", i))
			s.SetKind(kind)
			start := t0.Add(time.Duration(i) * time.Millisecond)
			s.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
			s.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(1500+i) * time.Microsecond)))
			s.TraceState().FromRaw("congo=t61rcWkgMzE")
			s.SetFlags(1)
			s.Attributes().PutStr("http.method", "POST")
			s.Attributes().PutInt("http.status_code", int64(200+i))
			s.Attributes().PutDouble("net.sock.peer.weight", 1.5)
			s.Attributes().PutBool("retry", i%2 == 0)
			s.Attributes().PutStr("unicode", "déjà vu ✓")
			switch i % 3 {
			case 0:
				s.Status().SetCode(ptrace.StatusCodeError)
				s.Status().SetMessage("upstream reset")
			case 1:
				s.Status().SetCode(ptrace.StatusCodeOk)
			}
			e := s.Events().AppendEmpty()
			e.SetName("wire send")
			e.SetTimestamp(pcommon.NewTimestampFromTime(start.Add(10 * time.Microsecond)))
			e.Attributes().PutInt("bytes", 512)
			e2 := s.Events().AppendEmpty()
			e2.SetTimestamp(pcommon.NewTimestampFromTime(start.Add(900 * time.Microsecond)))
			if i == 2 {
				l := s.Links().AppendEmpty()
				l.SetTraceID(pcommon.TraceID{0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8})
				l.SetSpanID(pcommon.SpanID{8, 7, 6, 5, 4, 3, 2, 1})
				l.Attributes().PutStr("link.kind", "batch")
			}
			s.SetDroppedAttributesCount(uint32(i))
		}
	}
	return td
}

// ---- Jaeger's model, filled by hand ---------------------------------------------------------

func span(trace model.TraceID, id uint64, name string, start time.Time, d time.Duration, tags ...model.KeyValue) *model.Span {
	return &model.Span{TraceID: trace, SpanID: model.NewSpanID(id), OperationName: name, StartTime: start, Duration: d, Tags: tags, Flags: 1}
}

func tagsBatch() *model.Batch {
	trace := model.NewTraceID(0x1234, 0x5678)
	s := span(trace, 1, "every tag", t0, 3*time.Millisecond,
		model.String("s", "plain"), model.String("empty", ""), model.String("", "no key"), model.String("unicode", "日本語 ✓ é"),
		model.String("long", strings.Repeat("x", 300)), model.String("span.kind", "server"), model.String("otel.status_code", "ERROR"),
		model.String("otel.status_description", "boom"), model.Bool("error", true), model.Bool("f", false),
		model.Int64("zero", 0), model.Int64("max", math.MaxInt64), model.Int64("min", math.MinInt64), model.Int64("neg", -1),
		model.Int64("safe", 1<<53-1), model.Int64("unsafe", 1<<53), model.Float64("pi", math.Pi), model.Float64("negzero", math.Copysign(0, -1)),
		model.Float64("nan", math.NaN()), model.Float64("inf", math.Inf(-1)), model.Binary("bin", []byte{0, 1, 2, 255}), model.Binary("nobin", nil))
	s.Flags = 3
	s.Logs = []model.Log{
		{Timestamp: t0.Add(time.Millisecond), Fields: []model.KeyValue{model.String("event", "retry"), model.Int64("attempt", 2)}},
		{Timestamp: t0.Add(2 * time.Millisecond), Fields: []model.KeyValue{model.String("message", "no event field")}},
		{Timestamp: time.Unix(0, 0), Fields: []model.KeyValue{model.String("event", "at 1970: dropped, the span kept")}},
	}
	s.References = []model.SpanRef{
		model.NewChildOfRef(trace, model.NewSpanID(99)),
		model.NewFollowsFromRef(model.NewTraceID(0, 0xabc), model.NewSpanID(7)),
		model.NewChildOfRef(trace, model.NewSpanID(98)),
	}
	s.ProcessID = "p1"
	s.Warnings = []string{"clock skew adjusted", "ünïcode warning"}
	return &model.Batch{Spans: []*model.Span{s}, Process: model.NewProcess("tags-svc", []model.KeyValue{model.String("hostname", "h1"), model.Int64("pid", 42), model.String("jaeger.version", "Go-2.30.0")})}
}

func ownProcessBatch() *model.Batch {
	trace := model.NewTraceID(0, 0x77)
	a := span(trace, 1, "own process", t0, time.Millisecond, model.String("span.kind", "client"))
	a.Process = model.NewProcess("own-svc", []model.KeyValue{model.String("hostname", "h2"), model.String("service.name", "tag wins")})
	b := span(trace, 2, "batch process", t0, 0)
	b.References = []model.SpanRef{model.NewChildOfRef(trace, model.NewSpanID(1))}
	c := span(trace, 3, "empty process", t0, time.Second)
	c.Process = &model.Process{}
	return &model.Batch{Spans: []*model.Span{a, b, c}}
}

func hundredSpans() *model.Batch {
	var spans []*model.Span
	for i := 0; i < 100; i++ {
		trace := model.NewTraceID(0, uint64(i/10+1))
		s := span(trace, uint64(i+1), []string{"POST /api/vote", "emojivoto.v1.VotingService/VoteDoughnut"}[i%2], t0.Add(time.Duration(i)*13*time.Microsecond), time.Duration(2000-i%10*100)*time.Microsecond,
			model.String("span.kind", []string{"server", "client"}[i%2]), model.String("http.method", "POST"), model.String("http.path", "/api/vote"),
			model.Int64("http.status_code", 200), model.String("node_id", "web-6d5b7b8c9-abcde"), model.String("component", "nginx"))
		if i%10 != 0 {
			s.References = []model.SpanRef{model.NewChildOfRef(trace, model.NewSpanID(uint64(i)))}
		}
		s.Logs = []model.Log{{Timestamp: s.StartTime.Add(10 * time.Microsecond), Fields: []model.KeyValue{model.String("event", "wire send")}}}
		spans = append(spans, s)
	}
	return &model.Batch{Spans: spans, Process: model.NewProcess("web", []model.KeyValue{model.String("ip", "10.42.0.17")})}
}

func refusedBatch() *model.Batch {
	trace := model.NewTraceID(0, 0x99)
	return &model.Batch{
		Spans: []*model.Span{
			span(trace, 1, "good", t0, time.Millisecond),
			span(model.NewTraceID(0, 0), 2, "zero trace ID", t0, time.Millisecond),
			span(trace, 0, "zero span ID", t0, time.Millisecond),
			span(trace, 4, "before 1990", time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC), time.Millisecond),
			span(trace, 5, "good too", t0, time.Millisecond),
		},
		Process: model.NewProcess("refused-svc", nil),
	}
}
