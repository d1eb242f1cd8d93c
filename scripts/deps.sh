#!/usr/bin/env bash
# Installs everything Sluice needs on a fresh Debian 12 machine, idempotently
# and without prompts:
#   - Debian packages: compilers and -dev libraries, the servers the test
#     stack runs (PostgreSQL, Redis, InfluxDB, etcd) and the clients tests
#     judge with (kcat, psql, redis-cli, ffmpeg);
#   - Apache Kafka's jars from Maven Central (scripts/kafka/pom.xml);
#   - kube-apiserver, kube-controller-manager, kube-scheduler, kubelet (and
#     kubectl when the machine has none) built with `go build` from
#     k8s.io/kubernetes (scripts/k8s/); containerd, runc and the CNI plugins
#     from Debian, for the test stack's real node (docs/real-node.md).
# Downloads and builds live under $SLUICE_CACHE (default ~/.cache/sluice),
# keyed by version, so only the first run pays for them.
#
#   - InfluxDB 1.8.10 built with `go install` (for its /api/v2/write);
#   - helm built with `go install` (the chart's lint/template/install tests);
#   - playwright-core from the npm registry (the dashboard's browser test
#     drives Debian's chromium with it; no browser download of its own);
#   - pyarrow from PyPI in a virtualenv, $SLUICE_CACHE/venv-pyarrow-$PYARROW_VERSION
#     (the Parquet reader's tests compare with the files it writes);
#   - only with `deps.sh bench-refs` (make bench runs it; not part of all):
#     pyspark and apache-flink (PyFlink) from PyPI, each in its own
#     virtualenv, $SLUICE_CACHE/venv-bench-refs-{spark-$PYSPARK_VERSION,flink-$APACHE_FLINK_VERSION}
#     (the references tests/bench/ compares Sluice with).
#   - only with `deps.sh keda` (tests/bench/bench_autoscale_keda.py runs it;
#     not part of all): KEDA's operator and metrics adapter built with
#     `go build` from github.com/kedacore/keda/v2 (scripts/keda/), into
#     $SLUICE_CACHE/keda-$KEDA_VERSION/bin, with its CRDs in .../config.
#
# Usage: scripts/deps.sh [apt|python|pyarrow|bench-refs|keda|kafka|k8s|influxdb|helm|browser|all]   (default: all)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/versions.sh
. "$here/versions.sh"

say() { printf 'deps: %s\n' "$*" >&2; }
die() { printf 'deps: error: %s\n' "$*" >&2; exit 1; }

APT_PACKAGES=(
	# build
	build-essential pkg-config clang clang-format clang-tidy cppcheck
	libfuzzer-14-dev libclang-rt-14-dev valgrind curl ca-certificates openssl procps iproute2
	# libraries (README.md, "What `make deps` installs")
	libcurl4-openssl-dev libcjson-dev libyaml-dev librdkafka-dev
	libavformat-dev libavcodec-dev libavfilter-dev libswscale-dev
	libswresample-dev libavutil-dev libpq-dev libhiredis-dev libssl-dev
	libmicrohttpd-dev libcmocka-dev
	# sluice-worker load's Parquet reader: SNAPPY, GZIP and ZSTD pages
	libsnappy-dev zlib1g-dev libzstd-dev
	# servers for the test stack, and the clients tests judge with
	postgresql-15 postgresql-client-15 redis-server redis-tools influxdb
	influxdb-client etcd-server etcd-client kcat ffmpeg
	openjdk-17-jre-headless maven
	# container images (make images): podman with runc, a debootstrap base
	podman runc debootstrap
	# the real node: containerd runs the kubelet's pods with runc
	containerd containernetworking-plugins
	# the dashboard's browser test (tests/e2e/test_dashboard.py): headless
	# Chromium at /usr/bin/chromium, and fonts for its screenshots
	chromium fonts-liberation
)

need_root() {
	[ "$(id -u)" = 0 ] || die "installing Debian packages needs root (run: sudo make deps)"
}

