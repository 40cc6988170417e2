{{/*
The collector configs, as deploy/kubernetes/ carries them (test/helm.test.ts parses each with
span-relay's config schema and compares it with the plain manifests').
*/}}

{{- define "span-relay.memoryLimiter" -}}
memory_limiter: { limit_mib: {{ .limitMib }}, spike_limit_mib: {{ .spikeLimitMib }} }
{{- end -}}

{{- define "span-relay.config.single" -}}
{{- $s := .Values.single -}}
receivers:
  {{- include "span-relay.receivers" . | nindent 2 }}
processors:
  {{- include "span-relay.memoryLimiter" $s.memoryLimiter | nindent 2 }}
  join: { storage: file_storage }
  batch:
exporters:
  embedded:
    path: /var/lib/span-relay/traces.db
    retention: { max_age: {{ $s.retention.maxAge }}, max_bytes: {{ int64 $s.retention.maxBytes }} }
extensions:
  health_check:
  file_storage: { directory: /var/lib/span-relay/storage }
service:
  extensions: [health_check, file_storage]
  pipelines:
    traces:
      receivers: [zipkin, opencensus, otlp, jaeger]
      processors: [memory_limiter, join, batch]
      exporters: [embedded]
{{- end -}}

{{/* Routers: every receiver; to the joiners' ring (two-tier) or to the topic (kafka). */}}
{{- define "span-relay.config.router" -}}
{{- $k := .Values.kafka -}}
receivers:
  {{- include "span-relay.receivers" . | nindent 2 }}
processors:
  {{- include "span-relay.memoryLimiter" .Values.router.memoryLimiter | nindent 2 }}
  batch:
exporters:
{{- if eq .Values.layout "kafka" }}
  kafka:
    brokers: {{ include "span-relay.kafkaBrokers" . }}
    client_id: {{ include "span-relay.fullname" . }}-router
    traces: { topic: {{ $k.topic.name }}, encoding: {{ $k.encoding }} }
    partition_traces_by_id: true
    producer: { max_message_bytes: {{ int64 $k.maxMessageBytes }}, required_acks: -1, compression: {{ $k.compression }} }
    sending_queue: { queue_size: {{ int64 $k.queueSize }} }
    retry_on_failure: { max_elapsed_time: 0 }
{{- else }}
  loadbalancing:
    routing_key: traceID
    protocol:
      otlp:
        tls: { insecure: true }
        sending_queue: { queue_size: 100000, sizer: items }
    resolver:
      dns:
        hostname: {{ include "span-relay.fullname" . }}-joiner.{{ .Release.Namespace }}.svc.cluster.local
        port: 4317
        interval: 5s
        timeout: 1s
{{- end }}
extensions:
  health_check:
service:
  extensions: [health_check]
  pipelines:
    traces:
      receivers: [zipkin, opencensus, otlp, jaeger]
      processors: [memory_limiter, batch]
      exporters: [{{ ternary "kafka" "loadbalancing" (eq .Values.layout "kafka") }}]
{{- end -}}

{{/* Joiners: from the routers over OTLP (two-tier) or from the topic in one group (kafka); the join on disk; to Jaeger. */}}
{{- define "span-relay.config.joiner" -}}
{{- $k := .Values.kafka -}}
{{- $j := .Values.joiner -}}
receivers:
{{- if eq .Values.layout "kafka" }}
  kafka:
    brokers: {{ include "span-relay.kafkaBrokers" . }}
    client_id: {{ include "span-relay.fullname" . }}-joiner
    traces: { topic: {{ $k.topic.name }}, encoding: {{ $k.encoding }} }
    group_id: {{ $k.groupId }}
    initial_offset: {{ $k.initialOffset }}
{{- else }}
  otlp:
    protocols:
      grpc:
{{- end }}
processors:
  {{- include "span-relay.memoryLimiter" $j.memoryLimiter | nindent 2 }}
  join: { storage: file_storage }
  batch:
exporters:
  otlp/jaeger:
    endpoint: {{ include "span-relay.jaegerEndpoint" . }}
    {{- if or .Values.jaeger.enabled .Values.jaeger.insecure }}
    tls: { insecure: true }
    {{- end }}
    sending_queue: { storage: file_storage, sizer: bytes, queue_size: {{ int64 $j.queueBytes }} }
    retry_on_failure: { max_elapsed_time: 0 }
extensions:
  health_check:
  file_storage: { directory: /var/lib/span-relay/storage, max_size: {{ int64 $j.storageMaxBytes }} }
service:
  extensions: [health_check, file_storage]
  pipelines:
    traces:
      receivers: [{{ ternary "kafka" "otlp" (eq .Values.layout "kafka") }}]
      processors: [memory_limiter, join, batch]
      exporters: [otlp/jaeger]
{{- end -}}
