{{/* Environment shared by the web server and the WP-CLI setup Job (wp-config-docker.php reads it). */}}
{{- define "wc.wpEnv" -}}
{{- $secret := .Values.store.existingSecret -}}
- name: WORDPRESS_DB_HOST
  value: {{ printf "%s-db:3306" (include "store.fullname" .) | quote }}
- name: WORDPRESS_DB_NAME
  value: {{ .Values.database.name | quote }}
- name: WORDPRESS_DB_USER
  value: {{ .Values.database.user | quote }}
{{ include "store.secretEnv" (dict "env" "WORDPRESS_DB_PASSWORD" "secret" $secret "key" "database-password") }}
{{- range list "AUTH_KEY" "SECURE_AUTH_KEY" "LOGGED_IN_KEY" "NONCE_KEY" "AUTH_SALT" "SECURE_AUTH_SALT" "LOGGED_IN_SALT" "NONCE_SALT" }}
- name: WORDPRESS_{{ . }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: wordpress-salt
      optional: true
{{- end }}
- name: WORDPRESS_CONFIG_EXTRA
  value: |
    define('WP_HOME', '{{ include "store.url" . }}');
    define('WP_SITEURL', '{{ include "store.url" . }}');
    define('DISALLOW_FILE_EDIT', true);
    define('DISALLOW_FILE_MODS', true);
    define('WP_ENVIRONMENT_TYPE', 'production');
{{- end -}}
