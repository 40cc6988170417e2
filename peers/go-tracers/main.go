// go-tracers: tracers others wrote, in Go, each sending one small trace to span-relay in its default
// transport, then printing on stdout, as JSON, what it sent: the export requests it put on the wire,
// caught on their way out (a gRPC interceptor, an HTTP round tripper) and decoded with the tracer's
// own protobuf types. collector/test/tracers-go.test.ts compares them with what span-relay passes on.
//
//	go-tracers otlp-grpc HOST:PORT   OpenTelemetry Go SDK, otlptracegrpc (insecure)
//	go-tracers otlp-http HOST:PORT   OpenTelemetry Go SDK, otlptracehttp (insecure, protobuf)
//	go-tracers ocagent HOST:PORT     OpenCensus Go with the ocagent exporter, ochttp and ocgrpc
//	                                 plugin spans on loopback: what emojivoto's services send with
//	                                 OC_AGENT_HOST set
//
// Exit status 1, with the reason on stderr, when the tracer reports a failed export or sent no spans.
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"contrib.go.opencensus.io/exporter/ocagent"
	occommonpb "github.com/census-instrumentation/opencensus-proto/gen-go/agent/common/v1"
	agenttracepb "github.com/census-instrumentation/opencensus-proto/gen-go/agent/trace/v1"
	ocresourcepb "github.com/census-instrumentation/opencensus-proto/gen-go/resource/v1"
	ocpb "github.com/census-instrumentation/opencensus-proto/gen-go/trace/v1"
	"go.opencensus.io/plugin/ocgrpc"
	"go.opencensus.io/plugin/ochttp"
	octrace "go.opencensus.io/trace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	oteltrace "go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: go-tracers otlp-grpc|otlp-http|ocagent HOST:PORT")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var sent any
	var err error
	switch os.Args[1] {
	case "otlp-grpc", "otlp-http":
		sent, err = otlpTrace(ctx, os.Args[1], os.Args[2])
	case "ocagent":
		sent, err = ocagentTrace(ctx, os.Args[2])
	default:
		err = fmt.Errorf("no subcommand %q (otlp-grpc, otlp-http, ocagent)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-tracers:", err)
		os.Exit(1)
	}
	out := json.NewEncoder(os.Stdout)
	out.SetIndent("", "  ")
	if err := out.Encode(sent); err != nil {
		fmt.Fprintln(os.Stderr, "go-tracers:", err)
		os.Exit(1)
	}
}

var errNothingSent = errors.New("the tracer sent no spans")

// modules names each module with the version this binary was built with (its go.mod's pin).
func modules(paths ...string) string {
	versions := map[string]string{}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			versions[dep.Path] = dep.Version
		}
	}
	var out []string
	for _, p := range paths {
		out = append(out, p+" "+versions[p])
	}
	return strings.Join(out, ", ")
}

func hexID(b []byte) string { return hex.EncodeToString(b) }

// unixNano as a decimal string: nanoseconds since 1970 pass 2^53, beyond what a JSON number keeps.
func unixNano(ns uint64) string { return strconv.FormatUint(ns, 10) }

// ---- OpenTelemetry Go SDK, OTLP gRPC and HTTP -------------------------------------------------

// otlpSent is what an OTLP exporter sent: its requests' spans, each with its resource and scope,
// in the shape of OTLP/JSON but with IDs in hex (as the OTLP/JSON spec writes them).
type otlpSent struct {
	Tracer   string         `json:"tracer"`
	Requests int            `json:"requests"`
	Spans    []otlpSentSpan `json:"spans"`
}

