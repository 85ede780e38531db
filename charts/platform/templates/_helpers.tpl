{{/* Values that contradict each other fail rendering with a message naming the keys. */}}
{{- define "platform.validate" -}}
{{- $_ := required "host is required (public host of the dashboard and API)" .Values.host -}}
{{- $_ := required "stores.domain is required (stores are served at <name>.<domain>)" .Values.stores.domain -}}
{{- if and .Values.postgresql.enabled .Values.externalDatabase.existingSecret -}}
{{- fail "choose one database: postgresql.enabled=true or externalDatabase.existingSecret, not both" -}}
{{- end -}}
{{- if not (or .Values.postgresql.enabled .Values.externalDatabase.existingSecret) -}}
{{- fail "no database: set postgresql.enabled=true or externalDatabase.existingSecret (a Secret with the DATABASE_URL)" -}}
{{- end -}}
{{- if and .Values.redis.enabled .Values.externalRedis.existingSecret -}}
{{- fail "choose one Redis: redis.enabled=true or externalRedis.existingSecret, not both" -}}
{{- end -}}
{{- if not (or .Values.redis.enabled .Values.externalRedis.existingSecret) -}}
{{- fail "no Redis: set redis.enabled=true or externalRedis.existingSecret (a Secret with the REDIS_URL)" -}}
{{- end -}}
{{- if .Values.worker.keda.enabled -}}
{{- if lt (int .Values.worker.keda.minReplicaCount) 1 -}}
{{- fail "worker.keda.minReplicaCount must be at least 1: workers run the reaper and retry sweeper, so the queue would never refill with none" -}}
{{- end -}}
{{- if and (not .Values.redis.enabled) (not .Values.worker.keda.redis.address) -}}
{{- fail "worker.keda.redis.address (host:port) is required with an external Redis" -}}
{{- end -}}
{{- end -}}
{{- if not (has .Values.stores.failedStorePolicy (list "keep" "delete")) -}}
{{- fail "stores.failedStorePolicy must be keep or delete" -}}
{{- end -}}
{{- end -}}

{{- define "platform.fullname" -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "platform.labels" -}}
app.kubernetes.io/name: storefleet
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: storefleet
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* selector labels: call with (dict "ctx" $ "component" "gateway") */}}
{{- define "platform.selector" -}}
app.kubernetes.io/name: storefleet
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "platform.image" -}}
{{- if or (not .tag) (eq (toString .tag) "latest") -}}
{{- fail (printf "image %s needs a pinned tag (not empty, not latest)" .repository) -}}
{{- end -}}
{{- printf "%s:%s" .repository (toString .tag) -}}
{{- end -}}

{{/* Pod securityContext: call with (dict "uid" 10001 "gid" 10001) */}}
{{- define "platform.podSecurity" -}}
securityContext:
  runAsNonRoot: true
  runAsUser: {{ .uid }}
  runAsGroup: {{ default .uid .gid }}
  fsGroup: {{ default .uid .gid }}
  fsGroupChangePolicy: OnRootMismatch
  seccompProfile:
    type: RuntimeDefault
{{- end -}}

{{/* Container securityContext: read-only root, no capabilities, no escalation, every container. */}}
{{- define "platform.containerSecurity" -}}
securityContext:
  runAsNonRoot: true
  runAsUser: {{ .uid }}
  runAsGroup: {{ default .uid .gid }}
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  privileged: false
  capabilities:
    drop: ["ALL"]
  seccompProfile:
    type: RuntimeDefault
{{- end -}}

{{- define "platform.storageClass" -}}
{{- if .Values.global.storageClass }}
storageClassName: {{ .Values.global.storageClass | quote }}
{{- end }}
{{- end -}}

{{- define "platform.postgresSecret" -}}
{{- default (printf "%s-postgresql" (include "platform.fullname" .)) .Values.postgresql.existingSecret -}}
{{- end -}}

{{- define "platform.redisSecret" -}}
{{- default (printf "%s-redis" (include "platform.fullname" .)) .Values.redis.existingSecret -}}
{{- end -}}

{{- define "platform.bootstrapSecret" -}}
{{- default (printf "%s-bootstrap-admin" (include "platform.fullname" .)) .Values.bootstrapAdmin.existingSecret -}}
{{- end -}}

{{/*
A generated secret value, base64-encoded for `data:`. The existing Secret's value when there is one
(`lookup` reads the live object during install/upgrade), so upgrades never rotate a password that
PostgreSQL or Redis already use; otherwise a new random value. `helm template` has no cluster, so it
prints a fresh random value each time — never a literal from values.
Call with (dict "ctx" $ "name" "<secret>" "key" "<key>" "length" 32 "prefix" "").
*/}}
{{- define "platform.generated" -}}
{{- $existing := lookup "v1" "Secret" .ctx.Release.Namespace .name -}}
{{- if and $existing (hasKey ($existing.data | default dict) .key) -}}
{{- index $existing.data .key -}}
{{- else -}}
{{- printf "%s%s" (default "" .prefix) (randAlphaNum (int .length)) | b64enc -}}
{{- end -}}
{{- end -}}

{{/*
Environment shared by the gateway and the worker: Postgres and Redis URLs (the built-in ones are
composed from the generated password with Kubernetes' $(VAR) expansion, so no Secret holds a URL
and no manifest holds a password), key prefix, store domain, logging.
*/}}
{{- define "platform.commonEnv" -}}
{{- $fullname := include "platform.fullname" . -}}
{{- if .Values.postgresql.enabled }}
- name: STOREFLEET_DB_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "platform.postgresSecret" . }}
      key: {{ .Values.postgresql.secretKey }}
- name: DATABASE_URL
  value: {{ printf "postgres://%s:$(STOREFLEET_DB_PASSWORD)@%s-postgresql:5432/%s?sslmode=disable" .Values.postgresql.username $fullname .Values.postgresql.database | quote }}
{{- else }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.externalDatabase.existingSecret }}
      key: {{ .Values.externalDatabase.urlKey }}
{{- end }}
{{- if .Values.redis.enabled }}
- name: STOREFLEET_REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "platform.redisSecret" . }}
      key: {{ .Values.redis.secretKey }}
- name: REDIS_URL
  value: {{ printf "redis://:$(STOREFLEET_REDIS_PASSWORD)@%s-redis:6379/0" $fullname | quote }}
{{- else }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.externalRedis.existingSecret }}
      key: {{ .Values.externalRedis.urlKey }}
{{- end }}
- name: REDIS_KEY_PREFIX
  value: {{ .Values.redisKeyPrefix | quote }}
- name: STORE_DOMAIN
  value: {{ .Values.stores.domain | quote }}
- name: STORE_TLS
  value: {{ .Values.stores.tls.enabled | toString | quote }}
- name: LOG_FORMAT
  value: {{ .Values.logging.format | quote }}
- name: LOG_LEVEL
  value: {{ .Values.logging.level | quote }}
# Migrations wait on a Postgres advisory lock (up to 120s) after the backends come up (STARTUP_TIMEOUT).
- name: STARTUP_TIMEOUT
  value: "60s"
- name: TMPDIR
  value: /tmp
{{- with .Values.observability.tracing.otlpEndpoint }}
# Traces to an OpenTelemetry collector over OTLP/HTTP (docs/operations.md, "Tracing"); off without it.
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: {{ $.Values.observability.tracing.protocol | quote }}
{{- end }}
{{- end -}}
