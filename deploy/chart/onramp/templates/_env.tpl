{{/*
The container's environment: onramp reads its configuration from ONRAMP_*
variables (README, Configuration); secrets come only from Secret references.
*/}}
{{- define "onramp.env" -}}
- name: ONRAMP_ADDR
  value: "0.0.0.0:8080"
- name: ONRAMP_DATA_DIR
  value: /var/lib/onramp
- name: ONRAMP_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
# onramp's own namespace, which no project may take.
- name: ONRAMP_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
{{- with .Values.reservedNamespaces }}
- name: ONRAMP_RESERVED_NAMESPACES
  value: {{ join "," . | quote }}
{{- end }}
{{- with include "onramp.publicURL" . }}
- name: ONRAMP_PUBLIC_URL
  value: {{ . | quote }}
{{- end }}
{{- if eq .Values.database.type "postgres" }}
- name: ONRAMP_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.database.existingSecret }}
      key: {{ .Values.database.secretKey }}
{{- end }}
{{- with .Values.secretKey.existingSecret }}
- name: ONRAMP_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.secretKey.secretKey }}
{{- end }}
{{- if eq .Values.gitProvider.kind "builtin" }}
- name: ONRAMP_GIT_URL
  value: {{ include "onramp.builtinGitURL" . | quote }}
{{- else }}
- name: ONRAMP_GIT_PROVIDER_KIND
  value: {{ .Values.gitProvider.kind | quote }}
- name: ONRAMP_GIT_PROVIDER_URL
  value: {{ .Values.gitProvider.url | quote }}
- name: ONRAMP_GIT_PROVIDER_OWNER
  value: {{ .Values.gitProvider.owner | quote }}
- name: ONRAMP_GIT_PROVIDER_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ .Values.gitProvider.existingSecret }}
      key: {{ .Values.gitProvider.secretKey }}
{{- end }}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}