type otlpSentSpan struct {
	ResourceSchemaURL              string         `json:"resourceSchemaUrl,omitempty"`
	Resource                       map[string]any `json:"resource"`
	ResourceDroppedAttributesCount uint32         `json:"resourceDroppedAttributesCount,omitempty"`
	ScopeSchemaURL                 string         `json:"scopeSchemaUrl,omitempty"`
	Scope                          otlpScope      `json:"scope"`
	TraceID                        string         `json:"traceId"`
	SpanID                         string         `json:"spanId"`
	ParentSpanID                   string         `json:"parentSpanId,omitempty"`
	TraceState                     string         `json:"traceState,omitempty"`
	Flags                          uint32         `json:"flags,omitempty"`
	Name                           string         `json:"name"`
	Kind                           string         `json:"kind"`
	StartTimeUnixNano              string         `json:"startTimeUnixNano"`
	EndTimeUnixNano                string         `json:"endTimeUnixNano"`
	Attributes                     map[string]any `json:"attributes"`
	DroppedAttributesCount         uint32         `json:"droppedAttributesCount,omitempty"`
	Events                         []otlpEvent    `json:"events"`
	DroppedEventsCount             uint32         `json:"droppedEventsCount,omitempty"`
	Links                          []otlpLink     `json:"links"`
	DroppedLinksCount              uint32         `json:"droppedLinksCount,omitempty"`
	Status                         otlpStatus     `json:"status"`
}

type otlpScope struct {
	Name                   string         `json:"name"`
	Version                string         `json:"version,omitempty"`
	Attributes             map[string]any `json:"attributes"`
	DroppedAttributesCount uint32         `json:"droppedAttributesCount,omitempty"`
}

type otlpEvent struct {
	TimeUnixNano           string         `json:"timeUnixNano"`
	Name                   string         `json:"name"`
	Attributes             map[string]any `json:"attributes"`
	DroppedAttributesCount uint32         `json:"droppedAttributesCount,omitempty"`
}

type otlpLink struct {
	TraceID                string         `json:"traceId"`
	SpanID                 string         `json:"spanId"`
	TraceState             string         `json:"traceState,omitempty"`
	Flags                  uint32         `json:"flags,omitempty"`
	Attributes             map[string]any `json:"attributes"`
	DroppedAttributesCount uint32         `json:"droppedAttributesCount,omitempty"`
}

type otlpStatus struct {
	Code    string `json:"code"`
	Message string `json:"message,omitempty"`
}

// otlpRecorder keeps the export requests the server accepted, as they went out.
type otlpRecorder struct {
	mu       sync.Mutex
	requests []*coltracepb.ExportTraceServiceRequest
}

func (r *otlpRecorder) keep(req *coltracepb.ExportTraceServiceRequest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = append(r.requests, req)
}

// grpcInterceptor sees each TraceService/Export call of otlptracegrpc.
func (r *otlpRecorder) grpcInterceptor(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	err := invoker(ctx, method, req, reply, cc, opts...)
	if export, ok := req.(*coltracepb.ExportTraceServiceRequest); ok && err == nil {
		r.keep(proto.Clone(export).(*coltracepb.ExportTraceServiceRequest))
	}
	return err
}

// roundTripper sees each POST of otlptracehttp and decodes its protobuf body.
type otlpRoundTripper struct {
	rec  *otlpRecorder
	next http.RoundTripper
}

func (t otlpRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	res, err := t.next.RoundTrip(req)
	if err != nil || res.StatusCode != http.StatusOK {
		return res, err
	}
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, zerr := gzip.NewReader(bytes.NewReader(body))
		if zerr != nil {
			return nil, zerr
		}
		if body, zerr = io.ReadAll(zr); zerr != nil {
			return nil, zerr
		}
	}
	export := &coltracepb.ExportTraceServiceRequest{}
	if err := proto.Unmarshal(body, export); err != nil {
		return nil, fmt.Errorf("otlptracehttp sent a body that is not an ExportTraceServiceRequest: %w", err)
	}
	t.rec.keep(export)
	return res, nil
}

