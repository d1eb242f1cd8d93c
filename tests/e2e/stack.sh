#!/usr/bin/env bash
# The test stack: real servers on 127.0.0.1, on free ports, in a temporary
# directory. Nothing here is a mock; tests and the demo use what it starts.
#
#   stack.sh up               start everything, write the env file, print it
#   stack.sh down             stop everything this stack started (by PID)
#   stack.sh status           one line per server: pid, port, answering or not
#   stack.sh stop NAME        stop one server (e.g. postgres, kafka2) ...
#   stack.sh start NAME       ... and start it again on the same port and data
#   stack.sh names            the servers of the running stack
#   stack.sh import           load the images `make images` built into the
#                             running node's containerd (when they changed)
#
# Environment: KAFKA_BROKERS=1|3 (default 1), SLUICE_STACK_ENV (the env file,
# default build/stack.env), SLUICE_STACK_COMPONENTS (default all:
# "kafka postgres redis influxdb etcd kube-apiserver kube-controller-manager
# kube-scheduler containerd kubelet"; the last three are the real node of
# stack-node.sh and need root), 
# SLUICE_<NAME>_PORT to pin a port (e.g. SLUICE_POSTGRES_PORT=15432,
# SLUICE_KAFKA1_SASL_SSL_PORT=19094), SLUICE_KAFKA_JVM_OPTS (extra options
# for the brokers' JVM, see start_kafka).
# Installed tools come from scripts/deps.sh (make deps).
set -euo pipefail

# The servers started here must not inherit the caller's open files: a lock
# the caller holds (`flock /tmp/x.lock tests/e2e/stack.sh up`) would stay held
# for the stack's whole life. 255 is the script bash is reading.
for fd in /proc/$$/fd/*; do
	fd=${fd##*/}
	case $fd in 0 | 1 | 2 | 255) ;; *) eval "exec $fd>&-" 2>/dev/null || true ;; esac
done

root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=scripts/versions.sh
. "$root/scripts/versions.sh"

ENV_FILE=${SLUICE_STACK_ENV:-$root/build/stack.env}
ALL_COMPONENTS="kafka postgres redis influxdb etcd kube-apiserver kube-controller-manager"
ALL_COMPONENTS+=" kube-scheduler containerd kubelet"
READY_TIMEOUT=${SLUICE_STACK_TIMEOUT:-120}

