#!/usr/bin/env python3
"""localrun: a stand-in kubelet that runs pods as local processes.

TEST AND DEMO MACHINERY ONLY. The stack has a real kube-apiserver and
kube-controller-manager but no kubelet, so the pods that ReplicaSets and Jobs
create would stay Pending for ever. localrun registers one Node
("sluice-local"), binds every unscheduled pod to it, runs each pod's first
container as a process on this machine (its command, args and environment),
and reports the pod's status back to the API server the way a kubelet does:
Running and Ready while the process lives, Succeeded or Failed when it exits,
restarts per restartPolicy. Scaling a Deployment therefore starts or stops
processes through the real controllers, and a Job completes when its process
exits 0.

What it maps, and how:
  - command[0] "sluice-worker" / "sluice-operator" (any path): the binary in
    --bin-dir; other commands run as given (from PATH);
  - env: value, valueFrom.secretKeyRef / configMapKeyRef (read through the
    API), fieldRef metadata.name / metadata.namespace / status.podIP;
  - configMap, secret and emptyDir volumes: written to a directory per pod;
    mount paths in command and args (also inside `sh -c` strings) are
    rewritten to that directory;
  - SLUICE_METRICS_ADDR=127.0.0.1 and SLUICE_METRICS_PORT=0 override the pod's,
    so replicas never fight over a port or listen beyond loopback.
Not mapped: images (the binaries under --bin-dir are the image), resources,
probes (Ready = process alive), init and sidecar containers.

Each pod's output goes to <work-dir>/<namespace>_<pod>.log and the pid is
recorded in the pod annotation sluice.dev/local-pid.

Usage: localrun.py --kubeconfig FILE --bin-dir build --work-dir DIR
Stops on SIGTERM/SIGINT, stopping every process it started (by PID).
"""

import argparse
import base64
import datetime
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import yaml

NODE = "sluice-local"
OWN_BINARIES = ("sluice-worker", "sluice-operator")


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def log(msg, **kv):
    fields = " ".join(f"{k}={v}" for k, v in kv.items())
    print(f"localrun: {msg} {fields}".rstrip(), file=sys.stderr, flush=True)


class Api:
    """The few REST calls a kubelet makes, from a kubeconfig (token or cert)."""

    def __init__(self, kubeconfig, workdir):
        with open(kubeconfig) as f:
            cfg = yaml.safe_load(f)
        ctx_name = cfg["current-context"]
        ctx = next(c["context"] for c in cfg["contexts"] if c["name"] == ctx_name)
        cluster = next(c["cluster"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])
        user = next(u["user"] for u in cfg["users"] if u["name"] == ctx["user"])
        self.server = cluster["server"].rstrip("/")
        self.ssl = ssl.create_default_context()
        if "certificate-authority-data" in cluster:
            self.ssl.load_verify_locations(
                cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
        elif "certificate-authority" in cluster:
            self.ssl.load_verify_locations(cafile=cluster["certificate-authority"])
        self.headers = {"Accept": "application/json"}
        if "token" in user:
            self.headers["Authorization"] = "Bearer " + user["token"]
        if "client-certificate-data" in user:
            cert = os.path.join(workdir, ".client.crt")
            key = os.path.join(workdir, ".client.key")
            for path, field in ((cert, "client-certificate-data"), (key, "client-key-data")):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(base64.b64decode(user[field]))
            self.ssl.load_cert_chain(cert, key)

    def call(self, method, path, body=None, ctype="application/json", ok404=False):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.server + path, data=data, method=method)
        for k, v in self.headers.items():
            req.add_header(k, v)
        if data is not None:
            req.add_header("Content-Type", ctype)
        try:
            with urllib.request.urlopen(req, context=self.ssl, timeout=30) as r:
                return json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            if ok404 and e.code in (404, 409):
                return None
            raise RuntimeError(f"{method} {path}: {e.code} {e.read()[:300]!r}") from None

    def patch_status(self, pod, status):
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        return self.call("PATCH", f"/api/v1/namespaces/{ns}/pods/{name}/status",
                         {"status": status}, "application/strategic-merge-patch+json",
                         ok404=True)


