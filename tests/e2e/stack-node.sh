# shellcheck shell=bash
# stack-node.sh - the test stack's real Kubernetes node, sourced by stack.sh:
# containerd (runc, overlayfs), kube-scheduler and a kubelet registered as
# node "localhost", all on 127.0.0.1 (docs/real-node.md).
#
# Servers: containerd, kube-scheduler, kubelet; each has the init_/start_/
# check_/after_ functions stack.sh dispatches to. Pods on this node use the
# host network (hostNetwork: true), so none gets an address of its own and
# no traffic leaves 127.0.0.1; a CNI configuration with only the loopback
# plugin is there so the runtime reports its network ready.
#
# What lives where:
#   $STACK_DIR/node/          containerd's state and sockets, the kubelet's
#                             root dir, pod logs, the CNI configuration
#   $SLUICE_CACHE/containerd  containerd's root (its images), kept between
#                             stacks so an unchanged image is not imported
#                             again, like a machine's /var/lib/containerd
# Host state the kubelet changes (three sysctls, cgroups, /var/lib/kubelet,
# /var/log/containers links, shim sockets in /run/containerd) is recorded at
# init and put back by node_cleanup, which `down` runs also after a failed
# start.

PAUSE_SRC_DIR="$root/tests/e2e/node"

node_dir() { echo "$STACK_DIR/node"; }
containerd_root() { echo "$SLUICE_CACHE/containerd"; }
containerd_sock() { echo "$STACK_DIR/node/containerd.sock"; }
ctr_k8s() { ctr -a "$(containerd_sock)" -n k8s.io "$@"; }

# The pause image's tag is a hash of its sources: a change rebuilds it.
pause_image() {
	echo "localhost/sluice-pause:$(cat "$PAUSE_SRC_DIR/pause.c" "$PAUSE_SRC_DIR/Containerfile.pause" |
		sha256sum | cut -c1-12)"
}

# The project's images as `make images` tags them.
project_images() {
	local v
	v=$(cat "$root/VERSION")
	echo "localhost/sluice-operator:$v localhost/sluice-worker:$v"
}

NODE_SYSCTLS="vm.overcommit_memory kernel.panic kernel.panic_on_oops"

# ---------------------------------------------------------------- containerd

init_containerd() {
	require containerd "apt-get install containerd (make deps)"
	require ctr "apt-get install containerd (make deps)"
	require runc "apt-get install runc (make deps)"
	require podman "apt-get install podman (make deps)"
	[ -x /usr/lib/cni/loopback ] || die "CNI plugins not in /usr/lib/cni (apt-get install containernetworking-plugins; make deps)"
	[ "$(id -u)" = 0 ] || die "the node (containerd, kubelet) needs root; run as root or leave containerd, kube-scheduler and kubelet out of SLUICE_STACK_COMPONENTS"
	local d croot owner
	d=$(node_dir)
	croot=$(containerd_root)
	# One node per machine: containerd's root (its images) is shared.
	owner=$(cat "$croot/owner" 2>/dev/null || true)
	if [ -n "$owner" ] && pid_alive "${owner%% *}"; then
		die "another stack's node runs (containerd pid ${owner%% *}, ${owner#* }); stop it first (SLUICE_STACK_ENV=... tests/e2e/stack.sh down), or leave containerd, kube-scheduler and kubelet out of SLUICE_STACK_COMPONENTS"
	fi
	mkdir -p "$d/state" "$d/runc" "$d/cni" "$d/kubelet" "$d/pod-logs" "$croot"
	node_record_host_state
	cat >"$d/cni/10-sluice.conflist" <<'EOF'
{"cniVersion": "0.4.0", "name": "sluice-loopback", "plugins": [{"type": "loopback"}]}
EOF
	cat >"$d/containerd.toml" <<EOF
version = 2
root = "$croot/root"
state = "$d/state"
[grpc]
  address = "$(containerd_sock)"
[ttrpc]
  address = "$(containerd_sock).ttrpc"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$croot/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$(pause_image)"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  netns_mounts_under_state_dir = true
  # Processes here lack CAP_SYS_RESOURCE: runc cannot lower oom_score_adj.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$d/cni"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$d/runc"
EOF
	node_build_pause
}

start_containerd() { spawn containerd containerd --config "$(node_dir)/containerd.toml"; }

check_containerd() { ctr_k8s version >/dev/null; }

after_containerd() {
	local img
	echo "$(pid_of containerd) $STACK_DIR" >"$(containerd_root)/owner"
	node_import "$(pause_image)" || return 1
	for img in $(project_images); do
		if podman image exists "$img"; then
			node_import "$img" || return 1
		else
			say "containerd: $img not built (make images); pods that use it will not start"
		fi
	done
}