say() { printf 'stack: %s\n' "$*" >&2; }
die() { printf 'stack: error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- helpers

require() {
	local tool=$1 hint=$2
	command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found: $hint"
}

# Prints N distinct free TCP ports on 127.0.0.1. All sockets are held open
# until every port is chosen, so the N are distinct.
free_ports() {
	python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

port_in_use() {
	python3 - "$1" <<'EOF'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(0)
sys.exit(1)
EOF
}

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

pidfile() { echo "$STACK_DIR/pids/$1.pid"; }
logfile() { echo "$STACK_DIR/logs/$1.log"; }

pid_of() {
	local f
	f=$(pidfile "$1")
	[ -f "$f" ] && cat "$f" || true
}

# Runs a server in the background in a session of its own (so a Ctrl-C on
# the terminal does not reach it and its children share its process group),
# records its PID, appends its output to its log.
spawn() {
	local name=$1
	shift
	local log
	log=$(logfile "$name")
	echo "---- start $(date -u +%FT%TZ): $*" >>"$log"
	setsid "$@" >>"$log" 2>&1 </dev/null &
	echo $! >"$(pidfile "$name")"
}

# The log lines of a server's current run (spawn marks each start), so a
# restarted server is not taken as ready by its previous run's lines.
since_last_start() {
	awk '/^---- start /{n=0; delete l} {l[n++]=$0} END{for(i=0;i<n;i++) print l[i]}' \
		"$(logfile "$1")"
}

fail_with_log() {
	local name=$1 why=$2 log
	log=$(logfile "$name")
	say "$name $why; the last lines of its log ($log):"
	tail -n 25 "$log" | sed 's/^/    | /' >&2
	return 1
}

# wait_ready NAME CHECK...: polls CHECK until it succeeds, the process dies,
# or the timeout passes.
wait_ready() {
	local name=$1
	shift
	local pid deadline=$((SECONDS + READY_TIMEOUT))
	pid=$(pid_of "$name")
	while ! "$@" >/dev/null 2>&1; do
		pid_alive "$pid" || {
			fail_with_log "$name" "exited during start-up"
			return 1
		}
		[ $SECONDS -lt $deadline ] || {
			fail_with_log "$name" "did not answer within ${READY_TIMEOUT}s"
			return 1
		}
		sleep 0.2
	done
}

# Stops one server by its recorded PID: the polite signal first, then KILL
# of its process group after a grace period. Split in two so that `down`
# can signal every server at once and wait for them together (a lone Kafka
# broker waits for a quorum that is already gone otherwise).
signal_pid() {
	local pid
	pid=$(pid_of "$1")
	pid_alive "$pid" && kill -s "${2:-TERM}" "$pid" 2>/dev/null
	return 0
}

reap_pid() {
	local name=$1 pid i
	pid=$(pid_of "$name")
	[ -n "$pid" ] || return 0
	for i in $(seq 1 100); do
		pid_alive "$pid" || break
		sleep 0.1
	done
	if pid_alive "$pid"; then
		say "$name (pid $pid) did not stop within 10s; killing its process group"
		kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
		while pid_alive "$pid"; do sleep 0.1; done
	fi
	# Children left in the group (PostgreSQL backends, for one).
	kill -KILL -- "-$pid" 2>/dev/null || true
	rm -f "$(pidfile "$name")"
}

stop_pid() {
	signal_pid "$1" "${2:-TERM}"
	reap_pid "$1"
}

# shellcheck source=tests/e2e/stack-node.sh
. "$root/tests/e2e/stack-node.sh"

# ---------------------------------------------------------------- state

load_state() {
	[ -f "$ENV_FILE" ] || return 1
	# shellcheck disable=SC1090
	. "$ENV_FILE"
	STACK_DIR=$SLUICE_STACK_DIR
	[ -d "$STACK_DIR" ] || return 1
	# shellcheck disable=SC1091
	. "$STACK_DIR/ports.sh"
}

# The order in which servers start; each entry is a name start_/stop_/
# check_ functions know. Kafka with 3 brokers is kafka1..kafka3.
server_names() {
	local c i
	for c in $COMPONENTS; do
		if [ "$c" = kafka ]; then
			for i in $(seq 1 "$KAFKA_BROKERS"); do echo "kafka$i"; done
		else
			echo "$c"
		fi
	done
}

# ---------------------------------------------------------------- the CA

# One CA per stack, made by the first server that needs it (Kafka's TLS
# listeners, the API server), signs every server and client certificate.
stack_ca() {
	local d="$STACK_DIR/ca"
	[ -f "$d/ca.crt" ] && return 0
	require openssl "apt-get install openssl"
	mkdir -p "$d"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/ca.key" -out "$d/ca.crt" -days 7 \
		-subj "/CN=sluice-test-ca" 2>/dev/null || die "openssl could not make the stack's CA in $d"
}

# ---------------------------------------------------------------- kafka

kafka_libs() { echo "$SLUICE_CACHE/kafka-$KAFKA_VERSION/libs"; }

# Where the Kafka listeners' TLS material lies, and the SASL users' names
# (their passwords are made per stack by `up` and kept in the env file).
kafka_security_vars() {
	KAFKA_TLS_DIR="$STACK_DIR/kafka/tls"
	KAFKA_CA_PEM="$STACK_DIR/ca/ca.crt"
	KAFKA_CLIENT_CERT_PEM="$KAFKA_TLS_DIR/client.crt"
	KAFKA_CLIENT_KEY_PEM="$KAFKA_TLS_DIR/client.key"
	KAFKA_SASL_USER=sluice_scram
	KAFKA_SASL_PLAIN_USER=sluice_plain
}

# The TLS material of the Kafka listeners, made once per `up` (restarts
# reuse it), in $STACK_DIR/kafka/tls: one serving certificate for every
# broker (all listen on 127.0.0.1), a client certificate, an expired client
# certificate (openssl x509 cannot back-date; openssl ca can) and a second,
# unrelated CA. Keys are EC P-256: quick to make.
kafka_tls() {
	local ca="$STACK_DIR/ca" from to
	stack_ca
	mkdir -p "$KAFKA_TLS_DIR"
	from=$(date -u -d '-3 days' +%Y%m%d%H%M%SZ)
	to=$(date -u -d '-2 days' +%Y%m%d%H%M%SZ)
	(
		set -e
		cd "$KAFKA_TLS_DIR"
		key_csr() {
			openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
				-keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
		}
		sign() {
			printf '%s\n' "$2" >"$1.ext"
			openssl x509 -req -in "$1.csr" -CA "$ca/ca.crt" -CAkey "$ca/ca.key" \
				-CAserial ca.srl -CAcreateserial -out "$1.crt" -days 7 -extfile "$1.ext" 2>/dev/null
		}
		key_csr broker /CN=localhost
		sign broker $'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth'
		key_csr client /CN=sluice-kafka-client
		sign client extendedKeyUsage=clientAuth
		key_csr expired-client /CN=sluice-kafka-expired-client
		mkdir -p ca-db
		: >ca-db/index.txt
		echo 01 >ca-db/serial
		printf '%s\n' '[ca]' 'default_ca = back_dated' '[back_dated]' \
			'database = ca-db/index.txt' 'serial = ca-db/serial' 'new_certs_dir = ca-db' \
			'default_md = sha256' 'policy = any' 'unique_subject = no' 'x509_extensions = client' \
			'[any]' 'commonName = supplied' '[client]' 'extendedKeyUsage = clientAuth' >ca-db/ca.cnf
		openssl ca -batch -notext -config ca-db/ca.cnf -cert "$ca/ca.crt" -keyfile "$ca/ca.key" \
			-startdate "$from" -enddate "$to" -in expired-client.csr -out expired-client.crt 2>/dev/null
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 7 \
			-keyout other-ca.key -out other-ca.crt -subj /CN=sluice-other-ca 2>/dev/null
		rm -rf ca-db ca.srl ./*.csr ./*.ext
	) || die "openssl could not make the Kafka listeners' certificates in $KAFKA_TLS_DIR"
}

# A PEM file as a server.properties value: its lines continued with a
# backslash (Kafka's PEM parser ignores the spaces between them).
pem_value() { sed -e '$!s/$/ \\/' "$1"; }

init_kafka() {
	local libs i voters="" cid
	libs=$(kafka_libs)
	[ -f "$SLUICE_CACHE/kafka-$KAFKA_VERSION/.complete" ] ||
		die "Kafka $KAFKA_VERSION jars not in $SLUICE_CACHE (run: make deps)"
	require java "apt-get install openjdk-17-jre-headless (make deps)"
	for i in $(seq 1 "$KAFKA_BROKERS"); do
		voters+="${voters:+,}$i@127.0.0.1:$(eval echo "\$KAFKA${i}_CONTROLLER_PORT")"
	done
	local rf=1 isr=1
	[ "$KAFKA_BROKERS" -ge 3 ] && rf=3 isr=2
	cat >"$STACK_DIR/kafka/log4j.properties" <<'EOF'
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.org.apache.kafka=INFO
log4j.logger.kafka=INFO
log4j.logger.state.change.logger=WARN
EOF
	kafka_tls
	cid=$(java -cp "$libs/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)
	[ -n "$cid" ] || die "kafka: could not generate a cluster id (java -cp $libs/* kafka.tools.StorageTool random-uuid)"
	for i in $(seq 1 "$KAFKA_BROKERS"); do
		local d="$STACK_DIR/kafka/$i" bport cport sport mport
		bport=$(eval echo "\$KAFKA${i}_PORT")
		cport=$(eval echo "\$KAFKA${i}_CONTROLLER_PORT")
		sport=$(eval echo "\$KAFKA${i}_SASL_SSL_PORT")
		mport=$(eval echo "\$KAFKA${i}_MTLS_PORT")
		mkdir -p "$d"
		cat >"$d/server.properties" <<EOF
process.roles=broker,controller
node.id=$i
controller.quorum.voters=$voters
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:$bport,CONTROLLER://127.0.0.1:$cport,SASL_SSL://127.0.0.1:$sport,MTLS://127.0.0.1:$mport
advertised.listeners=PLAINTEXT://127.0.0.1:$bport,SASL_SSL://127.0.0.1:$sport,MTLS://127.0.0.1:$mport
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL,MTLS:SSL
# TLS on SASL_SSL and MTLS from the stack's CA; MTLS requires a client
# certificate the CA signed. SASL_SSL takes the PLAIN user below and the
# SCRAM user that StorageTool format --add-scram wrote into the metadata.
ssl.keystore.type=PEM
ssl.keystore.certificate.chain=$(pem_value "$KAFKA_TLS_DIR/broker.crt")
ssl.keystore.key=$(pem_value "$KAFKA_TLS_DIR/broker.key")
ssl.truststore.type=PEM
ssl.truststore.location=$KAFKA_CA_PEM
listener.name.mtls.ssl.client.auth=required
listener.name.sasl_ssl.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$KAFKA_SASL_PLAIN_USER="$KAFKA_SASL_PLAIN_PASSWORD";
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
log.dirs=$d/data
num.partitions=1
# Topics are created on purpose, never by a stray produce or fetch.
auto.create.topics.enable=false
default.replication.factor=$rf
min.insync.replicas=1
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
transaction.state.log.num.partitions=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
log.flush.interval.messages=9223372036854775807
EOF
		java -Dlog4j.configuration="file:$STACK_DIR/kafka/log4j.properties" -cp "$libs/*" \
			kafka.tools.StorageTool format --cluster-id="$cid" -c "$d/server.properties" \
			-S "SCRAM-SHA-256=[name=$KAFKA_SASL_USER,password=$KAFKA_SASL_PASSWORD]" \
			-S "SCRAM-SHA-512=[name=$KAFKA_SASL_USER,password=$KAFKA_SASL_PASSWORD]" \
			>>"$(logfile "kafka$i")" 2>&1 ||
			fail_with_log "kafka$i" "could not format its log directory" || exit 1
	done
}

# C1 only (-XX:TieredStopAtLevel=1) starts a broker on half the CPU, but
# leaves Java's AES-GCM unintrinsified: TLS listeners then move ~20 MB/s.
# SLUICE_KAFKA_JVM_OPTS (kept for restarts) comes last and can lift it,
# e.g. -XX:TieredStopAtLevel=4 for TLS throughput figures.
start_kafka() {
	local i=${1#kafka} d
	d="$STACK_DIR/kafka/$i"
	# shellcheck disable=SC2086
	spawn "kafka$i" java -Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
		-XX:TieredStopAtLevel=1 -Djava.awt.headless=true -Djava.net.preferIPv4Stack=true -Djava.io.tmpdir="$d" \
		-Dlog4j.configuration="file:$STACK_DIR/kafka/log4j.properties" ${KAFKA_JVM_OPTS:-} \
		-cp "$(kafka_libs)/*" kafka.Kafka "$d/server.properties"
}

check_kafka() {
	local i=${1#kafka} port meta
	port=$(eval echo "\$KAFKA${i}_PORT")
	# The broker logs this once it has registered and serves clients;
	# kcat then proves a client can fetch metadata through the port. With
	# several brokers (all started before any is waited for), the broker's
	# metadata must list every one: a broker learns of the others from the
	# controller a moment after it serves, and a client bootstrapped from
	# it would see a cluster short of a broker.
	since_last_start "kafka$i" | grep -q 'Kafka Server started' || return 1
	meta=$(kcat -b "127.0.0.1:$port" -L -m 5 -t __sluice_probe 2>&1) || return 1
	grep -q "broker $i at" <<<"$meta" && grep -q " $KAFKA_BROKERS brokers:" <<<"$meta" || return 1
	# The same over SASL_SSL as the SCRAM user (whose credentials come from
	# the metadata log), then MTLS with the client certificate. (A stack
	# started before these listeners existed has no ports for them.)
	port=$(eval echo "\${KAFKA${i}_SASL_SSL_PORT:-}")
	[ -n "$port" ] || return 0
	meta=$(kcat -b "127.0.0.1:$port" -L -m 5 -t __sluice_probe -X security.protocol=SASL_SSL \
		-X sasl.mechanisms=SCRAM-SHA-512 -X "sasl.username=$KAFKA_SASL_USER" \
		-X "sasl.password=$KAFKA_SASL_PASSWORD" -X "ssl.ca.location=$KAFKA_CA_PEM" 2>&1) || return 1
	grep -q "broker $i at 127.0.0.1:$port" <<<"$meta" && grep -q " $KAFKA_BROKERS brokers:" <<<"$meta" ||
		return 1
	port=$(eval echo "\$KAFKA${i}_MTLS_PORT")
	meta=$(kcat -b "127.0.0.1:$port" -L -m 5 -t __sluice_probe -X security.protocol=SSL \
		-X "ssl.ca.location=$KAFKA_CA_PEM" -X "ssl.certificate.location=$KAFKA_CLIENT_CERT_PEM" \
		-X "ssl.key.location=$KAFKA_CLIENT_KEY_PEM" 2>&1) || return 1
	grep -q "broker $i at 127.0.0.1:$port" <<<"$meta"
}


# ---------------------------------------------------------------- postgres

PGBIN=/usr/lib/postgresql/15/bin

# initdb and postgres refuse to run as root: as root they run as the
# 'postgres' account the Debian package creates, through setpriv, which
# execs (no extra process), so the recorded PID is the postmaster's.
as_pg() {
	if [ "$(id -u)" = 0 ]; then
		setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
	else
		"$@"
	fi
}

pg_prefix() {
	[ "$(id -u)" = 0 ] && echo "setpriv --reuid=postgres --regid=postgres --init-groups --"
	return 0
}

init_postgres() {
	[ -x "$PGBIN/postgres" ] || die "PostgreSQL 15 not found in $PGBIN (make deps)"
	local d="$STACK_DIR/postgres"
	mkdir -p "$d/data" "$d/run"
	chmod 700 "$d/data"
	[ "$(id -u)" = 0 ] && chown -R postgres:postgres "$d"
	as_pg "$PGBIN/initdb" -D "$d/data" -U postgres -A trust -E UTF8 --no-locale --no-sync \
		--no-instructions >>"$(logfile postgres)" 2>&1 ||
		fail_with_log postgres "initdb failed" || exit 1
	postgres_tls
}

# TLS for PostgreSQL (ssl=on; clients choose: sslmode=disable still works):
# a serving certificate for 127.0.0.1 and localhost from the stack's CA
# (PG_CA_PEM), and a second, unrelated CA (PG_OTHER_CA_PEM) that must fail
# verify-full.
postgres_tls() {
	local ca="$STACK_DIR/ca" t="$STACK_DIR/postgres/tls"
	stack_ca
	mkdir -p "$t"
	(
		set -e
		cd "$t"
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout server.key -out server.csr -subj /CN=localhost 2>/dev/null
		printf '%s\n' 'subjectAltName=IP:127.0.0.1,DNS:localhost' 'extendedKeyUsage=serverAuth' >server.ext
		openssl x509 -req -in server.csr -CA "$ca/ca.crt" -CAkey "$ca/ca.key" \
			-CAserial ca.srl -CAcreateserial -out server.crt -days 7 -extfile server.ext 2>/dev/null
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 7 \
			-keyout other-ca.key -out other-ca.crt -subj /CN=sluice-other-ca 2>/dev/null
		rm -f server.csr server.ext ca.srl
		chmod 600 server.key
		if [ "$(id -u)" = 0 ]; then chown postgres:postgres server.key server.crt; fi
	) || die "openssl could not make PostgreSQL's certificate in $t"
}

start_postgres() {
	local d="$STACK_DIR/postgres" tls=()
	# A stack made before PostgreSQL had TLS starts without it.
	[ -f "$d/tls/server.crt" ] &&
		tls=(-c ssl=on -c "ssl_cert_file=$d/tls/server.crt" -c "ssl_key_file=$d/tls/server.key")
	# shellcheck disable=SC2046
	spawn postgres $(pg_prefix) "$PGBIN/postgres" -D "$d/data" -c listen_addresses=127.0.0.1 \
		-p "$POSTGRES_PORT" -k "$d/run" -c fsync=off -c synchronous_commit=off \
		-c full_page_writes=off -c max_connections=200 "${tls[@]}"
}

check_postgres() {
	psql -X -q -h 127.0.0.1 -p "$POSTGRES_PORT" -U postgres -d postgres -tAc 'select 1' | grep -qx 1
}

after_postgres() {
	psql -X -q -h 127.0.0.1 -p "$POSTGRES_PORT" -U postgres -d postgres -tAc \
		"select 1 from pg_database where datname='sluice'" | grep -qx 1 ||
		psql -X -q -h 127.0.0.1 -p "$POSTGRES_PORT" -U postgres -d postgres \
			-c 'CREATE DATABASE sluice' >>"$(logfile postgres)" 2>&1
}

# SIGINT is PostgreSQL's "fast" shutdown: SIGTERM would wait for clients.
stop_signal_postgres() { echo INT; }

# ---------------------------------------------------------------- redis

# Besides the default user (no password, as every test has used it), an ACL
# user with a password made by `up` (REDIS_AUTH_USER, REDIS_AUTH_PASSWORD in
# the env file), for the tests of AUTH; the ACL file, not the command line,
# holds the password.
init_redis() {
	require redis-server "apt-get install redis-server (make deps)"
	mkdir -p "$STACK_DIR/redis"
	(
		umask 077
		printf '%s\n' 'user default on nopass ~* &* +@all' \
			"user $REDIS_AUTH_USER on >$REDIS_AUTH_PASSWORD ~* &* +@all" >"$STACK_DIR/redis/users.acl"
	)
}

start_redis() {
	spawn redis redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
		--dir "$STACK_DIR/redis" --daemonize no --logfile '' --aclfile "$STACK_DIR/redis/users.acl"
}

check_redis() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping | grep -q PONG; }

# ---------------------------------------------------------------- influxdb

influxd_bin() {
	# InfluxDB 1.8 (built by deps for its /api/v2/write) when present,
	# Debian's 1.6 otherwise.
	local b="$SLUICE_CACHE/influxdb-$INFLUXDB_VERSION/bin/influxd"
	[ -x "$b" ] && echo "$b" || command -v influxd
}

init_influxdb() {
	local d="$STACK_DIR/influxdb" bin
	bin=$(influxd_bin) || die "influxd not found (make deps)"
	mkdir -p "$d"
	cat >"$d/influxdb.conf" <<EOF
reporting-disabled = true
bind-address = "127.0.0.1:$INFLUXDB_RPC_PORT"
[meta]
  dir = "$d/meta"
  logging-enabled = false
[data]
  dir = "$d/data"
  wal-dir = "$d/wal"
  query-log-enabled = false
  trace-logging-enabled = false
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:$INFLUXDB_PORT"
  auth-enabled = false
  log-enabled = false
  pprof-enabled = false
[continuous_queries]
  enabled = false
[logging]
  level = "warn"
  suppress-logo = true
EOF
}

start_influxdb() { spawn influxdb "$(influxd_bin)" run -config "$STACK_DIR/influxdb/influxdb.conf"; }

check_influxdb() {
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$INFLUXDB_PORT/ping")" = 204 ]
}

after_influxdb() {
	curl -sf -XPOST "http://127.0.0.1:$INFLUXDB_PORT/query" \
		--data-urlencode 'q=CREATE DATABASE sluice' >/dev/null
}


# ---------------------------------------------------------------- etcd

init_etcd() { require etcd "apt-get install etcd-server (make deps)"; mkdir -p "$STACK_DIR/etcd"; }

start_etcd() {
	local extra=()
	# 3.5+ can skip fsync, as controller-runtime's envtest does.
	etcd --help 2>&1 | grep -q -- --unsafe-no-fsync && extra+=(--unsafe-no-fsync)
	spawn etcd etcd --name sluice --data-dir "$STACK_DIR/etcd/data" \
		--listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
		--advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
		--listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
		--initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
		--initial-cluster "sluice=http://127.0.0.1:$ETCD_PEER_PORT" \
		--initial-cluster-state new --logger zap --log-outputs stderr --log-level warn \
		"${extra[@]}"
}

check_etcd() { curl -sf "http://127.0.0.1:$ETCD_PORT/health" | grep -q '"health":"true"'; }

# ---------------------------------------------------------------- kubernetes

k8s_bin() { echo "$SLUICE_CACHE/k8s-$K8S_VERSION/bin/$1"; }

# A CA of the stack's own signs the API server's serving certificate (so
# clients verify TLS for real) and an admin client certificate; the admin
# also has a bearer token. Both are in system:masters.
init_kube_apiserver() {
	local d="$STACK_DIR/kube"
	[ -x "$(k8s_bin kube-apiserver)" ] || die "kube-apiserver $K8S_VERSION not in $SLUICE_CACHE (run: make deps)"
	require openssl "apt-get install openssl"
	require kubectl "kubectl is expected on the machine (make deps builds it when missing)"
	mkdir -p "$d"
	stack_ca
	cp "$STACK_DIR/ca/ca.crt" "$STACK_DIR/ca/ca.key" "$d/"
	(
		cd "$d"
		openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr \
			-subj "/CN=kube-apiserver" 2>/dev/null
		printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\n' >san.ext
		openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
			-out apiserver.crt -days 7 -extfile san.ext 2>/dev/null
		openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr \
			-subj "/O=system:masters/CN=sluice-admin" 2>/dev/null
		openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
			-out admin.crt -days 7 2>/dev/null
		# The aggregation layer's client: the API server proxies requests
		# for an APIService (KEDA's external metrics) with this
		# certificate, and the extension server trusts the user named in
		# its X-Remote-* headers because of it.
		openssl req -newkey rsa:2048 -nodes -keyout front-proxy-client.key \
			-out front-proxy-client.csr -subj "/CN=front-proxy-client" 2>/dev/null
		openssl x509 -req -in front-proxy-client.csr -CA ca.crt -CAkey ca.key \
			-CAcreateserial -out front-proxy-client.crt -days 7 2>/dev/null
		openssl genrsa -out sa.key 2048 2>/dev/null
		openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
		head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >admin.token
		printf '%s,sluice-admin,sluice-admin,"system:masters"\n' "$(cat admin.token)" >tokens.csv
		rm -f ./*.csr san.ext
	) || die "openssl could not make the stack's certificates in $d"
	node_apiserver_certs
	local server="https://127.0.0.1:$KUBE_APISERVER_PORT"
	kc() { kubectl --kubeconfig "$d/kubeconfig" config "$@" >/dev/null; }
	kc set-cluster sluice --server "$server" --certificate-authority "$d/ca.crt" --embed-certs
	kc set-credentials sluice-admin --token "$(cat "$d/admin.token")"
	kc set-credentials sluice-admin-cert --client-certificate "$d/admin.crt" \
		--client-key "$d/admin.key" --embed-certs
	kc set-context sluice --cluster sluice --user sluice-admin
	kc set-context sluice-cert --cluster sluice --user sluice-admin-cert
	kc use-context sluice
	chmod 600 "$d/kubeconfig"
}

start_kube_apiserver() {
	local d="$STACK_DIR/kube"
	spawn kube-apiserver "$(k8s_bin kube-apiserver)" \
		--etcd-servers="http://127.0.0.1:$ETCD_PORT" \
		--bind-address=127.0.0.1 --advertise-address=127.0.0.1 \
		--secure-port="$KUBE_APISERVER_PORT" \
		--tls-cert-file="$d/apiserver.crt" --tls-private-key-file="$d/apiserver.key" \
		--client-ca-file="$d/ca.crt" --token-auth-file="$d/tokens.csv" \
		--authorization-mode=Node,RBAC \
		--service-cluster-ip-range=10.0.0.0/24 --allow-privileged=true \
		--kubelet-client-certificate="$d/kubelet-client.crt" \
		--kubelet-client-key="$d/kubelet-client.key" \
		--kubelet-certificate-authority="$d/ca.crt" \
		--kubelet-preferred-address-types=Hostname,InternalIP \
		--service-account-issuer="https://127.0.0.1:$KUBE_APISERVER_PORT" \
		--service-account-key-file="$d/sa.pub" \
		--service-account-signing-key-file="$d/sa.key" \
		--requestheader-client-ca-file="$d/ca.crt" \
		--requestheader-allowed-names=front-proxy-client \
		--requestheader-username-headers=X-Remote-User \
		--requestheader-group-headers=X-Remote-Group \
		--requestheader-extra-headers-prefix=X-Remote-Extra- \
		--proxy-client-cert-file="$d/front-proxy-client.crt" \
		--proxy-client-key-file="$d/front-proxy-client.key" \
		--profiling=false --v=1
}

check_kube_apiserver() {
	curl -sf --cacert "$STACK_DIR/kube/ca.crt" \
		-H "Authorization: Bearer $(cat "$STACK_DIR/kube/admin.token")" \
		"https://127.0.0.1:$KUBE_APISERVER_PORT/readyz" | grep -qx ok
}


init_kube_controller_manager() {
	[ -x "$(k8s_bin kube-controller-manager)" ] ||
		die "kube-controller-manager $K8S_VERSION not in $SLUICE_CACHE (run: make deps)"
}

start_kube_controller_manager() {
	local d="$STACK_DIR/kube"
	spawn kube-controller-manager "$(k8s_bin kube-controller-manager)" \
		--kubeconfig="$d/kubeconfig" --authentication-kubeconfig="$d/kubeconfig" \
		--authorization-kubeconfig="$d/kubeconfig" \
		--bind-address=127.0.0.1 --secure-port="$KUBE_CONTROLLER_MANAGER_PORT" \
		--cert-dir="$d/kcm-certs" --leader-elect=false \
		--service-account-private-key-file="$d/sa.key" --root-ca-file="$d/ca.crt" \
		--controllers='*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller' \
		--profiling=false --v=1
}

check_kube_controller_manager() {
	curl -sfk "https://127.0.0.1:$KUBE_CONTROLLER_MANAGER_PORT/healthz" | grep -qx ok
}


# ---------------------------------------------------------------- dispatch

fn_of() { # kafka3 -> kafka, kube-apiserver -> kube_apiserver
	case $1 in
	kafka[0-9]*) echo kafka ;;
	*) echo "${1//-/_}" ;;
	esac
}

start_one() {
	local name=$1 f
	f=$(fn_of "$name")
	pid_alive "$(pid_of "$name")" && { say "$name already running (pid $(pid_of "$name"))"; return 0; }
	"start_$f" "$name"
}

wait_one() {
	local name=$1 f
	f=$(fn_of "$name")
	wait_ready "$name" "check_$f" "$name" || return 1
	if declare -F "after_$f" >/dev/null; then "after_$f" || fail_with_log "$name" "set-up after start failed"; fi
}

stop_signal() {
	local f
	f=$(fn_of "$1")
	if declare -F "stop_signal_$f" >/dev/null; then "stop_signal_$f"; else echo TERM; fi
}

stop_one() { stop_pid "$1" "$(stop_signal "$1")"; }

write_env() {
	local bootstrap="" i
	for i in $(seq 1 "$KAFKA_BROKERS"); do
		bootstrap+="${bootstrap:+,}127.0.0.1:$(eval echo "\$KAFKA${i}_PORT")"
	done
	local tmp="$ENV_FILE.tmp"
	mkdir -p "$(dirname "$ENV_FILE")"
	cat >"$tmp" <<EOF
# Written by tests/e2e/stack.sh up; source it: . $ENV_FILE
export SLUICE_STACK_DIR='$STACK_DIR'
export SLUICE_STACK_COMPONENTS='$COMPONENTS'
export KAFKA_BROKERS='$KAFKA_BROKERS'
export KAFKA_BOOTSTRAP='$bootstrap'
export PG_DSN='postgresql://postgres@127.0.0.1:$POSTGRES_PORT/sluice?sslmode=disable'
export PGHOST=127.0.0.1 PGPORT='$POSTGRES_PORT' PGUSER=postgres PGDATABASE=sluice
export REDIS_ADDR='127.0.0.1:$REDIS_PORT'
export REDIS_HOST=127.0.0.1 REDIS_PORT='$REDIS_PORT'
export INFLUX_URL='http://127.0.0.1:$INFLUXDB_PORT'
export INFLUX_DB=sluice
export ETCD_URL='http://127.0.0.1:$ETCD_PORT'
export KUBE_APISERVER='https://127.0.0.1:$KUBE_APISERVER_PORT'
export KUBECONFIG='$STACK_DIR/kube/kubeconfig'
export KAFKA_LIBS='$(kafka_libs)'
EOF
	case " $COMPONENTS " in *" kafka "*)
		local sasl="" mtls=""
		for i in $(seq 1 "$KAFKA_BROKERS"); do
			sasl+="${sasl:+,}127.0.0.1:$(eval echo "\$KAFKA${i}_SASL_SSL_PORT")"
			mtls+="${mtls:+,}127.0.0.1:$(eval echo "\$KAFKA${i}_MTLS_PORT")"
		done
		cat >>"$tmp" <<EOF
export KAFKA_BOOTSTRAP_SASL_SSL='$sasl'
export KAFKA_BOOTSTRAP_MTLS='$mtls'
export KAFKA_CA_PEM='$KAFKA_CA_PEM'
export KAFKA_CLIENT_CERT_PEM='$KAFKA_CLIENT_CERT_PEM'
export KAFKA_CLIENT_KEY_PEM='$KAFKA_CLIENT_KEY_PEM'
export KAFKA_EXPIRED_CLIENT_CERT_PEM='$KAFKA_TLS_DIR/expired-client.crt'
export KAFKA_EXPIRED_CLIENT_KEY_PEM='$KAFKA_TLS_DIR/expired-client.key'
export KAFKA_OTHER_CA_PEM='$KAFKA_TLS_DIR/other-ca.crt'
export KAFKA_SASL_USER='$KAFKA_SASL_USER'
export KAFKA_SASL_PASSWORD='$KAFKA_SASL_PASSWORD'
export KAFKA_SASL_PLAIN_USER='$KAFKA_SASL_PLAIN_USER'
export KAFKA_SASL_PLAIN_PASSWORD='$KAFKA_SASL_PLAIN_PASSWORD'
EOF
		;;
	esac
	case " $COMPONENTS " in *" postgres "*)
		cat >>"$tmp" <<EOF
export PG_CA_PEM='$STACK_DIR/ca/ca.crt'
export PG_OTHER_CA_PEM='$STACK_DIR/postgres/tls/other-ca.crt'
EOF
		;;
	esac
	case " $COMPONENTS " in *" redis "*)
		cat >>"$tmp" <<EOF
export REDIS_AUTH_USER='$REDIS_AUTH_USER'
export REDIS_AUTH_PASSWORD='$REDIS_AUTH_PASSWORD'
EOF
		;;
	esac
	case " $COMPONENTS " in *" kubelet "*)
		cat >>"$tmp" <<EOF
export SLUICE_NODE=localhost
export CONTAINERD_ADDRESS='$STACK_DIR/node/containerd.sock'
export SLUICE_OPERATOR_IMAGE='localhost/sluice-operator:$(cat "$root/VERSION")'
export SLUICE_WORKER_IMAGE='localhost/sluice-worker:$(cat "$root/VERSION")'
EOF
		;;
	esac
	mv "$tmp" "$ENV_FILE"
}

cmd_up() {
	if load_state 2>/dev/null; then
		local n alive=0
		for n in $(server_names); do pid_alive "$(pid_of "$n")" && alive=1; done
		[ $alive = 0 ] || die "a stack is already up ($STACK_DIR); run: make stack-down"
		rm -f "$ENV_FILE"
	fi
	COMPONENTS=${SLUICE_STACK_COMPONENTS:-$ALL_COMPONENTS}
	KAFKA_BROKERS=${KAFKA_BROKERS:-1}
	case $KAFKA_BROKERS in 1 | 3) ;; *) die "KAFKA_BROKERS must be 1 or 3, not '$KAFKA_BROKERS'" ;; esac
	local c
	for c in $COMPONENTS; do
		case " $ALL_COMPONENTS " in *" $c "*) ;; *) die "unknown component '$c' (known: $ALL_COMPONENTS)" ;; esac
	done
	case " $COMPONENTS " in *" kube-apiserver "*)
		case " $COMPONENTS " in *" etcd "*) ;; *) die "kube-apiserver needs etcd in SLUICE_STACK_COMPONENTS" ;; esac ;;
	esac
	require curl "apt-get install curl"
	require python3 "python3 picks free ports"
	command -v kcat >/dev/null || die "'kcat' not found: apt-get install kcat (make deps)"
	command -v psql >/dev/null || die "'psql' not found: apt-get install postgresql-client-15 (make deps)"
	command -v redis-cli >/dev/null || die "'redis-cli' not found: apt-get install redis-tools (make deps)"

	STACK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/sluice-stack.XXXXXX")
	chmod 755 "$STACK_DIR"
	mkdir -p "$STACK_DIR/pids" "$STACK_DIR/logs" "$STACK_DIR/kafka"

	# Ports: pinned ones (SLUICE_<NAME>_PORT) must be free; the rest are
	# picked free now.
	local vars=() i
	for i in $(seq 1 "$KAFKA_BROKERS"); do
		vars+=("KAFKA${i}_PORT" "KAFKA${i}_CONTROLLER_PORT" "KAFKA${i}_SASL_SSL_PORT" "KAFKA${i}_MTLS_PORT")
	done
	vars+=(POSTGRES_PORT REDIS_PORT INFLUXDB_PORT INFLUXDB_RPC_PORT ETCD_PORT ETCD_PEER_PORT
		KUBE_APISERVER_PORT KUBE_CONTROLLER_MANAGER_PORT KUBE_SCHEDULER_PORT KUBELET_PORT
		KUBELET_HEALTHZ_PORT)
	local free
	read -r -a free <<<"$(free_ports ${#vars[@]})"
	: >"$STACK_DIR/ports.sh"
	for i in "${!vars[@]}"; do
		local v=${vars[$i]} pinned_var="SLUICE_${vars[$i]}" port
		port=${!pinned_var:-${free[$i]}}
		if [ -n "${!pinned_var:-}" ] && port_in_use "$port"; then
			rm -rf "$STACK_DIR"
			die "port $port ($pinned_var) is already in use on 127.0.0.1; pick another or unset $pinned_var"
		fi
		printf '%s=%s\n' "$v" "$port" >>"$STACK_DIR/ports.sh"
	done
	echo "KAFKA_BROKERS=$KAFKA_BROKERS" >>"$STACK_DIR/ports.sh"
	echo "COMPONENTS='$COMPONENTS'" >>"$STACK_DIR/ports.sh"
	printf 'KAFKA_JVM_OPTS=%q\n' "${SLUICE_KAFKA_JVM_OPTS:-}" >>"$STACK_DIR/ports.sh"
	# shellcheck disable=SC1091
	. "$STACK_DIR/ports.sh"
	# The Kafka SASL users' passwords: new for every stack.
	kafka_security_vars
	KAFKA_SASL_PASSWORD=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
	KAFKA_SASL_PLAIN_PASSWORD=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
	# The Redis ACL user's password (init_redis), new for every stack too.
	REDIS_AUTH_USER=sluice-auth
	REDIS_AUTH_PASSWORD=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
	write_env

	# From here on, any failure (or Ctrl-C) takes down what was started.
	trap 'rc=$?; [ $rc = 0 ] || { say "start-up failed; stopping what was started"; cmd_down >/dev/null 2>&1 || true; }' EXIT
	trap 'exit 130' INT TERM
	say "starting in $STACK_DIR (kafka brokers: $KAFKA_BROKERS)"
	local t0=$EPOCHREALTIME
	for c in $COMPONENTS; do "init_${c//-/_}"; done
	# Independent servers start together; Kubernetes waits for etcd, the
	# kubelet for the API server and containerd.
	local n
	for n in $(server_names); do
		case $n in kube-* | kubelet) continue ;; esac
		start_one "$n"
	done
	for n in $(server_names); do
		case $n in kube-* | kubelet) continue ;; esac
		wait_one "$n"
		say "$n ready (pid $(pid_of "$n"))"
	done
	local tk=$EPOCHREALTIME
	for n in kube-apiserver kube-controller-manager kube-scheduler kubelet; do
		case " $COMPONENTS " in *" $n "*) ;; *) continue ;; esac
		start_one "$n"
		wait_one "$n"
		say "$n ready (pid $(pid_of "$n"))"
	done
	trap - EXIT INT TERM
	# How long the start took, and its Kubernetes part (the API server's
	# start to the node Ready): make bench reports them.
	{
		echo "export SLUICE_STACK_UP_SECONDS='$(python3 -c "print(f'{$EPOCHREALTIME - $t0:.1f}')")'"
		echo "export SLUICE_CLUSTER_UP_SECONDS='$(python3 -c "print(f'{$EPOCHREALTIME - $tk:.1f}')")'"
	} >>"$ENV_FILE"
	say "up; env file: $ENV_FILE"
	cat "$ENV_FILE"
}

cmd_down() {
	load_state || { say "no stack recorded in $ENV_FILE; nothing to stop"; return 0; }
	local names n
	# The node first: the kubelet stops, then its containers through
	# containerd while containerd still runs.
	if [ -n "$(pid_of kubelet)" ]; then
		stop_one kubelet
		say "kubelet stopped"
	fi
	case " $COMPONENTS " in *" containerd "*) pid_alive "$(pid_of containerd)" && node_remove_containers ;; esac
	# Reverse start order: Kubernetes before etcd.
	names=$(server_names | tac)
	for n in $names; do signal_pid "$n" "$(stop_signal "$n")"; done
	for n in $names; do
		[ -n "$(pid_of "$n")" ] || continue
		reap_pid "$n"
		say "$n stopped"
	done
	case " $COMPONENTS " in *" containerd "*) node_cleanup ;; esac
	rm -f "$ENV_FILE"
	if [ -n "${SLUICE_STACK_KEEP:-}" ]; then
		say "kept $STACK_DIR (SLUICE_STACK_KEEP is set)"
	else
		rm -rf "$STACK_DIR"
	fi
}

cmd_status() {
	load_state || { say "no stack is up (no $ENV_FILE)"; return 3; }
	local n f pid state rc=0
	printf '%-26s %-8s %-10s %s\n' SERVER PID STATE LOG
	for n in $(server_names); do
		f=$(fn_of "$n")
		pid=$(pid_of "$n")
		if ! pid_alive "$pid"; then
			state=stopped
			rc=1
		elif "check_$f" "$n" >/dev/null 2>&1; then
			state=ready
		else
			state=starting
			rc=1
		fi
		printf '%-26s %-8s %-10s %s\n' "$n" "${pid:--}" "$state" "$(logfile "$n")"
	done
	return $rc
}

cmd_names() { load_state || die "no stack is up"; server_names; }

cmd_import() {
	load_state || die "no stack is up (make stack-up)"
	pid_alive "$(pid_of containerd)" || die "the stack runs no containerd"
	after_containerd
}

cmd_start() {
	load_state || die "no stack is up (make stack-up)"
	server_names | grep -x "$1" >/dev/null || die "unknown server '$1' (one of: $(server_names | tr '\n' ' '))"
	start_one "$1"
	wait_one "$1"
	say "$1 ready (pid $(pid_of "$1"))"
}

cmd_stop() {
	load_state || die "no stack is up (make stack-up)"
	server_names | grep -x "$1" >/dev/null || die "unknown server '$1' (one of: $(server_names | tr '\n' ' '))"
	stop_one "$1"
	say "$1 stopped"
}

case "${1:-}" in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
names) cmd_names ;;
import) cmd_import ;;
start) cmd_start "${2:?usage: stack.sh start NAME}" ;;
stop) cmd_stop "${2:?usage: stack.sh stop NAME}" ;;
*) die "usage: stack.sh up|down|status|names|import|start NAME|stop NAME" ;;
esac
