{{/*
Names, labels, the paths the pod sees, what the values ask for, and the rendering of
scopegate.toml. Every check that can refuse a release is in "scopegate.validate".
*/}}

{{- define "scopegate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "scopegate.fullname" -}}
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

{{- define "scopegate.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "scopegate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "scopegate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "scopegate.labels" -}}
helm.sh/chart: {{ include "scopegate.chart" . }}
{{ include "scopegate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: scopegate
{{- end }}

{{- define "scopegate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "scopegate.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "scopegate.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* Where the pod sees its files. */}}
{{- define "scopegate.configDir" -}}/etc/scopegate{{- end }}
{{- define "scopegate.secretsDir" -}}/run/secrets/scopegate{{- end }}
{{- define "scopegate.policyDir" -}}/etc/scopegate-policy{{- end }}
{{- define "scopegate.dataDir" -}}/var/lib/scopegate{{- end }}

{{/* "true" when Redis is configured (cluster mode), "" otherwise. */}}
{{- define "scopegate.clusterMode" -}}
{{- if or .Values.redis.url .Values.redis.sentinel.hosts }}true{{ end }}
{{- end }}

{{/* "true" when more than one pod can run at once. */}}
{{- define "scopegate.multiPod" -}}
{{- if or (gt (int .Values.replicaCount) 1) .Values.autoscaling.enabled }}true{{ end }}
{{- end }}

{{/* cluster.redis_url: the plain URL, or the Sentinel URL built from hosts and master name. */}}
{{- define "scopegate.redisUrl" -}}
{{- if .Values.redis.url }}
{{- .Values.redis.url }}
{{- else if .Values.redis.sentinel.hosts }}
{{- $s := .Values.redis.sentinel }}
{{- printf "%s://%s/%s" (ternary "rediss+sentinel" "redis+sentinel" .Values.redis.tls.enabled) (join "," $s.hosts) $s.masterName }}
{{- if $s.db }}/{{ int64 $s.db }}{{ end }}
{{- end }}
{{- end }}

{{- define "scopegate.secretName" -}}
{{- default (include "scopegate.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{/*
The key of the Secret holding each item, or "" when the release has none:
scopegate.secretKey with (dict "root" $ "item" "signingKey").
*/}}
{{- define "scopegate.secretKey" -}}
{{- $s := .root.Values.secrets }}
{{- $fixed := dict "signingKey" "signing-key.pem" "keyEncryptionKey" "key-encryption-key" "redisPassword" "redis-password" "sentinelPassword" "sentinel-password" "bootstrapClientSecretHash" "bootstrap-client-secret-hash" }}
{{- $used := true }}
{{- if eq .item "keyEncryptionKey" }}{{ $used = include "scopegate.clusterMode" .root }}{{ end }}
{{- if eq .item "sentinelPassword" }}{{ $used = .root.Values.redis.sentinel.hosts }}{{ end }}
{{- if eq .item "bootstrapClientSecretHash" }}{{ $used = .root.Values.config.admin.bootstrap_client_id }}{{ end }}
{{- if $used }}
{{- if $s.existingSecret }}
{{- index $s.existingSecretKeys .item }}
{{- else if index $s .item }}
{{- index $fixed .item }}
{{- end }}
{{- end }}
{{- end }}

{{/* The file each mounted item becomes under the secrets directory. */}}
{{- define "scopegate.secretFile" -}}
{{- get (dict "signingKey" "signing-key.pem" "keyEncryptionKey" "key-encryption-key" "redisPassword" "redis-password" "sentinelPassword" "sentinel-password") . }}
{{- end }}

{{/* Where redis.tls.existingSecret is mounted. */}}
{{- define "scopegate.redisTlsDir" -}}/run/secrets/scopegate-redis-tls{{- end }}

{{/* "true" when the nodes speak TLS to Redis. */}}
{{- define "scopegate.redisTls" -}}
{{- if or .Values.redis.tls.enabled (hasPrefix "rediss://" .Values.redis.url) }}true{{ end }}
{{- end }}

{{/* One TOML value: a string, a boolean, an integer or a list of them. */}}
{{- define "scopegate.tomlValue" -}}
{{- $kind := kindOf . }}
{{- if eq (typeOf .) "json.Number" }}
{{- . }}
{{- else if eq $kind "string" }}
{{- toJson . }}
{{- else if eq $kind "bool" }}
{{- . }}
{{- else if has $kind (list "int" "int64" "float64") }}
{{- if ne (float64 .) (float64 (int64 .)) }}
{{- fail (printf "scopegate: %v is not a whole number; every numeric setting of scopegate is an integer" .) }}
{{- end }}
{{- int64 . }}
{{- else if eq $kind "slice" }}
{{- $items := list }}
{{- range . }}{{ $items = append $items (include "scopegate.tomlValue" .) }}{{ end }}
{{- printf "[%s]" (join ", " $items) }}
{{- else }}
{{- fail (printf "scopegate: cannot write %v (%s) into scopegate.toml" . $kind) }}
{{- end }}
{{- end }}

{{/* The `key = value` lines of one section from values, skipping nulls, empty strings and
sub-tables (written by "scopegate.tomlTables" after the section). */}}
{{- define "scopegate.tomlEntries" -}}
{{- range $key, $value := . }}
{{- if not (or (kindIs "invalid" $value) (kindIs "map" $value) (and (kindIs "string" $value) (eq $value ""))) }}
{{ $key }} = {{ include "scopegate.tomlValue" $value }}
{{- end }}
{{- end }}
{{- end }}

{{/* The sub-tables of section `name` (`[tokens.throttle]`), after its own entries. */}}
{{- define "scopegate.tomlTables" -}}
{{- $name := .name }}
{{- range $key, $value := .values }}
{{- if kindIs "map" $value }}

[{{ $name }}.{{ $key }}]
{{- include "scopegate.tomlEntries" $value }}
{{- end }}
{{- end }}
{{- end }}

{{/* scopegate.toml: the values' config plus what the chart owns (listener, paths, Redis). */}}
{{- define "scopegate.toml" -}}
{{- $c := .Values.config -}}
# Rendered by the scopegate Helm chart from .Values.config; see docs/configuration.md.
# Secrets are files under {{ include "scopegate.secretsDir" . }}; per-pod settings and the
# public URL come from SCOPEGATE__* environment variables.

[server]
listen = "0.0.0.0:8080"
{{- include "scopegate.tomlEntries" $c.server }}

[log]
{{- include "scopegate.tomlEntries" $c.log }}

[storage]
{{- if .Values.policy }}
policy_file = "{{ include "scopegate.policyDir" . }}/policy.toml"
{{- end }}
data_dir = "{{ include "scopegate.dataDir" . }}"

[keys]
{{- if include "scopegate.secretKey" (dict "root" . "item" "signingKey") }}
signing_key_file = "{{ include "scopegate.secretsDir" . }}/{{ include "scopegate.secretFile" "signingKey" }}"
{{- end }}
{{- include "scopegate.tomlEntries" $c.keys }}

[tokens]
{{- include "scopegate.tomlEntries" $c.tokens }}
{{- include "scopegate.tomlTables" (dict "name" "tokens" "values" $c.tokens) }}

[validation]
{{- include "scopegate.tomlEntries" $c.validation }}

[admin]
{{- include "scopegate.tomlEntries" $c.admin }}

[cluster]
{{- if include "scopegate.clusterMode" . }}
redis_url = {{ include "scopegate.redisUrl" . | toJson }}
key_encryption_key_file = "{{ include "scopegate.secretsDir" . }}/{{ include "scopegate.secretFile" "keyEncryptionKey" }}"
{{- if include "scopegate.secretKey" (dict "root" . "item" "redisPassword") }}
redis_password_file = "{{ include "scopegate.secretsDir" . }}/{{ include "scopegate.secretFile" "redisPassword" }}"
{{- end }}
{{- if include "scopegate.secretKey" (dict "root" . "item" "sentinelPassword") }}
sentinel_password_file = "{{ include "scopegate.secretsDir" . }}/{{ include "scopegate.secretFile" "sentinelPassword" }}"
{{- end }}
{{- with .Values.redis.tls }}
{{- if .existingSecret }}
tls_ca_file = "{{ include "scopegate.redisTlsDir" $ }}/ca.crt"
{{- end }}
{{- if .clientCertificate }}
tls_cert_file = "{{ include "scopegate.redisTlsDir" $ }}/tls.crt"
tls_key_file = "{{ include "scopegate.redisTlsDir" $ }}/tls.key"
{{- end }}
{{- end }}
{{- end }}
{{- include "scopegate.tomlEntries" $c.cluster }}
{{ end }}

{{/* Refuses values that would not make a working release, saying what to change. */}}
{{- define "scopegate.validate" -}}
{{- $cluster := include "scopegate.clusterMode" . }}
{{- if and .Values.redis.url .Values.redis.sentinel.hosts }}
{{- fail "scopegate: set redis.url or redis.sentinel.hosts, not both" }}
{{- end }}
{{- if and .Values.redis.tls.enabled .Values.redis.url (not (hasPrefix "rediss://" .Values.redis.url)) }}
{{- fail "scopegate: redis.tls.enabled is for Sentinel; with redis.url, write a rediss:// URL for TLS" }}
{{- end }}
{{- if and .Values.redis.tls.existingSecret (not (include "scopegate.redisTls" .)) }}
{{- fail "scopegate: redis.tls.existingSecret needs TLS: a rediss:// redis.url, or redis.tls.enabled with redis.sentinel" }}
{{- end }}
{{- if and .Values.redis.tls.clientCertificate (not .Values.redis.tls.existingSecret) }}
{{- fail "scopegate: redis.tls.clientCertificate needs redis.tls.existingSecret, the Secret holding tls.crt and tls.key" }}
{{- end }}
{{- if and .Values.secrets.sentinelPassword (not .Values.redis.sentinel.hosts) }}
{{- fail "scopegate: secrets.sentinelPassword is the Sentinels' own password; set redis.sentinel.hosts, or leave it empty" }}
{{- end }}
{{- if and .Values.redis.sentinel.hosts (not .Values.redis.sentinel.masterName) }}
{{- fail "scopegate: redis.sentinel.masterName is required with redis.sentinel.hosts (the name the Sentinels monitor the master under, e.g. mymaster)" }}
{{- end }}
{{- if and (include "scopegate.multiPod" .) (not $cluster) }}
{{- fail "scopegate: replicaCount > 1 and autoscaling need Redis: set redis.url or redis.sentinel.hosts. Without Redis a node keeps its state in its own data directory, so only one replica can run (embedded mode)" }}
{{- end }}
{{- if and $cluster (not .Values.publicUrl) }}
{{- fail "scopegate: cluster mode needs publicUrl, the URL clients reach the Service at (e.g. --set publicUrl=https://auth.example.com): every node must issue and accept the same issuer (iss)" }}
{{- end }}
{{- if and $cluster (not (include "scopegate.secretKey" (dict "root" . "item" "keyEncryptionKey"))) }}
{{- fail "scopegate: cluster mode needs a key-encryption key, the same on every node, to seal signing keys in Redis: set secrets.keyEncryptionKey (head -c 32 /dev/urandom | base64), or secrets.existingSecretKeys.keyEncryptionKey with secrets.existingSecret" }}
{{- end }}
{{- if and .Values.config.admin.bootstrap_client_id (not (include "scopegate.secretKey" (dict "root" . "item" "bootstrapClientSecretHash"))) }}
{{- fail "scopegate: config.admin.bootstrap_client_id needs the secret's hash: set secrets.bootstrapClientSecretHash (printf '%s' \"$SECRET\" | scopegate hash-secret), or secrets.existingSecretKeys.bootstrapClientSecretHash with secrets.existingSecret" }}
{{- end }}
{{- if and (not .Values.secrets.existingSecret) .Values.secrets.bootstrapClientSecretHash (not .Values.config.admin.bootstrap_client_id) }}
{{- fail "scopegate: secrets.bootstrapClientSecretHash is set but config.admin.bootstrap_client_id is not; scopegate refuses one without the other" }}
{{- end }}
{{- if and .Values.persistence.enabled $cluster }}
{{- fail "scopegate: persistence is for embedded mode; with Redis the state lives in Redis and every replica would need the same volume. Set persistence.enabled=false" }}
{{- end }}
{{- if and .Values.autoscaling.enabled (lt (int .Values.autoscaling.maxReplicas) (int .Values.autoscaling.minReplicas)) }}
{{- fail "scopegate: autoscaling.maxReplicas must not be below autoscaling.minReplicas" }}
{{- end }}
{{- $pdb := .Values.podDisruptionBudget }}
{{- if and $pdb.enabled (not (kindIs "invalid" $pdb.minAvailable)) (not (kindIs "invalid" $pdb.maxUnavailable)) }}
{{- fail "scopegate: set podDisruptionBudget.maxUnavailable or podDisruptionBudget.minAvailable, not both (set the other to null)" }}
{{- end }}
{{- end }}