func otlpTrace(ctx context.Context, transport, addr string) (any, error) {
	rec := &otlpRecorder{}
	var exporter *otlptrace.Exporter
	var err error
	if transport == "otlp-grpc" {
		exporter, err = otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(addr), otlptracegrpc.WithInsecure(),
			otlptracegrpc.WithDialOption(grpc.WithUnaryInterceptor(rec.grpcInterceptor)))
	} else {
		exporter, err = otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(addr), otlptracehttp.WithInsecure(),
			otlptracehttp.WithHTTPClient(&http.Client{Transport: otlpRoundTripper{rec, http.DefaultTransport}}))
	}
	if err != nil {
		return nil, err
	}
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithProcessPID(),
		resource.WithAttributes(
			attribute.String("service.name", "go-"+transport),
			attribute.String("service.version", "1.4.2"),
			attribute.String("deployment.environment.name", "ci"),
		))
	if err != nil {
		return nil, err
	}
	provider := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res))
	tracer := provider.Tracer("span-relay/peers/go-tracers", oteltrace.WithInstrumentationVersion("0.3.1"))

	// A link to a span of another trace, as a consumer takes it from a message's headers.
	linkState, err := oteltrace.ParseTraceState("vendor=abc,other=x1")
	if err != nil {
		return nil, err
	}
	linked := oteltrace.NewSpanContext(oteltrace.SpanContextConfig{
		TraceID:    oteltrace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     oteltrace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: oteltrace.FlagsSampled,
		TraceState: linkState,
		Remote:     true,
	})

	rootCtx, root := tracer.Start(ctx, "GET /api/vote", oteltrace.WithSpanKind(oteltrace.SpanKindServer),
		oteltrace.WithAttributes(
			attribute.String("http.request.method", "GET"),
			attribute.String("url.path", "/api/vote"),
			attribute.StringSlice("http.request.header.accept", []string{"application/json", "text/plain"}),
		))
	_, child := tracer.Start(rootCtx, "VotingService/VoteDoughnut", oteltrace.WithSpanKind(oteltrace.SpanKindClient),
		oteltrace.WithLinks(oteltrace.Link{SpanContext: linked, Attributes: []attribute.KeyValue{attribute.String("link.reason", "batched vote"), attribute.Int64("link.index", 3)}}),
		oteltrace.WithAttributes(
			attribute.String("rpc.system", "grpc"),
			attribute.Int64("rpc.grpc.status_code", 2),
			attribute.Float64("retry.backoff_ratio", 0.25),
			attribute.Bool("cache.hit", false),
			attribute.Int64Slice("retry.delays_ms", []int64{20, 40}),
		))
	child.AddEvent("retry", oteltrace.WithAttributes(attribute.Int64("attempt", 2), attribute.Float64("backoff_ms", 20.5), attribute.Bool("last", true), attribute.String("reason", "unavailable")))
	child.RecordError(errors.New("doughnut is out of stock"))
	child.SetStatus(codes.Error, "doughnut is out of stock")
	child.End()
	_, render := tracer.Start(rootCtx, "render leaderboard", oteltrace.WithSpanKind(oteltrace.SpanKindInternal))
	render.SetAttributes(attribute.Int64("leaderboard.rows", 7))
	render.End()
	root.SetAttributes(attribute.Int64("http.response.status_code", 200))
	root.SetStatus(codes.Ok, "")
	root.End()

	if err := provider.ForceFlush(ctx); err != nil {
		return nil, fmt.Errorf("%s: flush: %w", transport, err)
	}
	if err := provider.Shutdown(ctx); err != nil {
		return nil, fmt.Errorf("%s: shutdown: %w", transport, err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	exporterModule := "go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	if transport == "otlp-http" {
		exporterModule = "go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	}
	sent := otlpSent{Tracer: modules("go.opentelemetry.io/otel/sdk", exporterModule), Requests: len(rec.requests), Spans: []otlpSentSpan{}}
	for _, req := range rec.requests {
		sent.Spans = append(sent.Spans, otlpSpans(req)...)
	}
	if len(sent.Spans) == 0 {
		return nil, errNothingSent
	}
	return sent, nil
}

func otlpSpans(req *coltracepb.ExportTraceServiceRequest) []otlpSentSpan {
	var out []otlpSentSpan
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				span := otlpSentSpan{
					ResourceSchemaURL:              rs.GetSchemaUrl(),
					Resource:                       otlpAttributes(rs.GetResource().GetAttributes()),
					ResourceDroppedAttributesCount: rs.GetResource().GetDroppedAttributesCount(),
					ScopeSchemaURL:                 ss.GetSchemaUrl(),
					Scope: otlpScope{
						Name:                   ss.GetScope().GetName(),
						Version:                ss.GetScope().GetVersion(),
						Attributes:             otlpAttributes(ss.GetScope().GetAttributes()),
						DroppedAttributesCount: ss.GetScope().GetDroppedAttributesCount(),
					},
					TraceID:                hexID(s.GetTraceId()),
					SpanID:                 hexID(s.GetSpanId()),
					ParentSpanID:           hexID(s.GetParentSpanId()),
					TraceState:             s.GetTraceState(),
					Flags:                  s.GetFlags(),
					Name:                   s.GetName(),
					Kind:                   s.GetKind().String(),
					StartTimeUnixNano:      unixNano(s.GetStartTimeUnixNano()),
					EndTimeUnixNano:        unixNano(s.GetEndTimeUnixNano()),
					Attributes:             otlpAttributes(s.GetAttributes()),
					DroppedAttributesCount: s.GetDroppedAttributesCount(),
					Events:                 []otlpEvent{},
					DroppedEventsCount:     s.GetDroppedEventsCount(),
					Links:                  []otlpLink{},
					DroppedLinksCount:      s.GetDroppedLinksCount(),
					Status:                 otlpStatus{Code: s.GetStatus().GetCode().String(), Message: s.GetStatus().GetMessage()},
				}
				for _, e := range s.GetEvents() {
					span.Events = append(span.Events, otlpEvent{
						TimeUnixNano:           unixNano(e.GetTimeUnixNano()),
						Name:                   e.GetName(),
						Attributes:             otlpAttributes(e.GetAttributes()),
						DroppedAttributesCount: e.GetDroppedAttributesCount(),
					})
				}
				for _, l := range s.GetLinks() {
					span.Links = append(span.Links, otlpLink{
						TraceID:                hexID(l.GetTraceId()),
						SpanID:                 hexID(l.GetSpanId()),
						TraceState:             l.GetTraceState(),
						Flags:                  l.GetFlags(),
						Attributes:             otlpAttributes(l.GetAttributes()),
						DroppedAttributesCount: l.GetDroppedAttributesCount(),
					})
				}
				out = append(out, span)
			}
		}
	}
	return out
}

