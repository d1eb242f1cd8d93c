#!/usr/bin/env python3
"""bench_node: the real node's speed (docs/real-node.md), with targets:

- the cluster's start: kube-apiserver started to the node Ready, as
  `stack.sh up` measured it (warm caches: target <= 15 s), and the whole
  stack's (Kafka and the other servers start beside it);
- `kubectl apply` of a VideoJob (minReplicas 1) to its first `process` pod
  Ready (target <= 3 s);
- a burst of events on an idle TelemetryWindow (minReplicas 0) to a new
  worker pod Ready (target <= polling interval + 2 s, the default 5 s poll).

The operator runs as a process with the worker image, worker pods on the
host network. Each figure is the median of ROUNDS (BENCH_NODE_ROUNDS,
default 3) and printed as a ratio to its target. Needs a stack with its node
(make stack-up as root); prints a line and exits 0 when there is none.
"""
import json
import os
import statistics
import time

from benchkube import ROOT, Api, Operator, create_topic, sh, stack_env_or_skip

ROUNDS = int(os.environ.get("BENCH_NODE_ROUNDS", "3"))
POLL_S = 5.0
UID = 65532


def ready_pods(api, ns, selector):
    pods = api.call("GET", f"/api/v1/namespaces/{ns}/pods?labelSelector={selector}") or {}
    return [p for p in pods.get("items", []) if any(
        c["type"] == "Ready" and c["status"] == "True"
        for c in p.get("status", {}).get("conditions", []))]


def wait(what, fn, op, timeout=120):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if op.proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"bench_node: no {what}; operator log: {op.log_path}")
        time.sleep(0.05)


def line(what, values, target):
    med = statistics.median(values)
    print(f"  {what:<46} median {med:6.2f} s  max {max(values):6.2f} s  "
          f"target <= {target:.1f} s  ratio {med / target:.2f}")


def main():
    env = stack_env_or_skip("bench_node", need=("KUBECONFIG", "KAFKA_BOOTSTRAP", "KAFKA_LIBS"))
    for k in ("SLUICE_NODE", "SLUICE_WORKER_IMAGE", "SLUICE_STACK_DIR", "SLUICE_STACK_UP_SECONDS",
              "SLUICE_CLUSTER_UP_SECONDS"):
        if not os.environ.get(k):
            print("bench_node: skipped (the stack has no node: make stack-up as root)")
            return
        env[k] = os.environ[k]
    up, cluster = float(env["SLUICE_STACK_UP_SECONDS"]), float(env["SLUICE_CLUSTER_UP_SECONDS"])
    print("bench_node:")
    print(f"  {'cluster start: kube-apiserver to node Ready':<46} {cluster:6.2f} s  "
          f"target <= 15.0 s  ratio {cluster / 15:.2f}")
    print(f"  {'the whole stack (Kafka, databases, cluster)':<46} {up:6.2f} s")

    kc = ["kubectl", "--kubeconfig", env["KUBECONFIG"]]
    api = Api(env["KUBECONFIG"])
    ns = f"bench-node-{os.getpid()}"
    sh(*kc, "apply", "-f", str(ROOT / "crds"))
    sh(*kc, "create", "namespace", ns)
    # The videos: a hostPath PersistentVolume and its claim.
    vol = os.path.join(env["SLUICE_STACK_DIR"], "volumes", ns)
    os.makedirs(os.path.join(vol, "out"))
    for d in (vol, os.path.join(vol, "out")):
        os.chown(d, UID, UID)
    sh("ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
       "testsrc2=size=320x240:rate=25:duration=4", "-c:v", "libx264", "-preset", "ultrafast",
       "-g", "25", os.path.join(vol, "in.mp4"))
    sh(*kc, "apply", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": ns},
             "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteMany"],
                      "storageClassName": "", "hostPath": {"path": vol},
                      "claimRef": {"namespace": ns, "name": "videos"}}},
            {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
             "metadata": {"name": "videos", "namespace": ns},
             "spec": {"accessModes": ["ReadWriteMany"], "storageClassName": "",
                      "volumeName": ns, "resources": {"requests": {"storage": "1Gi"}}}}]}))
    op = Operator(env, ns, "--worker-image", env["SLUICE_WORKER_IMAGE"],
                  "--worker-image-pull-policy", "Never", "--worker-host-network",
                  "--redis-addr", os.environ.get("REDIS_ADDR", ""),
                  "--polling-interval", f"{POLL_S:.0f}s")
    op.wait_ready()
    vj_s, tw_s = [], []
    try:
        for i in range(ROUNDS):
            vj = {"apiVersion": "sluice.dev/v1alpha1", "kind": "VideoJob",
                  "metadata": {"name": f"v{i}", "namespace": ns},
                  "spec": {"source": {"uri": "file:///videos/in.mp4"},
                           "output": {"uri": f"file:///videos/out/v{i}.mp4"},
                           "volume": {"mountPath": "/videos",
                                      "persistentVolumeClaim": {"claimName": "videos"}},
                           "kafka": {"bootstrap": env["KAFKA_BOOTSTRAP"]},
                           "workers": {"minReplicas": 1, "maxReplicas": 2}}}
            t0 = time.monotonic()
            api.call("POST", f"/apis/sluice.dev/v1alpha1/namespaces/{ns}/videojobs", vj)
            wait("process pod Ready", lambda: ready_pods(
                api, ns, f"sluice.dev/videojob=v{i},app.kubernetes.io/component=process"), op)
            vj_s.append(time.monotonic() - t0)

            topic = f"{ns}-{i}"
            create_topic(env, topic, 2)
            tw = {"apiVersion": "sluice.dev/v1alpha1", "kind": "TelemetryWindow",
                  "metadata": {"name": f"t{i}", "namespace": ns},
                  "spec": {"kafka": {"bootstrap": env["KAFKA_BOOTSTRAP"], "topic": topic},
                           "fields": {"timestamp": "ts", "timestampFormat": "epoch_ms",
                                      "keys": ["k"], "values": ["v"]},
                           "window": {"size": "10s"},
                           "workers": {"minReplicas": 0, "maxReplicas": 2,
                                       "lagThreshold": 100}}}
            api.call("POST", f"/apis/sluice.dev/v1alpha1/namespaces/{ns}/telemetrywindows", tw)
            wait("an idle Deployment", lambda: (api.call(
                "GET", f"/apis/apps/v1/namespaces/{ns}/deployments/t{i}-telemetry") or {}
            ).get("spec", {}).get("replicas") == 0, op)
            now = int(time.time() * 1000)
            burst = "".join(f'k{j % 4}\t{{"ts": {now + j}, "k": "k{j % 4}", "v": {j}}}\n'
                            for j in range(1000))
            t0 = time.monotonic()
            sh("kcat", "-b", env["KAFKA_BOOTSTRAP"], "-P", "-t", topic, "-K", "\t", input=burst)
            wait("telemetry pod Ready", lambda: ready_pods(
                api, ns, f"sluice.dev/telemetrywindow=t{i}"), op)
            tw_s.append(time.monotonic() - t0)
    finally:
        op.stop()
        sh(*kc, "delete", "namespace", ns, "--wait=false")
        sh(*kc, "delete", "pv", ns, "--wait=false")
    line("VideoJob apply -> first process pod Ready", vj_s, 3.0)
    line("burst -> new telemetry pod Ready (5 s poll)", tw_s, POLL_S + 2.0)


if __name__ == "__main__":
    main()