# Builds the pause image with podman when it does not exist yet.
node_build_pause() {
	local img tmp
	img=$(pause_image)
	podman image exists "$img" && return 0
	require cc "apt-get install build-essential (make deps)"
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/sluice-pause.XXXXXX")
	if ! cc -std=c11 -Wall -Wextra -Werror -O2 -static -o "$tmp/pause" "$PAUSE_SRC_DIR/pause.c" \
		>"$tmp/log" 2>&1 ||
		! podman build --isolation=chroot -f "$PAUSE_SRC_DIR/Containerfile.pause" -t "$img" \
			"$tmp" >>"$tmp/log" 2>&1; then
		tail -n 20 "$tmp/log" >&2
		rm -rf "$tmp"
		die "could not build the pause image $img"
	fi
	rm -rf "$tmp"
}

# Moves an image from podman into containerd's k8s.io namespace (what the
# kubelet sees), unless the same image ID was imported before.
node_import() {
	local img=$1 id stamp
	id=$(podman image inspect --format '{{.Id}}' "$img") || {
		say "containerd: podman has no image $img"
		return 1
	}
	stamp="$(containerd_root)/imported/$(echo "$img" | tr '/:' '__')"
	if [ "$(cat "$stamp" 2>/dev/null)" = "$id" ] && ctr_k8s images ls -q "name==$img" | grep -q .; then
		return 0
	fi
	mkdir -p "$(dirname "$stamp")"
	if ! podman save --format docker-archive "$img" 2>>"$(logfile containerd)" |
		ctr_k8s images import - >>"$(logfile containerd)" 2>&1; then
		fail_with_log containerd "could not import $img"
		return 1
	fi
	echo "$id" >"$stamp"
	say "containerd: imported $img"
}

# ---------------------------------------------------------------- certificates

# Signs a client or serving certificate with the stack's CA: NAME SUBJECT [SAN].
node_cert() {
	local d="$STACK_DIR/kube" name=$1 subj=$2 san=${3:-}
	(
		cd "$d"
		openssl req -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" -subj "$subj" 2>/dev/null
		if [ -n "$san" ]; then printf 'subjectAltName=%s\n' "$san" >"$name.ext"; else : >"$name.ext"; fi
		openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
			-out "$name.crt" -days 7 -extfile "$name.ext" 2>/dev/null
		rm -f "$name.csr" "$name.ext"
	) || die "openssl could not make the certificate $name"
}

# A kubeconfig for a client certificate: NAME USER.
node_kubeconfig() {
	local d="$STACK_DIR/kube" f="$STACK_DIR/kube/$1.kubeconfig"
	kubectl --kubeconfig "$f" config set-cluster sluice --server "https://127.0.0.1:$KUBE_APISERVER_PORT" \
		--certificate-authority "$d/ca.crt" --embed-certs >/dev/null
	kubectl --kubeconfig "$f" config set-credentials "$2" --client-certificate "$d/$1.crt" \
		--client-key "$d/$1.key" --embed-certs >/dev/null
	kubectl --kubeconfig "$f" config set-context sluice --cluster sluice --user "$2" >/dev/null
	kubectl --kubeconfig "$f" config use-context sluice >/dev/null
	chmod 600 "$f"
}

# The API server's client certificate towards kubelets; made with the CA,
# so kube-apiserver's flags can name it whether or not a node runs.
node_apiserver_certs() {
	node_cert kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
}

# ---------------------------------------------------------------- kube-scheduler

init_kube_scheduler() {
	[ -x "$(k8s_bin kube-scheduler)" ] || die "kube-scheduler $K8S_VERSION not in $SLUICE_CACHE (run: make deps)"
	node_cert scheduler "/CN=system:kube-scheduler"
	node_kubeconfig scheduler system:kube-scheduler
}

start_kube_scheduler() {
	local d="$STACK_DIR/kube"
	spawn kube-scheduler "$(k8s_bin kube-scheduler)" --kubeconfig="$d/scheduler.kubeconfig" \
		--authentication-kubeconfig="$d/kubeconfig" --authorization-kubeconfig="$d/kubeconfig" \
		--bind-address=127.0.0.1 --secure-port="$KUBE_SCHEDULER_PORT" \
		--cert-dir="$d/scheduler-certs" --leader-elect=false --profiling=false --v=1
}

check_kube_scheduler() { curl -sfk "https://127.0.0.1:$KUBE_SCHEDULER_PORT/healthz" | grep -qx ok; }

# ---------------------------------------------------------------- kubelet

init_kubelet() {
	local d k="$STACK_DIR/kube"
	d=$(node_dir)
	[ -x "$(k8s_bin kubelet)" ] || die "kubelet $K8S_VERSION not in $SLUICE_CACHE (run: make deps)"
	case " $COMPONENTS " in *" containerd "*) ;; *) die "kubelet needs containerd in SLUICE_STACK_COMPONENTS" ;; esac
	node_cert node "/O=system:nodes/CN=system:node:localhost"
	node_kubeconfig node system:node:localhost
	node_cert kubelet-serving "/CN=localhost" "IP:127.0.0.1,DNS:localhost"
	cat >"$d/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: "$k/ca.crt"}