// otlpAttributes as OTLP/JSON writes AnyValues: {"stringValue": ...}, {"intValue": "42"} (a string:
// int64 passes what a JSON number keeps), {"doubleValue": 1.5}, {"boolValue": true},
// {"arrayValue": {"values": [...]}}, {"kvlistValue": {"values": {...}}}, {"bytesValue": hex}.
func otlpAttributes(kvs []*commonpb.KeyValue) map[string]any {
	out := map[string]any{}
	for _, kv := range kvs {
		out[kv.GetKey()] = otlpValue(kv.GetValue())
	}
	return out
}

func otlpValue(v *commonpb.AnyValue) map[string]any {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return map[string]any{"stringValue": x.StringValue}
	case *commonpb.AnyValue_IntValue:
		return map[string]any{"intValue": strconv.FormatInt(x.IntValue, 10)}
	case *commonpb.AnyValue_DoubleValue:
		return map[string]any{"doubleValue": x.DoubleValue}
	case *commonpb.AnyValue_BoolValue:
		return map[string]any{"boolValue": x.BoolValue}
	case *commonpb.AnyValue_BytesValue:
		return map[string]any{"bytesValue": hexID(x.BytesValue)}
	case *commonpb.AnyValue_ArrayValue:
		values := []any{}
		for _, e := range x.ArrayValue.GetValues() {
			values = append(values, otlpValue(e))
		}
		return map[string]any{"arrayValue": map[string]any{"values": values}}
	case *commonpb.AnyValue_KvlistValue:
		return map[string]any{"kvlistValue": map[string]any{"values": otlpAttributes(x.KvlistValue.GetValues())}}
	}
	return map[string]any{}
}

