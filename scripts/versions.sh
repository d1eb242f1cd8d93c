# Pinned versions of what scripts/deps.sh installs and the test stack runs:
# one place, sourced by every script. Caches are keyed by these.
SLUICE_CACHE=${SLUICE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sluice}
KAFKA_VERSION=3.9.1
# Keep in step with scripts/k8s/go.mod.
K8S_VERSION=v1.33.13
INFLUXDB_VERSION=1.8.10
# helm v3: `go list -m -versions helm.sh/helm/v3` lists what the proxy serves.
HELM_VERSION=v3.21.4
export SLUICE_CACHE KAFKA_VERSION K8S_VERSION INFLUXDB_VERSION HELM_VERSION
