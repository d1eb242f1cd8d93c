#!/usr/bin/env bash
# demo.sh -- `make demo`: the whole pipeline on this machine, end to end.
#
# Installs what is missing (make deps), builds the binaries and the images,
# starts the stack of real servers (Kafka, PostgreSQL, Redis, InfluxDB, etcd,
# kube-apiserver, kube-controller-manager) and its real node (kube-scheduler,
# containerd, a kubelet), installs the operator and the dashboard with the
# Helm chart as pods on the node (the dashboard's page on
# http://127.0.0.1:$SLUICE_DEMO_DASHBOARD_PORT/, printed at the start and the
# end), gives the demo namespace a hostPath volume for videos; then
# applies a VideoJob on a generated video with audio and a TelemetryWindow fed
# by a generated stream, shows pods and progress live, and prints where the
# outputs are. Ctrl-C (or any failure) stops everything it started.
#
# Environment: SLUICE_DEMO_DIR (default build/demo), SLUICE_DEMO_SECONDS
# (length of the generated video, default 20), SLUICE_DEMO_EVENTS (telemetry
# events, default 200000), SLUICE_DEMO_TIMEOUT (seconds, default 600),
# SLUICE_DEMO_DASHBOARD_PORT (the dashboard's port on 127.0.0.1, default 8088),
# SLUICE_DEMO_KEEP=1 keeps the stack up at the end (stop it with
# `SLUICE_STACK_ENV=build/demo/stack.env tests/e2e/stack.sh down`).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
dir=${SLUICE_DEMO_DIR:-$root/build/demo}
seconds=${SLUICE_DEMO_SECONDS:-20}
events=${SLUICE_DEMO_EVENTS:-200000}
timeout=${SLUICE_DEMO_TIMEOUT:-600}
dash_port=${SLUICE_DEMO_DASHBOARD_PORT:-8088}
dash_url=http://127.0.0.1:$dash_port/
ns=sluice-demo
export SLUICE_STACK_ENV=$dir/stack.env

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

pids=()
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	if [ "${SLUICE_DEMO_KEEP:-0}" != 1 ] && [ -f "$SLUICE_STACK_ENV" ]; then
		tests/e2e/stack.sh down >/dev/null 2>&1 || true
	fi
	[ $rc -eq 0 ] || printf 'demo: stopped (logs in %s)\n' "$dir" >&2
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "the dashboard will be at $dash_url once the chart is installed"

say "installing what is missing (make deps), building the binaries and the images"
make -s deps
make -s build
make -s images
mkdir -p "$dir/media" "$dir/out"

say "starting the stack of real servers and the node on 127.0.0.1"
tests/e2e/stack.sh down >/dev/null 2>&1 || true
tests/e2e/stack.sh up >"$dir/stack.log" 2>&1 || { tail -20 "$dir/stack.log"; die "stack failed"; }
# The dashboard listens on the node's loopback (the node is this machine);
# checked once an earlier demo's stack, and its dashboard, are gone.
if (exec 3<>"/dev/tcp/127.0.0.1/$dash_port") 2>/dev/null; then
	die "port $dash_port is taken: set SLUICE_DEMO_DASHBOARD_PORT to a free one"
fi
set -a
# shellcheck disable=SC1090
. "$SLUICE_STACK_ENV"
set +a
kc() { kubectl --kubeconfig "$KUBECONFIG" "$@"; }

say "installing the operator and the dashboard with helm (pods on the node, on its network)"
kc create namespace "$ns" --dry-run=client -o yaml | kc apply -f - >/dev/null
kc -n "$ns" create secret generic sluice-sinks --from-literal=dsn="$PG_DSN" \
	--dry-run=client -o yaml | kc apply -f - >/dev/null
# shellcheck source=scripts/versions.sh
. scripts/versions.sh
helm=$SLUICE_CACHE/helm-$HELM_VERSION/bin/helm
# One node with no pod network: every pod on the host network, the API
# server at 127.0.0.1 (no kube-proxy), images already in containerd.
"$helm" --kubeconfig "$KUBECONFIG" install sluice helm/sluice -n "$ns" --wait --timeout 120s \
	--set watchNamespace="$ns",replicaCount=1,hostNetwork=true \
	--set metrics.addr=127.0.0.1,metrics.port=0,workers.hostNetwork=true \
	--set kubernetesService.host=127.0.0.1,kubernetesService.port="${KUBE_APISERVER##*:}" \
	--set image.operator.pullPolicy=Never,image.worker.pullPolicy=Never \
	--set kafka.bootstrap="$KAFKA_BOOTSTRAP",redis.addr="$REDIS_HOST:$REDIS_PORT" \
	--set postgres.secretName=sluice-sinks,influxdb.url="$INFLUX_URL",influxdb.database="$INFLUX_DB" \
	--set 'extraEnv[0].name=SLUICE_POLLING_INTERVAL,extraEnv[0].value=2s' \
	--set 'extraEnv[1].name=SLUICE_RESYNC_PERIOD,extraEnv[1].value=2s' \
	--set 'extraEnv[2].name=SLUICE_STABILIZATION_WINDOW,extraEnv[2].value=30s' \
	--set 'extraEnv[3].name=SLUICE_COOLDOWN_PERIOD,extraEnv[3].value=60s' \
	--set dashboard.enabled=true,dashboard.hostNetwork=true \
	--set dashboard.listenAddr=127.0.0.1,dashboard.port="$dash_port",dashboard.url="$dash_url" \
	>"$dir/helm.log" 2>&1 || { tail -20 "$dir/helm.log"; die "helm install failed"; }