// ---- OpenCensus Go, ocagent: emojivoto's tracing stack ----------------------------------------

// ocSent is what the ocagent exporter sent on its TraceService/Export stream, in the agent
// protocol's own terms (IDs in hex, times in unix nanoseconds).
type ocSent struct {
	Tracer   string      `json:"tracer"`
	Messages []ocMessage `json:"messages"`
	// From the first message that had them: the stream's node and resource.
	Node     *ocNode     `json:"node"`
	Resource *ocResource `json:"resource"`
	Spans    []ocSpan    `json:"spans"`
}

type ocMessage struct {
	Node     bool `json:"node"`
	Resource bool `json:"resource"`
	Spans    int  `json:"spans"`
}

type ocNode struct {
	HostName           string            `json:"hostName"`
	Pid                uint32            `json:"pid"`
	StartTimeUnixNano  string            `json:"startTimeUnixNano"`
	Language           string            `json:"language"`
	ExporterVersion    string            `json:"exporterVersion"`
	CoreLibraryVersion string            `json:"coreLibraryVersion"`
	ServiceName        string            `json:"serviceName"`
	Attributes         map[string]string `json:"attributes"`
}

type ocResource struct {
	Type   string            `json:"type"`
	Labels map[string]string `json:"labels"`
}

type ocSpan struct {
	TraceID                   string         `json:"traceId"`
	SpanID                    string         `json:"spanId"`
	ParentSpanID              string         `json:"parentSpanId,omitempty"`
	Tracestate                string         `json:"tracestate,omitempty"`
	Name                      string         `json:"name"`
	Kind                      string         `json:"kind"`
	StartTimeUnixNano         string         `json:"startTimeUnixNano"`
	EndTimeUnixNano           string         `json:"endTimeUnixNano"`
	Attributes                map[string]any `json:"attributes"`
	DroppedAttributesCount    int32          `json:"droppedAttributesCount,omitempty"`
	TimeEvents                []ocTimeEvent  `json:"timeEvents"`
	DroppedAnnotationsCount   int32          `json:"droppedAnnotationsCount,omitempty"`
	DroppedMessageEventsCount int32          `json:"droppedMessageEventsCount,omitempty"`
	Links                     []ocLink       `json:"links"`
	DroppedLinksCount         int32          `json:"droppedLinksCount,omitempty"`
	Status                    *ocStatus      `json:"status,omitempty"`
	SameProcessAsParentSpan   *bool          `json:"sameProcessAsParentSpan,omitempty"`
	ChildSpanCount            *uint32        `json:"childSpanCount,omitempty"`
	Resource                  *ocResource    `json:"resource,omitempty"`
}

type ocTimeEvent struct {
	TimeUnixNano string          `json:"timeUnixNano"`
	Annotation   *ocAnnotation   `json:"annotation,omitempty"`
	MessageEvent *ocMessageEvent `json:"messageEvent,omitempty"`
}

type ocAnnotation struct {
	Description string         `json:"description"`
	Attributes  map[string]any `json:"attributes"`
}

// ocMessageEvent's numbers are uint64 on the wire, written as decimal strings: ochttp sends a
// compressed size of -1 (unknown), which the uint64 makes 2^64-1, past what a JSON number keeps.
type ocMessageEvent struct {
	Type             string `json:"type"`
	ID               string `json:"id"`
	UncompressedSize string `json:"uncompressedSize"`
	CompressedSize   string `json:"compressedSize"`
}

type ocLink struct {
	TraceID    string         `json:"traceId"`
	SpanID     string         `json:"spanId"`
	Type       string         `json:"type"`
	Tracestate string         `json:"tracestate,omitempty"`
	Attributes map[string]any `json:"attributes"`
}

type ocStatus struct {
	Code    int32  `json:"code"`
	Message string `json:"message,omitempty"`
}

// ocRecorder keeps the messages the exporter sends on its trace Export stream.
type ocRecorder struct {
	mu       sync.Mutex
	messages []*agenttracepb.ExportTraceServiceRequest
}

const ocExportMethod = "/opencensus.proto.agent.trace.v1.TraceService/Export"

