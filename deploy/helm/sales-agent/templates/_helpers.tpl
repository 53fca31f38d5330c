{{/* The release's prefix for every object this chart names itself. */}}
{{- define "sales-agent.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "sales-agent.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* The API pods' labels: the Deployment, Service, PDB and NetworkPolicy select by them. */}}
{{- define "sales-agent.apiSelector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: api
{{- end -}}

{{- define "sales-agent.oauth2ProxySelector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: oauth2-proxy
{{- end -}}

{{- define "sales-agent.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/* The Secret the pods read: ours when secret.create, else the existing one. */}}
{{- define "sales-agent.secretName" -}}
{{- if .Values.secret.create -}}
{{- .Values.secret.name -}}
{{- else -}}
{{- required "secret.existingSecret: name the Secret holding DATABASE_URL and the other secrets (or set secret.create)" .Values.secret.existingSecret -}}
{{- end -}}
{{- end -}}

{{/* Dagster's webserver Services (Dagster's chart, release dagster.releaseName). */}}
{{- define "sales-agent.webserverService" -}}
{{- printf "%s-dagster-webserver" .Values.dagster.releaseName | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "sales-agent.readOnlyWebserverService" -}}
{{- printf "%s-dagster-webserver-read-only" .Values.dagster.releaseName -}}
{{- end -}}

{{- define "sales-agent.oauth2ProxyName" -}}
{{- printf "%s-oauth2-proxy" (include "sales-agent.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "sales-agent.uiEnabled" -}}
{{- if and .Values.ingress.enabled .Values.ingress.ui.enabled -}}true{{- end -}}
{{- end -}}

{{/*
The pod and container security settings of our own image: uid 10001 (deploy/Dockerfile's
user `app`), no privilege escalation, no capabilities, a read-only root filesystem.
*/}}
{{- define "sales-agent.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "sales-agent.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* Settings from the ConfigMap, secrets from the Secret: every container of our image. */}}
{{- define "sales-agent.envFrom" -}}
- configMapRef:
    name: {{ .Values.config.name }}
- secretRef:
    name: {{ include "sales-agent.secretName" . }}
{{- end -}}

{{/*
The ingress-nginx annotations that put a UI host behind oauth2-proxy: every request is
first asked of /oauth2/auth (202 or 401); a 401 sends the browser to sign in; the email
oauth2-proxy answers is passed on in X-Auth-Request-Email, which nginx sets itself (a
client's own header of that name never reaches the webserver). Argument: (list $ audience).
*/}}
{{- define "sales-agent.uiAuthAnnotations" -}}
{{- $ := index . 0 -}}
{{- $audience := index . 1 -}}
{{- $query := list -}}
{{- with $audience.allowedGroups }}{{ $query = append $query (printf "allowed_groups=%s" (join "," .)) }}{{ end -}}
{{- with $audience.allowedEmails }}{{ $query = append $query (printf "allowed_emails=%s" (join "," .)) }}{{ end -}}
{{- $authUrl := printf "http://%s.%s.svc.cluster.local:4180/oauth2/auth" (include "sales-agent.oauth2ProxyName" $) $.Release.Namespace -}}
{{- if $query }}{{ $authUrl = printf "%s?%s" $authUrl (join "&" $query) }}{{ end -}}
nginx.ingress.kubernetes.io/auth-url: {{ $authUrl | quote }}
nginx.ingress.kubernetes.io/auth-signin: "https://$host/oauth2/start?rd=$escaped_request_uri"
nginx.ingress.kubernetes.io/auth-response-headers: X-Auth-Request-Email
{{- end -}}
