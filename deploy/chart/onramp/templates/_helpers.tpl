{{/* The chart's name, overridable. */}}
{{- define "onramp.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The release's full name: the release name when it already holds the chart's
name, else RELEASE-onramp. Cluster-scoped objects carry it too, so two
releases in one cluster need two release names.
*/}}
{{- define "onramp.fullname" -}}
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

{{- define "onramp.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "onramp.labels" -}}
helm.sh/chart: {{ include "onramp.chart" . }}
{{ include "onramp.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: onramp
{{- end }}

{{/* Labels that select onramp's pods. */}}
{{- define "onramp.selectorLabels" -}}
app.kubernetes.io/name: {{ include "onramp.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The ServiceAccount onramp runs as. */}}
{{- define "onramp.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "onramp.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image reference: a digest wins over the tag. */}}
{{- define "onramp.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* The public URL: publicURL, else the Ingress host. */}}
{{- define "onramp.publicURL" -}}
{{- if .Values.publicURL }}
{{- .Values.publicURL }}
{{- else if and .Values.ingress.enabled .Values.ingress.host }}
{{- printf "%s://%s" (ternary "https" "http" (ne .Values.ingress.tlsSecretName "")) .Values.ingress.host }}
{{- end }}
{{- end }}

{{/* The Git base URL Flux clones from when the built-in server serves it: the Service's in-cluster address. */}}
{{- define "onramp.builtinGitURL" -}}
{{- if .Values.gitProvider.builtinURL }}
{{- .Values.gitProvider.builtinURL }}
{{- else }}
{{- printf "http://%s.%s.svc:%d/git" (include "onramp.fullname" .) .Release.Namespace (int .Values.service.port) }}
{{- end }}
{{- end }}

{{/* Whether the data volume is one ReadWriteOnce claim, which only one pod at a time may use. */}}
{{- define "onramp.exclusiveVolume" -}}
{{- if and .Values.persistence.enabled (not (has "ReadWriteMany" .Values.persistence.accessModes)) }}true{{ end }}
{{- end }}

{{/*
The rules values.schema.json states, again with a sentence each, for
installs that skip schema validation.
*/}}
{{- define "onramp.validate" -}}
{{- $v := .Values }}
{{- if and (eq $v.database.type "sqlite") (gt (int $v.replicaCount) 1) }}
{{- fail (printf "replicaCount %d with database.type=sqlite: SQLite serves one replica; set database.type=postgres and database.existingSecret for more" (int $v.replicaCount)) }}
{{- end }}
{{- if and (eq $v.database.type "postgres") (not $v.database.existingSecret) }}
{{- fail "database.type=postgres needs database.existingSecret: the Secret whose key database.secretKey holds the postgres:// URL" }}
{{- end }}
{{- if and (gt (int $v.replicaCount) 1) (not $v.secretKey.existingSecret) }}
{{- fail "more than one replica needs secretKey.existingSecret: every replica must seal credentials with the same key" }}
{{- end }}
{{- if and (ne $v.gitProvider.kind "builtin") (not (and $v.gitProvider.url $v.gitProvider.owner $v.gitProvider.existingSecret)) }}
{{- fail (printf "gitProvider.kind=%s needs gitProvider.url, gitProvider.owner and gitProvider.existingSecret (the API token)" $v.gitProvider.kind) }}
{{- end }}
{{- if and (gt (int $v.replicaCount) 1) (include "onramp.exclusiveVolume" .) }}
{{- fail "more than one replica cannot share a ReadWriteOnce volume: set persistence.accessModes to [ReadWriteMany], or persistence.enabled=false with an external gitProvider" }}
{{- end }}
{{- if and (gt (int $v.replicaCount) 1) (eq $v.gitProvider.kind "builtin") (not $v.persistence.enabled) }}
{{- fail "more than one replica with the built-in Git server needs one shared volume for its repositories: enable persistence with ReadWriteMany, or use an external gitProvider" }}
{{- end }}
{{- end }}