func (r *ocRecorder) interceptor(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	s, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil || method != ocExportMethod {
		return s, err
	}
	return ocRecordingStream{s, r}, nil
}

type ocRecordingStream struct {
	grpc.ClientStream
	rec *ocRecorder
}

func (s ocRecordingStream) SendMsg(m any) error {
	err := s.ClientStream.SendMsg(m)
	if req, ok := m.(*agenttracepb.ExportTraceServiceRequest); ok && err == nil {
		s.rec.mu.Lock()
		// ocagent makes a request for each send and keeps none: no copy needed.
		s.rec.messages = append(s.rec.messages, req)
		s.rec.mu.Unlock()
	}
	return err
}

// endedSpans is a second OpenCensus exporter: it tells when the trace's spans have all ended (the
// server halves end after their answers are written, so after the client has read them).
type endedSpans struct {
	mu    sync.Mutex
	spans []*octrace.SpanData
	added chan struct{}
}

func (e *endedSpans) ExportSpan(s *octrace.SpanData) {
	e.mu.Lock()
	e.spans = append(e.spans, s)
	e.mu.Unlock()
	select {
	case e.added <- struct{}{}:
	default:
	}
}

// wait returns once cond holds for the spans ended so far.
func (e *endedSpans) wait(ctx context.Context, what string, cond func([]*octrace.SpanData) bool) error {
	for {
		e.mu.Lock()
		ok := cond(e.spans)
		e.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-e.added:
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			return fmt.Errorf("ocagent: waiting for %s: %w", what, ctx.Err())
		}
	}
}

// votingService stands for emojivoto's voting service, on a gRPC service the gRPC module ships
// (grpc.health.v1.Health): its Check fails as emojivoto's VoteDoughnut does.
type votingService struct {
	healthpb.UnimplementedHealthServer
}

func (votingService) Check(ctx context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	_, span := octrace.StartSpan(ctx, "FindByShortcode")
	defer span.End()
	span.AddAttributes(
		octrace.StringAttribute("emoji.shortcode", req.GetService()),
		octrace.Int64Attribute("emoji.votes", 42),
		octrace.Float64Attribute("emoji.ratio", 0.25),
		octrace.BoolAttribute("emoji.found", false),
	)
	span.Annotate([]octrace.Attribute{
		octrace.StringAttribute("store", "in-memory"),
		octrace.Int64Attribute("size", 88),
		octrace.BoolAttribute("cold", true),
	}, "lookup")
	span.AddLink(octrace.Link{
		TraceID:    octrace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     octrace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		Type:       octrace.LinkTypeParent,
		Attributes: map[string]any{"link.reason": "batched vote"},
	})
	span.SetStatus(octrace.Status{Code: octrace.StatusCodeNotFound, Message: "no emoji " + req.GetService()})
	return nil, status.Error(grpccodes.Internal, "doughnut is out of stock")
}