class LocalPod:
    """One pod's process and the directory its volumes live in."""

    def __init__(self, pod, proc, logf, root):
        self.uid = pod["metadata"]["uid"]
        self.ns = pod["metadata"]["namespace"]
        self.name = pod["metadata"]["name"]
        self.restart_policy = pod["spec"].get("restartPolicy", "Always")
        self.grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
        self.container = pod["spec"]["containers"][0]["name"]
        self.proc = proc
        self.logf = logf
        self.root = root
        self.restarts = 0
        self.started = now()
        self.next_start = 0.0
        self.done = False

    def stop(self, grace):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=max(1, min(grace, 30)))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()


class Kubelet:
    def __init__(self, api, bin_dir, workdir):
        self.api = api
        self.bin_dir = os.path.abspath(bin_dir)
        self.workdir = os.path.abspath(workdir)
        self.pods = {}  # uid -> LocalPod
        self.stopping = False

    # ---- node ----

    def ensure_node(self):
        node = {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": NODE, "labels": {"kubernetes.io/hostname": NODE,
                                                      "sluice.dev/local": "true"}}}
        self.api.call("POST", "/api/v1/nodes", node, ok404=True)
        self.heartbeat()

    def heartbeat(self):
        self.api.call("PATCH", f"/api/v1/nodes/{NODE}/status", {"status": {
            "conditions": [{"type": "Ready", "status": "True", "reason": "LocalRun",
                            "message": "localrun runs pods as local processes",
                            "lastHeartbeatTime": now(), "lastTransitionTime": now()}],
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
            "capacity": {"cpu": "64", "memory": "256Gi", "pods": "500"},
            "allocatable": {"cpu": "64", "memory": "256Gi", "pods": "500"}}},
            "application/strategic-merge-patch+json")

    # ---- pods ----

    def resolve_ref(self, ns, kind, ref):
        obj = self.api.call("GET", f"/api/v1/namespaces/{ns}/{kind}/{ref['name']}", ok404=True)
        if obj is None:
            if ref.get("optional"):
                return None
            raise RuntimeError(f"{kind[:-1]} {ns}/{ref['name']} not found")
        if kind == "secrets":
            raw = (obj.get("data") or {}).get(ref["key"])
            return None if raw is None else base64.b64decode(raw).decode()
        return (obj.get("data") or {}).get(ref["key"])

    def env_for(self, pod, container):
        ns = pod["metadata"]["namespace"]
        env = {"PATH": self.bin_dir + ":" + os.environ.get("PATH", "/usr/bin:/bin"),
               "HOME": os.environ.get("HOME", "/root")}
        for e in container.get("env") or []:
            if "value" in e:
                env[e["name"]] = e["value"]
                continue
            src = e.get("valueFrom") or {}
            val = None
            if "secretKeyRef" in src:
                val = self.resolve_ref(ns, "secrets", src["secretKeyRef"])
            elif "configMapKeyRef" in src:
                val = self.resolve_ref(ns, "configmaps", src["configMapKeyRef"])
            elif "fieldRef" in src:
                val = {"metadata.name": pod["metadata"]["name"],
                       "metadata.namespace": ns,
                       "status.podIP": "127.0.0.1",
                       "spec.nodeName": NODE}.get(src["fieldRef"]["fieldPath"], "")
            if val is not None:
                env[e["name"]] = val
        env["SLUICE_METRICS_ADDR"] = "127.0.0.1"
        env["SLUICE_METRICS_PORT"] = "0"
        return env

    def materialize_volumes(self, pod, container, root):
        """Writes configMap/secret/emptyDir volumes; returns {mountPath: local dir}."""
        ns = pod["metadata"]["namespace"]
        vols = {v["name"]: v for v in pod["spec"].get("volumes") or []}
        mounts = {}
        for m in container.get("volumeMounts") or []:
            v = vols.get(m["name"])
            if v is None:
                continue
            d = os.path.join(root, "volumes", m["name"])
            os.makedirs(d, exist_ok=True)
            for kind, key in (("configMap", "configmaps"), ("secret", "secrets")):
                if kind not in v:
                    continue
                name = v[kind].get("name") or v[kind].get("secretName")
                obj = self.api.call("GET", f"/api/v1/namespaces/{ns}/{key}/{name}", ok404=True)
                if obj is None:
                    raise RuntimeError(f"{kind} {ns}/{name} not found")
                for k, val in (obj.get("data") or {}).items():
                    raw = base64.b64decode(val) if kind == "secret" else val.encode()
                    with open(os.path.join(d, k), "wb") as f:
                        f.write(raw)
            mounts[m["mountPath"].rstrip("/")] = d
        return mounts

    def start(self, pod, lp=None):
        container = pod["spec"]["containers"][0]
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        root = lp.root if lp else os.path.join(self.workdir, f"{ns}_{name}")
        os.makedirs(root, exist_ok=True)
        argv = list(container.get("command") or []) + list(container.get("args") or [])
        if not argv:
            raise RuntimeError("the container has no command (images are not run here)")
        if os.path.basename(argv[0]) in OWN_BINARIES:
            argv[0] = os.path.join(self.bin_dir, os.path.basename(argv[0]))
        mounts = self.materialize_volumes(pod, container, root)
        for mp, d in sorted(mounts.items(), key=lambda x: -len(x[0])):
            pattern = re.compile(re.escape(mp) + r"(?=/|$|[\s'\";])")
            argv = [pattern.sub(d, a) for a in argv]
        env = self.env_for(pod, container)
        logf = open(os.path.join(self.workdir, f"{ns}_{name}.log"), "ab")
        proc = subprocess.Popen(argv, env=env, cwd=root, stdout=logf, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        log("started", pod=f"{ns}/{name}", pid=proc.pid, argv=" ".join(argv))
        if lp is None:
            lp = LocalPod(pod, proc, logf, root)
            self.pods[lp.uid] = lp
        else:
            lp.logf.close()
            lp.proc, lp.logf, lp.started = proc, logf, now()
        self.api.call("PATCH", f"/api/v1/namespaces/{ns}/pods/{name}",
                      {"metadata": {"annotations": {"sluice.dev/local-pid": str(proc.pid)}}},
                      "application/merge-patch+json", ok404=True)
        self.report(pod, lp)
        return lp

    def report(self, pod, lp, exit_code=None):
        running = exit_code is None
        state = ({"running": {"startedAt": lp.started}} if running else
                 {"terminated": {"exitCode": exit_code, "startedAt": lp.started,
                                 "finishedAt": now(),
                                 "reason": "Completed" if exit_code == 0 else "Error"}})
        phase = "Running"
        if not running and lp.done:
            phase = "Succeeded" if exit_code == 0 else "Failed"
        ready = "True" if running else "False"
        self.api.patch_status(pod, {
            "phase": phase, "hostIP": "127.0.0.1", "podIP": "127.0.0.1",
            "podIPs": [{"ip": "127.0.0.1"}], "startTime": lp.started,
            "conditions": [{"type": t, "status": s, "lastTransitionTime": now()} for t, s in
                           (("PodScheduled", "True"), ("Initialized", "True"),
                            ("ContainersReady", ready), ("Ready", ready))],
            "containerStatuses": [{"name": lp.container, "ready": running,
                                   "restartCount": lp.restarts, "image": "local",
                                   "imageID": "local", "started": running, "state": state}]})

    def fail_start(self, pod, err):
        log("cannot start", pod=f"{pod['metadata']['namespace']}/{pod['metadata']['name']}",
            error=err)
        self.api.patch_status(pod, {"phase": "Failed", "reason": "LocalRunError",
                                    "message": str(err)[:500]})

    def sync(self):
        pods = self.api.call("GET", "/api/v1/pods")["items"]
        seen = set()
        for pod in pods:
            uid, spec, meta = pod["metadata"]["uid"], pod["spec"], pod["metadata"]
            node = spec.get("nodeName")
            if node not in (None, NODE):
                continue
            seen.add(uid)
            lp = self.pods.get(uid)
            if meta.get("deletionTimestamp"):
                if lp is not None:
                    lp.stop(spec.get("terminationGracePeriodSeconds", 30))
                    del self.pods[uid]
                    log("stopped", pod=f"{meta['namespace']}/{meta['name']}")
                self.api.call("DELETE", f"/api/v1/namespaces/{meta['namespace']}/pods/"
                              f"{meta['name']}", {"gracePeriodSeconds": 0,
                                                  "preconditions": {"uid": uid}}, ok404=True)
                continue
            phase = (pod.get("status") or {}).get("phase")
            if node is None:
                self.api.call("POST", f"/api/v1/namespaces/{meta['namespace']}/pods/"
                              f"{meta['name']}/binding",
                              {"apiVersion": "v1", "kind": "Binding",
                               "metadata": {"name": meta["name"]},
                               "target": {"apiVersion": "v1", "kind": "Node", "name": NODE}},
                              ok404=True)
                continue
            if lp is None:
                if phase in ("Succeeded", "Failed"):
                    continue
                try:
                    self.start(pod)
                except Exception as e:  # noqa: BLE001 -- any failure is the pod's
                    self.fail_start(pod, e)
                continue
            self.check_exit(pod, lp)
        for uid in list(self.pods):
            if uid not in seen:  # deleted behind our back (force delete)
                self.pods.pop(uid).stop(0)

    def check_exit(self, pod, lp):
        if lp.done or lp.proc is None:
            return
        code = lp.proc.poll()
        if code is None:
            return
        restart = lp.restart_policy == "Always" or (lp.restart_policy == "OnFailure"
                                                      and code != 0)
        if not restart:
            lp.done = True
            log("exited", pod=f"{lp.ns}/{lp.name}", code=code)
            self.report(pod, lp, code)
            return
        if lp.next_start == 0.0:
            # CrashLoopBackOff, shortened: 1 s doubling to 20 s.
            lp.next_start = time.monotonic() + min(20, 2 ** min(lp.restarts, 5) / 2)
            self.report(pod, lp, code)
            return
        if time.monotonic() >= lp.next_start:
            lp.restarts += 1
            lp.next_start = 0.0
            self.start(pod, lp)

    def stop_all(self):
        for lp in self.pods.values():
            lp.stop(5)
        self.pods.clear()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"))
    ap.add_argument("--bin-dir", default="build")
    ap.add_argument("--work-dir", default=None)
    ap.add_argument("--interval", type=float, default=0.5)
    args = ap.parse_args()
    if not args.kubeconfig:
        ap.error("--kubeconfig (or KUBECONFIG) is required")
    workdir = args.work_dir or tempfile.mkdtemp(prefix="sluice-localrun.")
    os.makedirs(workdir, exist_ok=True)
    kubelet = Kubelet(Api(args.kubeconfig, workdir), args.bin_dir, workdir)

    def on_signal(_sig, _frm):
        kubelet.stopping = True
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    log("running", node=NODE, work_dir=workdir)
    last_beat = 0.0
    try:
        while not kubelet.stopping:
            try:
                if time.monotonic() - last_beat > 10:
                    kubelet.ensure_node()
                    last_beat = time.monotonic()
                kubelet.sync()
            except (RuntimeError, OSError, urllib.error.URLError) as e:
                # The API server may be away (tests restart it): keep the
                # processes running and try again, as a kubelet does.
                log("sync failed", error=e)
            time.sleep(args.interval)
    finally:
        kubelet.stop_all()
        log("stopped all pods")


if __name__ == "__main__":
    main()