deps_apt() {
	local missing=() p
	for p in "${APT_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	if [ ${#missing[@]} -eq 0 ]; then
		say "Debian packages: all present"
		return 0
	fi
	need_root
	say "Debian packages: installing ${missing[*]}"
	# Packaged services must not start on their default ports on install:
	# policy-rc.d exit 101 forbids invoke-rc.d actions, and PostgreSQL must
	# not create its 'main' cluster at all (create_main_cluster = false below).
	local policy=/usr/sbin/policy-rc.d placed_policy=0
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod +x "$policy"
		placed_policy=1
	fi
	mkdir -p /etc/postgresql-common/createcluster.d
	echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.d/sluice.conf
	local rc=0
	{
		# An old or empty package list fails the install; refresh it first.
		apt-get update -qq &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
				--no-install-recommends "${missing[@]}"
	} >"$SLUICE_CACHE/apt.log" 2>&1 || rc=$?
	[ $placed_policy = 1 ] && rm -f "$policy"
	if [ $rc -ne 0 ]; then
		tail -n 20 "$SLUICE_CACHE/apt.log" >&2
		die "apt-get failed (exit $rc); full log: $SLUICE_CACHE/apt.log"
	fi
}

deps_kafka() {
	local dir="$SLUICE_CACHE/kafka-$KAFKA_VERSION"
	if [ -f "$dir/.complete" ]; then
		say "Kafka $KAFKA_VERSION: cached in $dir"
		return 0
	fi
	command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"
	command -v java >/dev/null || die "java not found (apt-get install openjdk-17-jre-headless)"
	say "Kafka $KAFKA_VERSION: fetching jars from Maven Central into $dir"
	rm -rf "$dir"
	mkdir -p "$dir/libs"
	if ! mvn -B -q -f "$here/kafka/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
		org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
		-DincludeScope=runtime -DoutputDirectory="$dir/libs" >"$dir/mvn.log" 2>&1; then
		tail -n 20 "$dir/mvn.log" >&2
		die "maven could not fetch Kafka's jars; full log: $dir/mvn.log"
	fi
	touch "$dir/.complete"
}

