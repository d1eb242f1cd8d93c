# Pinned versions of what scripts/deps.sh installs and the test stack runs:
# one place, sourced by every script. Caches are keyed by these.
SLUICE_CACHE=${SLUICE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sluice}
KAFKA_VERSION=3.9.1
# Keep in step with scripts/k8s/go.mod.
K8S_VERSION=v1.33.13
INFLUXDB_VERSION=1.8.10
# helm v3: `go list -m -versions helm.sh/helm/v3` lists what the proxy serves.
HELM_VERSION=v3.21.4
# playwright-core (npm) drives Debian's chromium in tests/e2e/test_dashboard.py;
# it needs Node.js >= 20.
PLAYWRIGHT_CORE_VERSION=1.65.1
# pyarrow writes the Parquet files the reader's tests compare with (a
# virtualenv in $SLUICE_CACHE/venv-pyarrow-$PYARROW_VERSION).
PYARROW_VERSION=26.0.1
# The references `make bench` compares Sluice with (tests/bench/): pyspark
# and Apache Flink's PyFlink from PyPI, each in a virtualenv of its own
# (they pin different py4j releases), $SLUICE_CACHE/venv-bench-refs-spark-$PYSPARK_VERSION
# and $SLUICE_CACHE/venv-bench-refs-flink-$APACHE_FLINK_VERSION (scripts/deps.sh bench-refs).
# PySpark 4 and Flink 2.2 run on Java 17; apache-flink 2.2 has cp311 wheels.
PYSPARK_VERSION=4.1.4
APACHE_FLINK_VERSION=2.2.1
# KEDA's operator and metrics adapter (tests/bench/bench_autoscale_keda.py),
# built by `scripts/deps.sh keda` from scripts/keda/go.mod (keep in step).
# v2.21 needs Go >= 1.27.4; v2.20.x builds with Go 1.26.
KEDA_VERSION=v2.20.2
# uPlot (npm), the dashboard's charts: fetched into $SLUICE_CACHE/npm and
# embedded in sluice-dashboard at build time (scripts/dashboard-assets.sh).
UPLOT_VERSION=1.6.32
UPLOT_SHA256=4b8a8191e425658e3ea8c8c1314b0fc679c861ee3a1af2b20c7b16ba50b5133d
export SLUICE_CACHE KAFKA_VERSION K8S_VERSION INFLUXDB_VERSION HELM_VERSION PYARROW_VERSION PYSPARK_VERSION APACHE_FLINK_VERSION PLAYWRIGHT_CORE_VERSION KEDA_VERSION UPLOT_VERSION UPLOT_SHA256
