{{/* The name every object starts with: the release name when it contains the chart's. */}}
{{- define "span-relay.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 56 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 56 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 56 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "span-relay.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "span-relay.serviceAccountName" -}}
{{- default (include "span-relay.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{/* Selector labels: name, instance and (for routers and joiners) component. Call with (list $ "router"). */}}
{{- define "span-relay.selectorLabels" -}}
{{- $ := index . 0 -}}
app.kubernetes.io/name: {{ include "span-relay.name" $ }}
app.kubernetes.io/instance: {{ $.Release.Name }}
{{- with index . 1 }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end -}}

{{- define "span-relay.labels" -}}
{{ include "span-relay.selectorLabels" . }}
{{ include "span-relay.helmLabels" (index . 0) }}
{{- end -}}

{{/* What Helm adds to every object's labels (not to selectors). */}}
{{- define "span-relay.helmLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "span-relay.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* The Kafka brokers: kafka.brokers, else the Strimzi cluster's bootstrap Service. */}}
{{- define "span-relay.kafkaBrokers" -}}
{{- $t := .Values.kafka.topic -}}
{{- $brokers := .Values.kafka.brokers | default (list (printf "%s-kafka-bootstrap.%s.svc.cluster.local:9092" $t.cluster $t.namespace)) -}}
[{{ join ", " $brokers }}]
{{- end -}}

{{/* Where the joiners export: the chart's Jaeger, or jaeger.endpoint. */}}
{{- define "span-relay.jaegerEndpoint" -}}
{{- if .Values.jaeger.enabled -}}
{{ .Values.jaeger.name }}.{{ .Release.Namespace }}.svc.cluster.local:4317
{{- else -}}
{{ required "jaeger.endpoint: where the joiners send OTLP gRPC (host:port), since jaeger.enabled is false" .Values.jaeger.endpoint }}
{{- end -}}
{{- end -}}

{{/*
The span-relay container: image, args, its ports (`ports`, then admin, then `after`: lists of
(name number)), probes on the admin port, resources and the config mount (plus data when the pod
has storage). Call with (dict "root" $ "ports" (list ...) "after" (list ...) "resources" ... "data" true).
*/}}
{{- define "span-relay.container" -}}
- name: span-relay
  image: {{ include "span-relay.image" .root }}
  {{- with .root.Values.image.pullPolicy }}
  imagePullPolicy: {{ . }}
  {{- end }}
  args: [run, --config, /etc/span-relay/config.yaml]
  ports:
    {{- range .ports }}
    - { name: {{ index . 0 }}, containerPort: {{ index . 1 }} }
    {{- end }}
    - { name: admin, containerPort: 8888 }
    {{- range .after }}
    - { name: {{ index . 0 }}, containerPort: {{ index . 1 }} }
    {{- end }}
  readinessProbe: { httpGet: { path: /readyz, port: admin } }
  livenessProbe: { httpGet: { path: /healthz, port: admin }, initialDelaySeconds: 10 }
  resources:
    {{- toYaml .resources | nindent 4 }}
  volumeMounts:
    - { name: config, mountPath: /etc/span-relay }
    {{- if .data }}
    - { name: data, mountPath: /var/lib/span-relay }
    {{- end }}
{{- end -}}

{{/* The ports every receiving collector listens on (single-tier and routers), as (name port) pairs. */}}
{{- define "span-relay.receiverPorts" -}}
{{- list (list "otlp-grpc" 4317) (list "otlp-http" 4318) (list "zipkin" 9411) (list "opencensus" 55678) (list "jaeger-grpc" 14250) (list "jaeger-http" 14268) | toJson -}}
{{- end -}}

{{/* The pod template's metadata: labels, the Linkerd annotation, a checksum of the config (a change rolls the pods). */}}
{{- define "span-relay.podMetadata" -}}
labels:
  {{- include "span-relay.selectorLabels" (list .root .component) | nindent 2 }}
annotations:
  checksum/config: {{ .config | sha256sum }}
  {{- with .root.Values.linkerd.inject }}
  linkerd.io/inject: {{ . }}
  {{- end }}
  {{- with .extra }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end -}}

{{/* The receivers a receiving collector runs: every protocol. */}}
{{- define "span-relay.receivers" -}}
zipkin:
opencensus:
otlp:
  protocols:
    grpc:
    http:
jaeger:
  protocols:
    grpc:
    thrift_http:
{{- end -}}

{{- define "span-relay.volumeClaim" -}}
volumeClaimTemplates:
  - metadata: { name: data }
    spec:
      accessModes: [ReadWriteOnce]
      {{- with .storageClassName }}
      storageClassName: {{ . }}
      {{- end }}
      resources: { requests: { storage: {{ .storage }} } }
{{- end -}}
