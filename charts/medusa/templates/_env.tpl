{{/* Environment of the Medusa backend, its migrate init container and the setup Job. */}}
{{- define "medusa.env" -}}
{{- $fullname := include "store.fullname" . -}}
{{- $secret := .Values.store.existingSecret -}}
- name: NODE_ENV
  value: production
- name: DATABASE_HOST
  value: {{ printf "%s-db" $fullname | quote }}
- name: DATABASE_PORT
  value: "5432"
- name: DATABASE_NAME
  value: {{ .Values.database.name | quote }}
- name: DATABASE_USER
  value: {{ .Values.database.user | quote }}
{{ include "store.secretEnv" (dict "env" "DATABASE_PASSWORD" "secret" $secret "key" "database-password") }}
- name: REDIS_URL
  value: {{ printf "redis://%s-redis:6379" $fullname | quote }}
{{ include "store.secretEnv" (dict "env" "JWT_SECRET" "secret" $secret "key" "jwt-secret") }}
{{ include "store.secretEnv" (dict "env" "COOKIE_SECRET" "secret" $secret "key" "cookie-secret") }}
- name: STORE_CORS
  value: {{ include "store.url" . | quote }}
- name: ADMIN_CORS
  value: {{ include "store.url" . | quote }}
- name: AUTH_CORS
  value: {{ include "store.url" . | quote }}
- name: MEDUSA_BACKEND_URL
  value: "/"
{{- end -}}