# helm's --wait counts a Deployment whose rollout may leave one pod
# unavailable (the host-network strategy) as ready at once: wait for the
# dashboard's pod itself, then for its page.
kc -n "$ns" wait --for=condition=Ready pod --timeout=120s \
	-l app.kubernetes.io/instance=sluice,app.kubernetes.io/component=dashboard >/dev/null ||
	die "the dashboard's pod is not Ready (kubectl -n $ns describe pods)"
deadline=$((SECONDS + 60))
until curl -sf -o /dev/null "${dash_url}readyz"; do
	[ $SECONDS -lt $deadline ] || die "the dashboard does not answer on $dash_url"
	sleep 1
done
kc -n "$ns" get pods -l app.kubernetes.io/instance=sluice
say "the dashboard: $dash_url"

say "a hostPath PersistentVolume for the videos, claimed in $ns"
# Under the stack's directory: the pods run as uid 65532, which must reach it.
vol=$SLUICE_STACK_DIR/volumes/videos
mkdir -p "$vol/out"
chown -R 65532:65532 "$vol"
kc apply -f - >/dev/null <<EOF
apiVersion: v1
kind: PersistentVolume
metadata: {name: sluice-demo-videos}
spec:
  capacity: {storage: 10Gi}
  accessModes: [ReadWriteMany]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: ""
  hostPath: {path: "$vol", type: Directory}
  claimRef: {namespace: $ns, name: videos}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: videos, namespace: $ns}
spec:
  accessModes: [ReadWriteMany]
  storageClassName: ""
  volumeName: sluice-demo-videos
  resources: {requests: {storage: 10Gi}}
EOF

say "generating a ${seconds}s video with audio"
ffmpeg -nostdin -loglevel error -y -f lavfi -i "testsrc2=size=640x360:rate=25:duration=$seconds" \
	-f lavfi -i "sine=frequency=440:duration=$seconds" -c:v libx264 -preset veryfast \
	-g 50 -c:a aac -shortest "$vol/in.mp4"
chown 65532:65532 "$vol/in.mp4"

say "creating the telemetry topic and generating ${events} events"
java -cp "$KAFKA_LIBS/*" org.apache.kafka.tools.TopicCommand --bootstrap-server \
	"$KAFKA_BOOTSTRAP" --create --if-not-exists --topic telemetry --partitions 4 \
	--replication-factor 1 >/dev/null 2>&1
python3 - "$events" >"$dir/media/telemetry.csv" <<'EOF'
import random, sys, time
n = int(sys.argv[1])
t0 = int(time.time() * 1000) - 600_000
print("ts,host,temp,load")
for i in range(n):
    host = f"host-{i % 20:02d}"
    ts = t0 + i * 600_000 // n + random.randint(-2000, 0)   # a little out of order
    print(f"{ts},{host},{20 + random.gauss(0, 2):.2f},{random.random():.3f}")
    if i % 997 == 0:                                         # and some duplicates
        print(f"{ts},{host},{20:.2f},{0.5:.3f}")
EOF

say "applying a VideoJob and a TelemetryWindow"
kc apply -f - >/dev/null <<EOF
apiVersion: sluice.dev/v1alpha1
kind: VideoJob
metadata: {name: demo, namespace: $ns}
spec:
  source: {uri: "file:///videos/in.mp4"}
  output: {uri: "file:///videos/out/demo-360p-gray.mp4"}
  volume:
    mountPath: /videos
    persistentVolumeClaim: {claimName: videos}
  segmentSeconds: 2
  filters: "scale=480:-2,hue=s=0"
  encoder: {codec: libx264, crf: 23, preset: veryfast}
  kafka: {bootstrap: "$KAFKA_BOOTSTRAP"}
  workers: {minReplicas: 0, maxReplicas: 2, lagThreshold: 2}
