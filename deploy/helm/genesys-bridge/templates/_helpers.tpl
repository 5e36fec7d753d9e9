{{- define "genesys-bridge.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "genesys-bridge.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "genesys-bridge.selector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "genesys-bridge.secretName" -}}
{{- if .Values.genesys.existingSecret -}}
{{- .Values.genesys.existingSecret -}}
{{- else -}}
{{- include "genesys-bridge.fullname" . -}}
{{- end -}}
{{- end -}}

{{/*
GENESYS_CLIENTS: each further OAuth client as <client id>:<its secret's
file>, the Secret mounted at /etc/genesys-bridge/genesys-client-<n>.
*/}}
{{- define "genesys-bridge.extraClients" -}}
{{- $out := list -}}
{{- range $i, $c := .Values.genesys.extraClients -}}
{{- if not (and $c.clientID $c.existingSecret) }}{{ fail "each of genesys.extraClients needs clientID and existingSecret" }}{{ end -}}
{{- $out = append $out (printf "%s:/etc/genesys-bridge/genesys-client-%d/%s" $c.clientID (add $i 2) ($c.existingSecretKey | default "client-secret")) -}}
{{- end -}}
{{- join "," $out -}}
{{- end -}}