authorization: {mode: Webhook}
tlsCertFile: "$k/kubelet-serving.crt"
tlsPrivateKeyFile: "$k/kubelet-serving.key"
containerRuntimeEndpoint: "unix://$(containerd_sock)"
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
makeIPTablesUtilChains: false
protectKernelDefaults: false
podLogsDir: "$d/pod-logs"
resolvConf: /etc/resolv.conf
serializeImagePulls: false
# Imported images cannot be pulled back: never collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
# A ConfigMap change reaches mounted volumes within seconds, not a minute.
syncFrequency: 10s
EOF
}

start_kubelet() {
	local d k="$STACK_DIR/kube"
	d=$(node_dir)
	# --hostname-override instead of --node-ip: the kubelet refuses a
	# loopback node IP; the API server reaches it by the name (localhost).
	spawn kubelet "$(k8s_bin kubelet)" --config="$d/kubelet.yaml" --kubeconfig="$k/node.kubeconfig" \
		--hostname-override=localhost --root-dir="$d/kubelet" --cert-dir="$d/kubelet/pki" --v=1
}

check_kubelet() {
	curl -sf "http://127.0.0.1:$KUBELET_HEALTHZ_PORT/healthz" | grep -qx ok &&
		kubectl --kubeconfig "$STACK_DIR/kube/kubeconfig" get node localhost \
			-o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' | grep -qx True
}

# ---------------------------------------------------------------- host state

# What exists before the node starts, so cleanup removes only what it made.
node_record_host_state() {
	local d s
	d=$(node_dir)
	: >"$d/sysctls"
	for s in $NODE_SYSCTLS; do echo "$s=$(sysctl -n "$s")" >>"$d/sysctls"; done
	[ -e /var/lib/kubelet ] && touch "$d/had-var-lib-kubelet"
	[ -e /var/log/containers ] && touch "$d/had-var-log-containers"
	[ -e /run/containerd ] && touch "$d/had-run-containerd"
	find /sys/fs/cgroup -maxdepth 3 -type d -name kubepods >"$d/cgroups-before" 2>/dev/null || true
	return 0
}

# Stops every container the node runs, through containerd while it is up
# (each shim exits once its last task is deleted).
node_remove_containers() {
	local id
	[ -S "$(containerd_sock)" ] || return 0
	for id in $(ctr_k8s tasks ls -q 2>/dev/null); do
		ctr_k8s tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true
	done
	for id in $(ctr_k8s tasks ls -q 2>/dev/null); do
		ctr_k8s tasks delete -f "$id" >/dev/null 2>&1 || true
	done
	for id in $(ctr_k8s containers ls -q 2>/dev/null); do
		ctr_k8s containers delete "$id" >/dev/null 2>&1 || true
	done
}

# After containerd and the kubelet stopped: shims they left, mounts, cgroups,
# files outside the stack directory, the sysctls.
node_cleanup() {
	local d sock pid m s cg
	d=$(node_dir)
	[ -d "$d" ] || return 0
	sock=$(containerd_sock)
	# Shims outlive containerd; each names the socket of the containerd that
	# started it, which is this stack's alone.
	for pid in $(ps -eo pid=,args= | awk -v s="$sock" 'index($0, "-address " s) {print $1}'); do
		kill -KILL "$pid" 2>/dev/null || true
	done
	# Mounts under the stack's node directory and containerd's root,
	# deepest first (overlay root filesystems, shm, secrets, the root dir).
	for m in $(awk -v a="$d/" -v b="$(containerd_root)/" \
		'index($5, a) == 1 || index($5, b) == 1 || $5 == substr(a, 1, length(a) - 1) {print $5}' \
		/proc/self/mountinfo | sort -r); do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || say "node: could not unmount $m"
	done
	# Cgroups the kubelet made (kubepods and below), deepest first.
	for cg in $(find /sys/fs/cgroup -maxdepth 3 -type d -name kubepods 2>/dev/null); do
		grep -qx "$cg" "$d/cgroups-before" 2>/dev/null && continue
		find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null || true
	done
	if [ -f "$d/sysctls" ]; then
		while IFS== read -r s v; do
			[ -n "$s" ] && sysctl -q -w "$s=$v" >/dev/null 2>&1 || true
		done <"$d/sysctls"
	fi
	# The kubelet links every container's log into /var/log/containers.
	if [ -d /var/log/containers ]; then
		find /var/log/containers -maxdepth 1 -type l -lname "$d/pod-logs/*" -delete 2>/dev/null || true
		[ -e "$d/had-var-log-containers" ] || rmdir /var/log/containers 2>/dev/null || true
	fi
	[ "$(cut -d' ' -f2- "$(containerd_root)/owner" 2>/dev/null)" = "$STACK_DIR" ] &&
		rm -f "$(containerd_root)/owner"
	[ -e "$d/had-var-lib-kubelet" ] || rm -rf /var/lib/kubelet
	[ -e "$d/had-run-containerd" ] || rm -rf /run/containerd
	return 0
}