func ocagentTrace(ctx context.Context, addr string) (any, error) {
	octrace.ApplyConfig(octrace.Config{DefaultSampler: octrace.AlwaysSample()})
	rec := &ocRecorder{}
	exporter, err := ocagent.NewExporter(
		ocagent.WithInsecure(),
		ocagent.WithReconnectionPeriod(5*time.Second),
		ocagent.WithAddress(addr),
		ocagent.WithServiceName("web"),
		ocagent.WithGRPCDialOption(grpc.WithStreamInterceptor(rec.interceptor)),
	)
	if err != nil {
		return nil, err
	}
	octrace.RegisterExporter(exporter)
	ended := &endedSpans{added: make(chan struct{}, 1)}
	octrace.RegisterExporter(ended)

	// The voting service: gRPC with ocgrpc's server handler.
	grpcListener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	grpcServer := grpc.NewServer(grpc.StatsHandler(&ocgrpc.ServerHandler{}))
	healthpb.RegisterHealthServer(grpcServer, votingService{})
	go func() { _ = grpcServer.Serve(grpcListener) }()
	defer grpcServer.Stop()
	conn, err := grpc.NewClient(grpcListener.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithStatsHandler(&ocgrpc.ClientHandler{}))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	voting := healthpb.NewHealthClient(conn)

	// The web service: HTTP with ochttp's handler, calling the voting service.
	mux := http.NewServeMux()
	mux.HandleFunc("/api/vote", func(w http.ResponseWriter, r *http.Request) {
		if _, err := voting.Check(r.Context(), &healthpb.HealthCheckRequest{Service: r.URL.Query().Get("choice")}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "{}")
	})
	httpListener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	httpServer := &http.Server{Handler: &ochttp.Handler{Handler: mux}, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = httpServer.Serve(httpListener) }()
	defer httpServer.Close()

	// The vote bot: an HTTP client with ochttp's transport; its span is the trace's root.
	bot := &http.Client{Transport: &ochttp.Transport{}, Timeout: 10 * time.Second}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+httpListener.Addr().String()+"/api/vote?choice=:doughnut:", nil)
	if err != nil {
		return nil, err
	}
	res, err := bot.Do(req)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()

	// bot → web (ochttp client, server), web → voting (ocgrpc client, server), the lookup.
	var root *octrace.SpanData
	if err := ended.wait(ctx, "the bot's span", func(spans []*octrace.SpanData) bool {
		for _, s := range spans {
			if s.ParentSpanID == (octrace.SpanID{}) && s.SpanKind == octrace.SpanKindClient && s.Name == "/api/vote" {
				root = s
				return true
			}
		}
		return false
	}); err != nil {
		return nil, err
	}
	if err := ended.wait(ctx, "the trace's five spans", func(spans []*octrace.SpanData) bool {
		n := 0
		for _, s := range spans {
			if s.TraceID == root.TraceID {
				n++
			}
		}
		return n >= 5
	}); err != nil {
		return nil, err
	}
	exporter.Flush()
	if err := exporter.Stop(); err != nil {
		return nil, fmt.Errorf("ocagent: stop: %w", err)
	}

	rec.mu.Lock()
	defer rec.mu.Unlock()
	sent := ocSent{Tracer: modules("go.opencensus.io", "contrib.go.opencensus.io/exporter/ocagent"), Messages: []ocMessage{}, Spans: []ocSpan{}}
	for _, m := range rec.messages {
		sent.Messages = append(sent.Messages, ocMessage{Node: m.GetNode() != nil, Resource: m.GetResource() != nil, Spans: len(m.GetSpans())})
		if sent.Node == nil && m.GetNode() != nil {
			sent.Node = ocNodeOf(m.GetNode())
		}
		if sent.Resource == nil && m.GetResource() != nil {
			sent.Resource = ocResourceOf(m.GetResource())
		}
		for _, s := range m.GetSpans() {
			sent.Spans = append(sent.Spans, ocSpanOf(s))
		}
	}
	if len(sent.Spans) == 0 {
		return nil, errNothingSent
	}
	return sent, nil
}

func ocNodeOf(n *occommonpb.Node) *ocNode {
	return &ocNode{
		HostName:           n.GetIdentifier().GetHostName(),
		Pid:                n.GetIdentifier().GetPid(),
		StartTimeUnixNano:  ocTime(n.GetIdentifier().GetStartTimestamp()),
		Language:           n.GetLibraryInfo().GetLanguage().String(),
		ExporterVersion:    n.GetLibraryInfo().GetExporterVersion(),
		CoreLibraryVersion: n.GetLibraryInfo().GetCoreLibraryVersion(),
		ServiceName:        n.GetServiceInfo().GetName(),
		Attributes:         orEmpty(n.GetAttributes()),
	}
}

func ocResourceOf(r *ocresourcepb.Resource) *ocResource {
	return &ocResource{Type: r.GetType(), Labels: orEmpty(r.GetLabels())}
}

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func ocTime(t *timestamppb.Timestamp) string {
	if t == nil {
		return ""
	}
	return strconv.FormatInt(t.GetSeconds()*1_000_000_000+int64(t.GetNanos()), 10)
}

