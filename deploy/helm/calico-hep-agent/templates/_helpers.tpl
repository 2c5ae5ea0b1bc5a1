{{/* The chart name, or nameOverride. */}}
{{- define "calico-hep-agent.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The base of every object name: fullnameOverride, else the release name when it already contains the
chart name (release "calico-hep-agent" gives "calico-hep-agent", as in the kustomize base), else
"<release>-<name>". 52 characters leave room for a suffix.
*/}}
{{- define "calico-hep-agent.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := include "calico-hep-agent.name" . }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "calico-hep-agent.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels on every object: the kustomize base's app.kubernetes.io/part-of, Helm's usual four, and
commonLabels.
*/}}
{{- define "calico-hep-agent.labels" -}}
helm.sh/chart: {{ include "calico-hep-agent.chart" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: calico-hep-agent
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The DaemonSet's selector (immutable once installed) and the PodMonitor's. */}}
{{- define "calico-hep-agent.selectorLabels" -}}
app.kubernetes.io/name: {{ include "calico-hep-agent.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "calico-hep-agent.serviceAccountName" -}}
{{- default (include "calico-hep-agent.fullname" .) .Values.serviceAccount.name }}
{{- end }}

{{- define "calico-hep-agent.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* Whether HostEndpoints in crd.projectcalico.org are granted. */}}
{{- define "calico-hep-agent.crdV1" -}}
{{- if or .Values.rbac.crdV1 (eq (toString .Values.config.apiGroup) "crd.projectcalico.org/v1") }}true{{ end }}
{{- end }}

{{/* The ConfigMap's config.yaml; its checksum rolls the pods when it changes. */}}
{{- define "calico-hep-agent.configText" -}}
# Rendered by Helm from the chart's `config` value (every key: the chart's README.md).
{{ toYaml .Values.config }}
{{- end }}
