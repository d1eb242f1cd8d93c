{{/* Names and labels shared by every template. */}}

{{- define "sluice.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* <release> when it already contains the chart's name, else <release>-<chart>. */}}
{{- define "sluice.fullname" -}}
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

{{/* The operator's objects: <fullname>-operator. */}}
{{- define "sluice.operatorName" -}}
{{- printf "%s-operator" (include "sluice.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sluice.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sluice.operatorName" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "sluice.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sluice.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "sluice.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "sluice.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sluice
{{- end }}

{{- define "sluice.operatorImage" -}}
{{- printf "%s:%s" .Values.image.operator.repository (default .Chart.AppVersion .Values.image.operator.tag) }}
{{- end }}

{{- define "sluice.workerImage" -}}
{{- printf "%s:%s" .Values.image.worker.repository (default .Chart.AppVersion .Values.image.worker.tag) }}
{{- end }}

{{/*
The default cluster's TLS and SASL (values kafka.tls, kafka.sasl) as the
variables of the operator's and the dashboard's --kafka-tls,
--kafka-*-secret, --kafka-server-name and --kafka-sasl-mechanism, each
Secret reference as "name/key": a YAML list of EnvVar, empty when neither is
set. Values that cannot work together fail the render.
*/}}
{{- define "sluice.kafkaSecurityEnv" -}}
{{- $k := .Values.kafka }}
{{- $t := $k.tls | default dict }}
{{- $s := $k.sasl | default dict }}
{{- $env := list }}
{{- $ref := dict }}
{{- range $part := list "ca" "cert" "key" }}
{{- $r := get $t $part | default dict }}
{{- if $r.name }}
{{- $_ := set $ref $part (printf "%s/%s" (toString $r.name) (toString $r.key)) }}
{{- end }}
{{- end }}
{{- $user := ternary (printf "%s/%s" (toString (($s.username | default dict).name)) (toString (($s.username | default dict).key))) "" (not (empty (($s.username | default dict).name))) }}
{{- $pass := ternary (printf "%s/%s" (toString (($s.password | default dict).name)) (toString (($s.password | default dict).key))) "" (not (empty (($s.password | default dict).name))) }}
{{- if ne (hasKey $ref "cert") (hasKey $ref "key") }}
{{- fail "kafka.tls.cert and kafka.tls.key go together (a client certificate and its key): set both names or neither" }}
{{- end }}
{{- if and $s.mechanism (or (not $user) (not $pass)) }}
{{- fail (printf "kafka.sasl.mechanism %s needs kafka.sasl.username.name and kafka.sasl.password.name (Secrets in each resource's namespace)" $s.mechanism) }}
{{- end }}
{{- if and (not $s.mechanism) (or $user $pass) }}
{{- fail "kafka.sasl.username and kafka.sasl.password need kafka.sasl.mechanism (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)" }}
{{- end }}
{{- $tls := or $t.enabled (gt (len $ref) 0) $t.serverName }}
{{- if and (or $tls $s.mechanism) (not $k.bootstrap) }}
{{- fail "kafka.tls and kafka.sasl are the default cluster's: they need kafka.bootstrap" }}
{{- end }}
{{- if $tls }}
{{- $env = append $env (dict "name" "SLUICE_KAFKA_TLS" "value" "true") }}
{{- end }}
{{- with $ref.ca }}
{{- $env = append $env (dict "name" "SLUICE_KAFKA_CA_SECRET" "value" .) }}
{{- end }}
{{- with $ref.cert }}
{{- $env = append $env (dict "name" "SLUICE_KAFKA_CERT_SECRET" "value" .) }}
{{- end }}
{{- with $ref.key }}
{{- $env = append $env (dict "name" "SLUICE_KAFKA_KEY_SECRET" "value" .) }}
{{- end }}
{{- with $t.serverName }}
{{- $env = append $env (dict "name" "SLUICE_KAFKA_SERVER_NAME" "value" (toString .)) }}
{{- end }}
{{- if $s.mechanism }}
{{- $env = append $env (dict "name" "SLUICE_KAFKA_SASL_MECHANISM" "value" (toString $s.mechanism)) }}
{{- $env = append $env (dict "name" "SLUICE_KAFKA_SASL_USERNAME_SECRET" "value" $user) }}
{{- $env = append $env (dict "name" "SLUICE_KAFKA_SASL_PASSWORD_SECRET" "value" $pass) }}
{{- end }}
{{- toYaml $env }}
{{- end }}

{{/*
The operator container's env, each name once. The chart's variables come
first, in their order; an extraEnv entry with the same name replaces the
chart's entry in place (the last one wins when extraEnv repeats a name), and
the other extraEnv entries follow. Kubernetes would accept a name twice, but
the strategic merge patch of the next `helm upgrade` would not ("The order in
patch list ... doesn't match").
*/}}
{{- define "sluice.env" -}}
{{- $v := .Values }}
{{- $env := list
  (dict "name" "POD_NAME" "valueFrom" (dict "fieldRef" (dict "fieldPath" "metadata.name")))
  (dict "name" "POD_NAMESPACE" "valueFrom" (dict "fieldRef" (dict "fieldPath" "metadata.namespace")))
  (dict "name" "SLUICE_LOG_LEVEL" "value" (toString $v.logLevel))
  (dict "name" "SLUICE_METRICS_ADDR" "value" (toString $v.metrics.addr))
  (dict "name" "SLUICE_METRICS_PORT" "value" (toString $v.metrics.port))
  (dict "name" "SLUICE_NAMESPACE" "value" (toString $v.watchNamespace))
  (dict "name" "SLUICE_LEADER_ELECT" "value" (toString $v.leaderElection.enabled))
  (dict "name" "SLUICE_LEADER_ELECTION_NAMESPACE" "value" .Release.Namespace)
  (dict "name" "SLUICE_LEADER_ELECTION_ID" "value" (toString $v.leaderElection.id))
  (dict "name" "SLUICE_LEASE_DURATION" "value" (toString $v.leaderElection.leaseDuration))
  (dict "name" "SLUICE_RENEW_DEADLINE" "value" (toString $v.leaderElection.renewDeadline))
  (dict "name" "SLUICE_RETRY_PERIOD" "value" (toString $v.leaderElection.retryPeriod))
  (dict "name" "SLUICE_WORKER_IMAGE" "value" (include "sluice.workerImage" .))
  (dict "name" "SLUICE_WORKER_IMAGE_PULL_POLICY" "value" (toString $v.image.worker.pullPolicy))
  (dict "name" "SLUICE_WORKER_HOST_NETWORK" "value" (toString $v.workers.hostNetwork))
  (dict "name" "SLUICE_KAFKA_BOOTSTRAP" "value" (toString $v.kafka.bootstrap))
}}
{{- /* The default cluster's security right after its bootstrap. */}}
{{- $env = concat $env (include "sluice.kafkaSecurityEnv" . | fromYamlArray) }}
{{- $env = concat $env (list
  (dict "name" "SLUICE_POLLING_INTERVAL" "value" (toString $v.autoscaling.pollingInterval))
  (dict "name" "SLUICE_STABILIZATION_WINDOW" "value" (toString $v.autoscaling.stabilizationWindow))
  (dict "name" "SLUICE_COOLDOWN_PERIOD" "value" (toString $v.autoscaling.cooldownPeriod))
  (dict "name" "SLUICE_TREND_WINDOW" "value" (toString $v.autoscaling.trendWindow))
  (dict "name" "SLUICE_FALLBACK_REPLICAS" "value" (toString (int $v.autoscaling.fallbackReplicas)))
  (dict "name" "SLUICE_FALLBACK_FAILURE_THRESHOLD" "value" (toString (int $v.autoscaling.fallbackFailureThreshold)))) }}
{{- with $v.redis.addr }}
{{- $env = append $env (dict "name" "SLUICE_REDIS_ADDR" "value" (toString .)) }}
{{- end }}
{{- /* The status Redis's credentials: the operator's own password by
secretKeyRef, and the Secret's name and key for the worker pods'. */}}
{{- with $v.redis.username }}
{{- $env = append $env (dict "name" "SLUICE_STATUS_REDIS_USERNAME" "value" (toString .)) }}
{{- end }}
{{- if $v.redis.passwordSecret.name }}
{{- $ps := $v.redis.passwordSecret }}
{{- $env = append $env (dict "name" "SLUICE_STATUS_REDIS_PASSWORD" "valueFrom" (dict "secretKeyRef" (dict "name" (toString $ps.name) "key" (toString $ps.key)))) }}
{{- $env = append $env (dict "name" "SLUICE_STATUS_REDIS_PASSWORD_SECRET" "value" (toString $ps.name)) }}
{{- $env = append $env (dict "name" "SLUICE_STATUS_REDIS_PASSWORD_KEY" "value" (toString $ps.key)) }}
{{- end }}
{{- with $v.postgres.secretName }}
{{- $env = append $env (dict "name" "SLUICE_POSTGRES_SECRET" "value" (toString .)) }}
{{- end }}
{{- with $v.influxdb.url }}
{{- $env = append $env (dict "name" "SLUICE_INFLUX_URL" "value" (toString .)) }}
{{- end }}
{{- $env = append $env (dict "name" "SLUICE_INFLUX_DATABASE" "value" (toString $v.influxdb.database)) }}
{{- /* Where users open the dashboard: an upload's answer links its VideoJob there. */}}
{{- if and $v.dashboard.enabled $v.dashboard.url }}
{{- $env = append $env (dict "name" "SLUICE_DASHBOARD_URL" "value" (toString $v.dashboard.url)) }}
{{- end }}
{{- if eq (int $v.metrics.port) 0 }}
{{- /* A free port each, which the exec probes read from this file. */}}
{{- $env = append $env (dict "name" "SLUICE_METRICS_PORT_FILE" "value" "/tmp/metrics-port") }}
{{- end }}
{{- $host := toString $v.kubernetesService.host }}
{{- $port := toString $v.kubernetesService.port }}
{{- if or $host $port }}
{{- if not (and $host $port) }}
{{- fail "kubernetesService.host and kubernetesService.port go together: set both (e.g. 127.0.0.1 and 6443) or neither" }}
{{- end }}
{{- $env = append $env (dict "name" "KUBERNETES_SERVICE_HOST" "value" $host) }}
{{- $env = append $env (dict "name" "KUBERNETES_SERVICE_PORT" "value" $port) }}
{{- /* The VideoWatch watchers call the API server too. */}}
{{- $env = append $env (dict "name" "SLUICE_WATCHER_API_SERVER" "value" (printf "%s:%s" $host $port)) }}
{{- end }}
{{- $extra := dict }}
{{- range $v.extraEnv }}
{{- $_ := set $extra .name . }}
{{- end }}
{{- $seen := dict }}
{{- $out := list }}
{{- range (concat $env $v.extraEnv) }}
{{- if not (hasKey $seen .name) }}
{{- $_ := set $seen .name true }}
{{- $out = append $out (get $extra .name | default .) }}
{{- end }}
{{- end }}
{{- toYaml $out }}
{{- end }}

{{/*
The pod's affinity: values.affinity, or a preferred spread over nodes when it
is empty. With hostNetwork the metrics port is a port of the node, so two
replicas on one node would collide: a required podAntiAffinity on
kubernetes.io/hostname is added to whatever affinity there is.
*/}}
{{- define "sluice.affinity" -}}
{{- $term := dict "topologyKey" "kubernetes.io/hostname" "labelSelector" (dict "matchLabels" (include "sluice.selectorLabels" . | fromYaml)) }}
{{- $aff := deepCopy (.Values.affinity | default dict) }}
{{- if and .Values.hostNetwork (ne (int .Values.metrics.port) 0) }}
{{- $anti := get $aff "podAntiAffinity" | default dict }}
{{- $required := get $anti "requiredDuringSchedulingIgnoredDuringExecution" | default list }}
{{- $_ := set $anti "requiredDuringSchedulingIgnoredDuringExecution" (append $required $term) }}
{{- $_ := set $aff "podAntiAffinity" $anti }}
{{- else if not .Values.affinity }}
{{- $preferred := list (dict "weight" 100 "podAffinityTerm" $term) }}
{{- $_ := set $aff "podAntiAffinity" (dict "preferredDuringSchedulingIgnoredDuringExecution" $preferred) }}
{{- end }}
{{- toYaml $aff }}
{{- end }}

{{/*
The host of the kubelet's probes: empty (the pod's IP) when metrics.addr is
a wildcard, else metrics.addr itself. A loopback address is only reachable
by the kubelet when the pod shares the node's network.
*/}}
{{- define "sluice.probeHost" -}}
{{- $addr := toString .Values.metrics.addr }}
{{- $wildcard := has $addr (list "0.0.0.0" "::" "0:0:0:0:0:0:0:0") }}
{{- $loopback := or (hasPrefix "127." $addr) (eq $addr "::1") }}
{{- if and $loopback (not .Values.hostNetwork) }}
{{- fail (printf "metrics.addr %s is the pod's own loopback: the kubelet's probes cannot reach it; use 0.0.0.0, or hostNetwork=true" $addr) }}
{{- end }}
{{- if not $wildcard }}{{ $addr }}{{ end }}
{{- end }}

{{/* The Deployment's strategy: values.updateStrategy, else maxSurge 0 with hostNetwork. */}}
{{- define "sluice.updateStrategy" -}}
{{- if .Values.updateStrategy }}
{{- toYaml .Values.updateStrategy }}
{{- else if .Values.hostNetwork }}
type: RollingUpdate
rollingUpdate:
  maxSurge: 0
  maxUnavailable: 1
{{- end }}
{{- end }}

{{/* The dashboard's objects: <fullname>-dashboard. */}}
{{- define "sluice.dashboardName" -}}
{{- printf "%s-dashboard" (include "sluice.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sluice.dashboardServiceAccountName" -}}
{{- if .Values.dashboard.serviceAccount.create }}
{{- default (include "sluice.dashboardName" .) .Values.dashboard.serviceAccount.name }}
{{- else }}
{{- required "dashboard.serviceAccount.name is required when dashboard.serviceAccount.create is false" .Values.dashboard.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* As sluice.selectorLabels and sluice.labels, for the dashboard's pods. */}}
{{- define "sluice.dashboardSelectorLabels" -}}
app.kubernetes.io/name: {{ include "sluice.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: dashboard
{{- end }}

{{- define "sluice.dashboardLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "sluice.dashboardSelectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sluice
{{- end }}

{{/*
The dashboard container's env, each name once (as sluice.env): the pod's
name, namespace and IP (its default listen address), the log level, the operator's defaults for resources
that name no Kafka (with the default cluster's TLS and SASL), Redis or
PostgreSQL of their own (the same variables:
the dashboard finds their results where the workers wrote them), the status
Redis's credentials (redis.username, redis.passwordSecret by secretKeyRef: the
default sinks.redis is the status Redis), and the API
server's address when kubernetesService sets one (the same override the
operator gets); then dashboard.extraEnv, a name the chart sets too replacing
the chart's entry.
*/}}
{{- define "sluice.dashboardEnv" -}}
{{- $v := .Values }}
{{- $env := list
  (dict "name" "POD_NAME" "valueFrom" (dict "fieldRef" (dict "fieldPath" "metadata.name")))
  (dict "name" "POD_NAMESPACE" "valueFrom" (dict "fieldRef" (dict "fieldPath" "metadata.namespace")))
  (dict "name" "POD_IP" "valueFrom" (dict "fieldRef" (dict "fieldPath" "status.podIP")))
  (dict "name" "SLUICE_LOG_LEVEL" "value" (toString $v.logLevel))
  (dict "name" "SLUICE_KAFKA_BOOTSTRAP" "value" (toString $v.kafka.bootstrap))
}}
{{- /* The default cluster's security, as the operator's: a loaded
TelemetryWindow that names no Kafka reaches it as its workers do. */}}
{{- $env = concat $env (include "sluice.kafkaSecurityEnv" . | fromYamlArray) }}
{{- with $v.redis.addr }}
{{- $env = append $env (dict "name" "SLUICE_REDIS_ADDR" "value" (toString .)) }}
{{- end }}
{{- /* The status Redis's credentials, as the operator's: the default
sinks.redis is the status Redis, and the dashboard reads it. */}}
{{- with $v.redis.username }}
{{- $env = append $env (dict "name" "SLUICE_STATUS_REDIS_USERNAME" "value" (toString .)) }}
{{- end }}
{{- if $v.redis.passwordSecret.name }}
{{- $ps := $v.redis.passwordSecret }}
{{- $env = append $env (dict "name" "SLUICE_STATUS_REDIS_PASSWORD" "valueFrom" (dict "secretKeyRef" (dict "name" (toString $ps.name) "key" (toString $ps.key)))) }}
{{- end }}
{{- with $v.postgres.secretName }}
{{- $env = append $env (dict "name" "SLUICE_POSTGRES_SECRET" "value" (toString .)) }}
{{- end }}
{{- $host := toString $v.kubernetesService.host }}
{{- $port := toString $v.kubernetesService.port }}
{{- if or $host $port }}
{{- if not (and $host $port) }}
{{- fail "kubernetesService.host and kubernetesService.port go together: set both (e.g. 127.0.0.1 and 6443) or neither" }}
{{- end }}
{{- $env = append $env (dict "name" "KUBERNETES_SERVICE_HOST" "value" $host) }}
{{- $env = append $env (dict "name" "KUBERNETES_SERVICE_PORT" "value" $port) }}
{{- end }}
{{- $extra := dict }}
{{- range $v.dashboard.extraEnv }}
{{- $_ := set $extra .name . }}
{{- end }}
{{- $seen := dict }}
{{- $out := list }}
{{- range (concat $env $v.dashboard.extraEnv) }}
{{- if not (hasKey $seen .name) }}
{{- $_ := set $seen .name true }}
{{- $out = append $out (get $extra .name | default .) }}
{{- end }}
{{- end }}
{{- toYaml $out }}
{{- end }}

{{/*
The dashboard pod's affinity, by the operator's rule (sluice.affinity): with
dashboard.hostNetwork its port is a port of the node, so a required
podAntiAffinity on kubernetes.io/hostname keeps one replica per node;
otherwise a preferred spread when dashboard.affinity is empty.
*/}}
{{- define "sluice.dashboardAffinity" -}}
{{- $d := .Values.dashboard }}
{{- $term := dict "topologyKey" "kubernetes.io/hostname" "labelSelector" (dict "matchLabels" (include "sluice.dashboardSelectorLabels" . | fromYaml)) }}
{{- $aff := deepCopy ($d.affinity | default dict) }}
{{- if $d.hostNetwork }}
{{- $anti := get $aff "podAntiAffinity" | default dict }}
{{- $required := get $anti "requiredDuringSchedulingIgnoredDuringExecution" | default list }}
{{- $_ := set $anti "requiredDuringSchedulingIgnoredDuringExecution" (append $required $term) }}
{{- $_ := set $aff "podAntiAffinity" $anti }}
{{- else if not $d.affinity }}
{{- $preferred := list (dict "weight" 100 "podAffinityTerm" $term) }}
{{- $_ := set $aff "podAntiAffinity" (dict "preferredDuringSchedulingIgnoredDuringExecution" $preferred) }}
{{- end }}
{{- toYaml $aff }}
{{- end }}

{{/*
The host of the dashboard's probes, by sluice.probeHost's rule: empty (the
pod's IP) for an unset (the pod's IP) or wildcard dashboard.listenAddr, else
the address itself; a loopback address needs dashboard.hostNetwork (the
kubelet runs on the node).
*/}}
{{- define "sluice.dashboardProbeHost" -}}
{{- $addr := toString .Values.dashboard.listenAddr }}
{{- $wildcard := has $addr (list "" "0.0.0.0" "::" "0:0:0:0:0:0:0:0") }}
{{- $loopback := or (hasPrefix "127." $addr) (eq $addr "::1") }}
{{- if and $loopback (not .Values.dashboard.hostNetwork) }}
{{- fail (printf "dashboard.listenAddr %s is the pod's own loopback: the kubelet's probes and the Service cannot reach it; leave it unset (the pod's IP), or set dashboard.hostNetwork=true" $addr) }}
{{- end }}
{{- if not $wildcard }}{{ $addr }}{{ end }}
{{- end }}

{{/*
The common labels with another component, for the chart's objects that are
neither the operator's nor the dashboard's (the workers' PodMonitor, the
Grafana dashboards): (dict "ctx" $ "component" "workers").
*/}}
{{- define "sluice.componentLabels" -}}
{{- $ := .ctx -}}
helm.sh/chart: {{ printf "%s-%s" $.Chart.Name $.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "sluice.name" $ }}
app.kubernetes.io/instance: {{ $.Release.Name }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/version: {{ $.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $.Release.Service }}
app.kubernetes.io/part-of: sluice
{{- end }}