---
apiVersion: sluice.dev/v1alpha1
kind: TelemetryWindow
metadata: {name: sensors, namespace: $ns}
spec:
  kafka: {bootstrap: "$KAFKA_BOOTSTRAP", topic: telemetry}
  format: json
  fields: {timestamp: ts, timestampFormat: epoch_ms, keys: [host], values: [temp, load]}
  window: {size: 30s, watermarkDelay: 10s, idleTimeout: 5s}
  aggregations: [count, mean, max, p95]
  sinks:
    influxdb: {url: "$INFLUX_URL", database: "$INFLUX_DB"}
    postgres: {dsn: {name: sluice-sinks, key: dsn}}
    redis: {addr: "$REDIS_HOST:$REDIS_PORT", ttl: 1h}
  workers: {minReplicas: 0, maxReplicas: 4, lagThreshold: 5000}
EOF
build/sluice-worker load --file "$dir/media/telemetry.csv" --topic telemetry \
	--bootstrap "$KAFKA_BOOTSTRAP" --key-fields host --as-json >"$dir/load.log" 2>&1

say "watching: kubectl get vj,tw -n $ns"
deadline=$((SECONDS + timeout))
bar() { # bar PERCENT
	local p=${1:-0} w=40 f
	f=$((p * w / 100))
	printf '[%s%s] %3d%%' "$(printf '%*s' "$f" '' | tr ' ' '#')" "$(printf '%*s' $((w - f)) '')" "$p"
}
while :; do
	phase=$(kc -n "$ns" get vj demo -o jsonpath='{.status.phase}' 2>/dev/null || true)
	prog=$(kc -n "$ns" get vj demo -o jsonpath='{.status.progress}' 2>/dev/null || true)
	windows=$(kc -n "$ns" get tw sensors -o jsonpath='{.status.windowsEmitted}' 2>/dev/null || true)
	if [ -t 1 ]; then
		clear
		kc -n "$ns" get pods 2>/dev/null || true
		echo
		kc -n "$ns" get vj,tw 2>/dev/null || true
		printf '\nvideo      %s %s\ntelemetry  %s windows emitted\ndashboard  %s\n' \
			"$(bar "${prog%\%}")" "${phase:-Pending}" "${windows:-0}" "$dash_url"
	else
		printf 'video: %s %s  telemetry: %s windows\n' "${phase:-Pending}" "${prog:-0%}" \
			"${windows:-0}"
	fi
	case "$phase" in
	Succeeded) [ "${windows:-0}" -gt 0 ] 2>/dev/null && break ;;
	Failed) die "the VideoJob failed: $(kc -n "$ns" get vj demo -o \
		jsonpath='{.status.conditions[?(@.type=="Ready")].message}')" ;;
	esac
	[ $SECONDS -lt $deadline ] || die "not done after ${timeout}s (logs in $dir)"
	sleep 2
done

say "done: where the outputs are"
kc -n "$ns" get pods
echo
kc -n "$ns" get vj,tw
cp "$vol/out/demo-360p-gray.mp4" "$dir/out/"
out=$dir/out/demo-360p-gray.mp4
printf '\nprocessed video: %s\n' "$out"
ffprobe -v error -show_entries stream=codec_name,width,height,nb_frames:format=duration \
	-of compact "$out"
printf '\nPostgreSQL (%s):\n' "$PG_DSN"
psql "$PG_DSN" -Atc "SELECT 'video_frames rows: ' || count(*) FROM video_frames"
psql "$PG_DSN" -Atc "SELECT 'telemetry_windows rows: ' || count(*) FROM telemetry_windows \
	WHERE resource = '$ns/sensors'"
printf '\nRedis (%s:%s): ' "$REDIS_HOST" "$REDIS_PORT"
keys=$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" --scan --pattern "sluice:*$ns:*" | wc -l)
printf '%s keys, e.g.:\n' "$keys"
redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" --scan --pattern "sluice:*$ns:*" | sort | head -5
printf '\nInfluxDB (%s, database %s):\n' "$INFLUX_URL" "$INFLUX_DB"
curl -sG "$INFLUX_URL/query" --data-urlencode "db=$INFLUX_DB" \
	--data-urlencode "q=SELECT count(*) FROM telemetry_window" | head -c 400
echo
printf '\nThe dashboard: %s\n' "$dash_url"
if [ "${SLUICE_DEMO_KEEP:-0}" = 1 ]; then
	say "the stack stays up (SLUICE_DEMO_KEEP=1): . $SLUICE_STACK_ENV; the dashboard: $dash_url"
else
	say "the dashboard goes with the stack (SLUICE_DEMO_KEEP=1 keeps both): $dash_url"
fi
exit 0