func ocTracestate(ts *ocpb.Span_Tracestate) string {
	var out []string
	for _, e := range ts.GetEntries() {
		out = append(out, e.GetKey()+"="+e.GetValue())
	}
	return strings.Join(out, ",")
}

func ocAttributes(a *ocpb.Span_Attributes) map[string]any {
	out := map[string]any{}
	for k, v := range a.GetAttributeMap() {
		switch x := v.GetValue().(type) {
		case *ocpb.AttributeValue_StringValue:
			out[k] = map[string]any{"stringValue": x.StringValue.GetValue()}
		case *ocpb.AttributeValue_IntValue:
			out[k] = map[string]any{"intValue": strconv.FormatInt(x.IntValue, 10)}
		case *ocpb.AttributeValue_BoolValue:
			out[k] = map[string]any{"boolValue": x.BoolValue}
		case *ocpb.AttributeValue_DoubleValue:
			out[k] = map[string]any{"doubleValue": x.DoubleValue}
		}
	}
	return out
}

func ocSpanOf(s *ocpb.Span) ocSpan {
	span := ocSpan{
		TraceID:                hexID(s.GetTraceId()),
		SpanID:                 hexID(s.GetSpanId()),
		Tracestate:             ocTracestate(s.GetTracestate()),
		Name:                   s.GetName().GetValue(),
		Kind:                   s.GetKind().String(),
		StartTimeUnixNano:      ocTime(s.GetStartTime()),
		EndTimeUnixNano:        ocTime(s.GetEndTime()),
		Attributes:             ocAttributes(s.GetAttributes()),
		DroppedAttributesCount: s.GetAttributes().GetDroppedAttributesCount(),
		TimeEvents:             []ocTimeEvent{},
		Links:                  []ocLink{},
		DroppedLinksCount:      s.GetLinks().GetDroppedLinksCount(),
	}
	// ocagent sends the eight zero bytes of an unset parent: the wire's "no parent".
	if p := s.GetParentSpanId(); len(p) > 0 && !bytes.Equal(p, make([]byte, len(p))) {
		span.ParentSpanID = hexID(p)
	}
	if te := s.GetTimeEvents(); te != nil {
		span.DroppedAnnotationsCount = te.GetDroppedAnnotationsCount()
		span.DroppedMessageEventsCount = te.GetDroppedMessageEventsCount()
		for _, e := range te.GetTimeEvent() {
			event := ocTimeEvent{TimeUnixNano: ocTime(e.GetTime())}
			if a := e.GetAnnotation(); a != nil {
				event.Annotation = &ocAnnotation{Description: a.GetDescription().GetValue(), Attributes: ocAttributes(a.GetAttributes())}
			}
			if m := e.GetMessageEvent(); m != nil {
				event.MessageEvent = &ocMessageEvent{
					Type:             m.GetType().String(),
					ID:               strconv.FormatUint(m.GetId(), 10),
					UncompressedSize: strconv.FormatUint(m.GetUncompressedSize(), 10),
					CompressedSize:   strconv.FormatUint(m.GetCompressedSize(), 10),
				}
			}
			span.TimeEvents = append(span.TimeEvents, event)
		}
	}
	for _, l := range s.GetLinks().GetLink() {
		span.Links = append(span.Links, ocLink{TraceID: hexID(l.GetTraceId()), SpanID: hexID(l.GetSpanId()), Type: l.GetType().String(), Tracestate: ocTracestate(l.GetTracestate()), Attributes: ocAttributes(l.GetAttributes())})
	}
	if st := s.GetStatus(); st != nil {
		span.Status = &ocStatus{Code: st.GetCode(), Message: st.GetMessage()}
	}
	if sp := s.GetSameProcessAsParentSpan(); sp != nil {
		v := sp.GetValue()
		span.SameProcessAsParentSpan = &v
	}
	if c := s.GetChildSpanCount(); c != nil {
		v := c.GetValue()
		span.ChildSpanCount = &v
	}
	if r := s.GetResource(); r != nil {
		span.Resource = ocResourceOf(r)
	}
	return span
}
