{{/* Chart name, truncated to 63 characters. */}}
{{- define "lifeboat.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name. */}}
{{- define "lifeboat.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "lifeboat.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "lifeboat.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "lifeboat.selectorLabels" -}}
app.kubernetes.io/name: {{ include "lifeboat.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "lifeboat.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "lifeboat.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Namespace of the leader Lease: config.leaderElectionNamespace, else the release namespace. */}}
{{- define "lifeboat.leaseNamespace" -}}
{{- .Values.config.leaderElectionNamespace | default .Release.Namespace }}
{{- end }}

{{/* Port of a "host:port" listen address. */}}
{{- define "lifeboat.port" -}}
{{- splitList ":" . | last | int }}
{{- end }}

{{/*
Refuses values that cannot work, at render time:
- config.leaderElect=false with more than one replica: every replica would act on every notice (two surges
  for one pod, two lifecycle completions).
- IMDS settings: the instance metadata service answers for the node a process runs on, so IMDS needs one
  process per node, not this Deployment.
*/}}
{{- define "lifeboat.validate" -}}
{{- if and (eq (toString .Values.config.leaderElect) "false") (gt (int .Values.replicaCount) 1) }}
{{- fail (printf "config.leaderElect=false with replicaCount=%d: every replica would act on every notice (double surges, double lifecycle completions). Keep config.leaderElect=true, or set replicaCount=1." (int .Values.replicaCount)) }}
{{- end }}
{{- range $key := list "imdsEnabled" "imdsEndpoint" "imdsPollSeconds" "nodeName" }}
{{- if hasKey $.Values.config $key }}
{{- fail (printf "config.%s is not a setting of the chart's Deployment: IMDS answers only for the node a process runs on, so it needs one process per node (a DaemonSet), not this Deployment." $key) }}
{{- end }}
{{- end }}
{{- if not (has .Values.hostAntiAffinity (list "required" "preferred" "none")) }}
{{- fail (printf "hostAntiAffinity must be required, preferred or none, not %v" .Values.hostAntiAffinity) }}
{{- end }}
{{- end }}

{{/* The pods' own selector, as a labelSelector. */}}
{{- define "lifeboat.podSelector" -}}
matchLabels:
  {{- include "lifeboat.selectorLabels" . | nindent 2 }}
{{- end }}

{{/* affinity: .Values.affinity when set, else nodeAffinity plus the host anti-affinity of hostAntiAffinity. */}}
{{- define "lifeboat.affinity" -}}
{{- if .Values.affinity }}
{{- toYaml .Values.affinity }}
{{- else }}
{{- $affinity := dict }}
{{- with .Values.nodeAffinity }}
{{- $_ := set $affinity "nodeAffinity" . }}
{{- end }}
{{- $term := dict "topologyKey" "kubernetes.io/hostname" "labelSelector" (include "lifeboat.podSelector" . | fromYaml) }}
{{- if eq .Values.hostAntiAffinity "required" }}
{{- $_ := set $affinity "podAntiAffinity" (dict "requiredDuringSchedulingIgnoredDuringExecution" (list $term)) }}
{{- else if eq .Values.hostAntiAffinity "preferred" }}
{{- $_ := set $affinity "podAntiAffinity" (dict "preferredDuringSchedulingIgnoredDuringExecution" (list (dict "weight" 100 "podAffinityTerm" $term))) }}
{{- end }}
{{- if $affinity }}
{{- toYaml $affinity }}
{{- end }}
{{- end }}
{{- end }}

{{/* topologySpreadConstraints, each given the pods' own labelSelector when it has none. */}}
{{- define "lifeboat.topologySpreadConstraints" -}}
{{- $out := list }}
{{- range .Values.topologySpreadConstraints }}
{{- $c := deepCopy . }}
{{- if not (hasKey $c "labelSelector") }}
{{- $_ := set $c "labelSelector" (include "lifeboat.podSelector" $ | fromYaml) }}
{{- end }}
{{- $out = append $out $c }}
{{- end }}
{{- if $out }}
{{- toYaml $out }}
{{- end }}
{{- end }}