deps_k8s() {
	local dir="$SLUICE_CACHE/k8s-$K8S_VERSION"
	local bins=(kube-apiserver kube-controller-manager kube-scheduler kubelet)
	command -v kubectl >/dev/null || bins+=(kubectl)
	local b all=1
	for b in "${bins[@]}"; do [ -x "$dir/bin/$b" ] || all=0; done
	if [ $all = 1 ]; then
		say "Kubernetes $K8S_VERSION: cached in $dir/bin"
		return 0
	fi
	command -v go >/dev/null || die "go not found; Go >= 1.24 builds the Kubernetes binaries"
	say "Kubernetes $K8S_VERSION: building ${bins[*]} with go build (first run: 15-30 min on 2 cores)"
	mkdir -p "$dir/src" "$dir/bin"
	cp "$here/k8s/go.mod" "$here/k8s/go.sum" "$here/k8s/tools.go" "$dir/src/"
	# The version variables hack/lib/version.sh sets; without them the
	# binaries report v0.0.0-master and kubectl warns about skew.
	local minor=${K8S_VERSION#v1.}
	minor=${minor%%.*}
	local ldf="-s -w" p
	for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		ldf+=" -X '$p.gitVersion=$K8S_VERSION' -X '$p.gitMajor=1' -X '$p.gitMinor=$minor'"
	done
	local pkgs=() log="$dir/build.log"
	for b in "${bins[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
	if ! (cd "$dir/src" && GOFLAGS=-modcacherw CGO_ENABLED=0 \
		go build -trimpath -ldflags "$ldf" -o "$dir/bin/" "${pkgs[@]}") >"$log" 2>&1; then
		tail -n 20 "$log" >&2
		die "building the Kubernetes binaries failed; full log: $log"
	fi
	say "Kubernetes $K8S_VERSION: built into $dir/bin"
}

# InfluxDB 1.8 adds the /api/v2/write API (token auth) that Debian's 1.6
# lacks; its go.mod has no replace directives, so `go install` builds it.
deps_influxdb() {
	local dir="$SLUICE_CACHE/influxdb-$INFLUXDB_VERSION"
	if [ -x "$dir/bin/influxd" ]; then
		say "InfluxDB $INFLUXDB_VERSION: cached in $dir/bin"
		return 0
	fi
	command -v go >/dev/null || die "go not found; it builds InfluxDB $INFLUXDB_VERSION"
	say "InfluxDB $INFLUXDB_VERSION: building influxd with go install (first run: ~2 min)"
	mkdir -p "$dir"
	if ! (cd "$dir" && CGO_ENABLED=0 GOFLAGS=-modcacherw GOBIN="$dir/bin.tmp" \
		go install "github.com/influxdata/influxdb/cmd/influxd@v$INFLUXDB_VERSION") >"$dir/build.log" 2>&1; then
		tail -n 20 "$dir/build.log" >&2
		die "building InfluxDB $INFLUXDB_VERSION failed; full log: $dir/build.log"
	fi
	rm -rf "$dir/bin"
	mv "$dir/bin.tmp" "$dir/bin"
}

# helm from v3.7.0 on has no replace directives in its go.mod, so `go install`
# builds it from the Go module proxy (go install refuses a module whose go.mod
# has replace directives).
# The binary lands in $SLUICE_CACHE/helm-$HELM_VERSION/bin; tests/e2e/run.sh puts
# that directory on PATH and tests/e2e/test_deploy.py looks there too.
deps_helm() {
	local dir="$SLUICE_CACHE/helm-$HELM_VERSION"
	if [ -x "$dir/bin/helm" ]; then
		say "helm $HELM_VERSION: cached in $dir/bin"
		return 0
	fi
	command -v go >/dev/null || die "go not found; it builds helm $HELM_VERSION"
	say "helm $HELM_VERSION: building with go install (first run: ~5 min on 2 cores)"
	mkdir -p "$dir"
	# Built into bin.tmp and renamed, so an interrupted build is never taken
	# for a cached one.
	if ! (cd "$dir" && CGO_ENABLED=0 GOFLAGS=-modcacherw GOBIN="$dir/bin.tmp" \
		go install -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
		"helm.sh/helm/v3/cmd/helm@$HELM_VERSION") >"$dir/build.log" 2>&1; then
		tail -n 20 "$dir/build.log" >&2
		die "building helm $HELM_VERSION failed; full log: $dir/build.log"
	fi
	rm -rf "$dir/bin"
	mv "$dir/bin.tmp" "$dir/bin"
}

# playwright-core, pinned, into $SLUICE_CACHE/npm/playwright-core-<version>
# (never into the checkout): tests/e2e/test_dashboard.py puts its
# node_modules on NODE_PATH for tests/e2e/browser/dashboard.js. It launches
# Debian's chromium (apt above); --ignore-scripts: nothing runs at install.
deps_browser() {
	local dir="$SLUICE_CACHE/npm/playwright-core-$PLAYWRIGHT_CORE_VERSION"
	if [ -f "$dir/node_modules/playwright-core/package.json" ]; then
		say "playwright-core $PLAYWRIGHT_CORE_VERSION: cached in $dir"
		return 0
	fi
	command -v node >/dev/null || die "node not found; playwright-core needs Node.js >= 20"
	command -v npm >/dev/null || die "npm not found; it installs playwright-core"
	local major
	major=$(node -p 'process.versions.node.split(".")[0]')
	[ "$major" -ge 20 ] || die "Node.js $(node --version) is too old: playwright-core $PLAYWRIGHT_CORE_VERSION needs >= 20"
	say "playwright-core $PLAYWRIGHT_CORE_VERSION: installing from the npm registry into $dir"
	# Into a temporary folder, renamed when complete, so an interrupted
	# install is never taken for a cached one.
	rm -rf "$dir.tmp"
	mkdir -p "$dir.tmp"
	if ! npm install --prefix "$dir.tmp" --no-save --no-audit --no-fund --ignore-scripts \
		"playwright-core@$PLAYWRIGHT_CORE_VERSION" >"$dir.tmp/npm.log" 2>&1; then
		tail -n 20 "$dir.tmp/npm.log" >&2
		die "npm could not install playwright-core; full log: $dir.tmp/npm.log"
	fi
	rm -rf "$dir"
	mv "$dir.tmp" "$dir"
}

# pytest runs the end-to-end suite; PyPI has it where the machine lacks it.
deps_python() {
	python3 -m pytest --version >/dev/null 2>&1 && return 0
	say "pytest: installing from PyPI"
	python3 -m pip install --quiet pytest || die "could not install pytest (python3 -m pip install pytest)"
}

# pyarrow writes the Parquet files tests/unit/test_parquet.c and
# tests/e2e/test_load_parquet.py read back. In a virtualenv of its own, so
# the machine's python stays as it is; made in place and marked complete
# last, so an interrupted install is never taken for a finished one.
deps_pyarrow() {
	local dir="$SLUICE_CACHE/venv-pyarrow-$PYARROW_VERSION"
	if [ -f "$dir/.complete" ] && "$dir/bin/python" -c 'import pyarrow' 2>/dev/null; then
		say "pyarrow $PYARROW_VERSION: cached in $dir"
		return 0
	fi
	say "pyarrow $PYARROW_VERSION: installing from PyPI into $dir"
	rm -rf "$dir"
	python3 -m venv "$dir" || die "python3 -m venv failed (apt-get install python3-venv)"
	if ! "$dir/bin/python" -m pip install --quiet --disable-pip-version-check \
		"pyarrow==$PYARROW_VERSION" >"$SLUICE_CACHE/pyarrow.log" 2>&1; then
		tail -n 20 "$SLUICE_CACHE/pyarrow.log" >&2
		die "could not install pyarrow $PYARROW_VERSION; full log: $SLUICE_CACHE/pyarrow.log"
	fi
	touch "$dir/.complete"
}

# One virtualenv at $1 holding the pip requirement $2 (whose module $3 must
# import), made once: in place, like pyarrow's, and marked complete last, so
# an interrupted install is never taken for a finished one.
bench_ref_venv() {
	local dir=$1 req=$2 mod=$3
	if [ -f "$dir/.complete" ] && "$dir/bin/python" -c "import $mod" 2>/dev/null; then
		say "$req: cached in $dir"
		return 0
	fi
	say "$req: installing from PyPI into $dir (first run: a few minutes)"
	rm -rf "$dir"
	python3 -m venv "$dir" || die "python3 -m venv failed (apt-get install python3-venv)"
	if ! "$dir/bin/python" -m pip install --quiet --disable-pip-version-check \
		"$req" >"$dir/pip.log" 2>&1; then
		tail -n 20 "$dir/pip.log" >&2
		die "could not install $req; full log: $dir/pip.log"
	fi
	"$dir/bin/python" -c "import $mod" || die "$req installed but 'import $mod' fails"
	touch "$dir/.complete"
}

# The references make bench compares with (tests/bench/): pyspark and
# PyFlink pin different py4j releases, so each has a virtualenv of its own.
deps_bench_refs() {
	command -v java >/dev/null || die "java not found (apt-get install openjdk-17-jre-headless)"
	# One installer at a time: a second waits, then finds them cached.
	exec 9>"$SLUICE_CACHE/bench-refs.lock"
	flock 9
	bench_ref_venv "$SLUICE_CACHE/venv-bench-refs-spark-$PYSPARK_VERSION" \
		"pyspark==$PYSPARK_VERSION" pyspark
	bench_ref_venv "$SLUICE_CACHE/venv-bench-refs-flink-$APACHE_FLINK_VERSION" \
		"apache-flink==$APACHE_FLINK_VERSION" pyflink.table
}

# KEDA's operator (keda) and metrics adapter (keda-adapter) for the
# side-by-side autoscaling bench. `go install` refuses KEDA (its go.mod has
# replace directives), so scripts/keda/ is a small module that requires it
# and repeats those replaces. The adapter's own /metrics listens on
# ":<port>", every interface, with no flag for the address: the adapter is
# built from a copy of KEDA's cmd/adapter/main.go (one file, package main,
# made at build time in the cache by sed from the module's file, checked)
# with 127.0.0.1 there instead, so every KEDA listener is on the loopback
# (`go build -overlay` refuses files in the module cache). Built into bin.tmp, marked complete and renamed, so an
# interrupted build is never taken for a cached one; KEDA's CRDs and RBAC
# are copied from the module next to the binaries.
keda_cached() {
	[ -f "$1/bin/.complete" ] && [ -x "$1/bin/keda" ] && [ -x "$1/bin/keda-adapter" ] &&
		[ -d "$1/config/crd/bases" ]
}

deps_keda() {
	local dir="$SLUICE_CACHE/keda-$KEDA_VERSION"
	if keda_cached "$dir"; then
		say "KEDA $KEDA_VERSION: cached in $dir"
		return 0
	fi
	command -v go >/dev/null || die "go not found; Go >= 1.26 builds KEDA $KEDA_VERSION"
	grep -q "github.com/kedacore/keda/v2 $KEDA_VERSION\$" "$here/keda/go.mod" ||
		die "scripts/keda/go.mod does not require KEDA $KEDA_VERSION (scripts/versions.sh)"
	# One builder at a time: a second waits, then finds it cached.
	exec 8>"$SLUICE_CACHE/keda.lock"
	flock 8
	if keda_cached "$dir"; then
		say "KEDA $KEDA_VERSION: cached in $dir"
		return 0
	fi
	say "KEDA $KEDA_VERSION: building the operator and adapter with go build (first run: ~6 min on 2 cores)"
	local src="$dir/src" log="$dir/build.log" p=github.com/kedacore/keda/v2/cmd mod
	mkdir -p "$src"
	cp "$here/keda/go.mod" "$here/keda/go.sum" "$here/keda/tools.go" "$src/"
	mod=$(cd "$src" && GOFLAGS=-modcacherw go mod download -json github.com/kedacore/keda/v2 |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p') && [ -d "$mod" ] ||
		die "go mod download could not fetch KEDA $KEDA_VERSION"
	local from='fmt.Sprintf(":%v", metricsAPIServerPort)'
	local to='fmt.Sprintf("127.0.0.1:%v", metricsAPIServerPort)'
	mkdir -p "$src/adapter"
	sed "s|$from|$to|" "$mod/cmd/adapter/main.go" >"$src/adapter/main.go"
	grep -qF "$to" "$src/adapter/main.go" ||
		die "KEDA $KEDA_VERSION's cmd/adapter/main.go no longer has $from (see scripts/deps.sh)"
	local ldf="-s -w -X github.com/kedacore/keda/v2/version.Version=$KEDA_VERSION"
	rm -rf "$dir/bin.tmp"
	mkdir -p "$dir/bin.tmp"
	if ! (cd "$src" && export GOFLAGS=-modcacherw CGO_ENABLED=0 &&
		go build -trimpath -ldflags "$ldf" -o "$dir/bin.tmp/keda" "$p/operator" &&
		go build -trimpath -ldflags "$ldf" -o "$dir/bin.tmp/keda-adapter" ./adapter) >"$log" 2>&1; then
		tail -n 20 "$log" >&2
		die "building KEDA $KEDA_VERSION failed; full log: $log"
	fi
	rm -rf "$dir/config"
	mkdir -p "$dir/config"
	cp -r "$mod/config/crd" "$mod/config/rbac" "$dir/config/"
	chmod -R u+w "$dir/config"
	touch "$dir/bin.tmp/.complete"
	rm -rf "$dir/bin"
	mv "$dir/bin.tmp" "$dir/bin"
	say "KEDA $KEDA_VERSION: built into $dir/bin"
}

mkdir -p "$SLUICE_CACHE"
case "${1:-all}" in
apt) deps_apt ;;
kafka) deps_kafka ;;
k8s) deps_k8s ;;
influxdb) deps_influxdb ;;
python) deps_python ;;
pyarrow) deps_pyarrow ;;
bench-refs) deps_bench_refs ;;
keda) deps_keda ;;
helm) deps_helm ;;
browser) deps_browser ;;
all)
	deps_apt
	deps_python
	deps_pyarrow
	deps_kafka
	deps_k8s
	deps_influxdb
	deps_helm
	deps_browser
	;;
*) die "unknown part '$1' (apt, python, pyarrow, bench-refs, keda, kafka, k8s, influxdb, helm, browser or all)" ;;
esac
