{{/* Required worker values, validated once; every template includes this. */}}
{{- define "store.validate" -}}
{{- $name := required "store.name is required (DNS label of the store, e.g. my-shop)" .Values.store.name -}}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$" $name) -}}
{{- fail (printf "store.name %q must be a DNS label (lower-case letters, digits, '-')" $name) -}}
{{- end -}}
{{- $_ := required "store.id is required (store UUID)" .Values.store.id -}}
{{- $_ := required "store.host is required (public host name, e.g. my-shop.127.0.0.1.nip.io)" .Values.store.host -}}
{{- $_ := required "store.existingSecret is required (name of the Secret the worker creates)" .Values.store.existingSecret -}}
{{- end -}}

{{- define "store.fullname" -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "store.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: storefleet
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
storefleet.io/store: {{ .Values.store.name }}
storefleet.io/store-id: {{ .Values.store.id | quote }}
{{- end -}}

{{/* selector labels: call with (dict "ctx" $ "component" "web") */}}
{{- define "store.selector" -}}
app.kubernetes.io/name: {{ .ctx.Chart.Name }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "store.url" -}}
{{- if .Values.ingress.tls.enabled }}https{{ else }}http{{ end }}://{{ .Values.store.host }}
{{- end -}}

{{- define "store.tlsSecret" -}}
{{- default (printf "%s-tls" (include "store.fullname" .)) .Values.ingress.tls.secretName -}}
{{- end -}}

{{- define "store.storageClass" -}}
{{- if .Values.global.storageClass }}
storageClassName: {{ .Values.global.storageClass | quote }}
{{- end }}
{{- end -}}

{{- define "store.image" -}}
{{- if or (not .tag) (eq (toString .tag) "latest") -}}
{{- fail (printf "image %s needs a pinned tag (not empty, not latest)" .repository) -}}
{{- end -}}
{{- printf "%s:%s" .repository (toString .tag) -}}
{{- end -}}

{{/* Container securityContext: call with (dict "uid" 33 "nonRoot" true) */}}
{{- define "store.containerSecurity" -}}
securityContext:
  runAsNonRoot: true
  runAsUser: {{ .uid }}
  runAsGroup: {{ default .uid .gid }}
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: {{ default false .readOnly }}
  capabilities:
    drop: ["ALL"]
  seccompProfile:
    type: RuntimeDefault
{{- end -}}

{{- define "store.secretEnv" -}}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ .secret }}
      key: {{ .key }}
{{- end -}}
