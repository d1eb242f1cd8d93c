#!/usr/bin/env python3
"""bench_scale_reaction: time from a burst of lag to the worker Deployment's
replicas changing, with the operator's default polling interval (5 s).

Target (issue 6): one polling interval plus under 1 s. Each round applies a
fresh TelemetryWindow (minReplicas 0) on its own topic, waits until the
operator has created its Deployment at 0 replicas, produces a burst, and
measures until spec.replicas > 0 (read every 20 ms from the API server).
A burst lands at a random point of the polling cycle, so the figures spread
over [0, interval] plus the reaction itself.

Needs a stack with Kafka and the Kubernetes API (make stack-up); prints a
line and exits 0 when there is none. Run by `make bench`.
"""
import base64
import json
import os
import pathlib
import re
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
ROUNDS = int(os.environ.get("BENCH_SCALE_ROUNDS", "5"))
POLL_S = 5.0


def env_or_skip():
    need = ("KUBECONFIG", "KAFKA_BOOTSTRAP", "KAFKA_LIBS")
    if not all(os.environ.get(k) for k in need):
        print("bench_scale_reaction: skipped (no stack: run `make stack-up` first)")
        sys.exit(0)
    return {k: os.environ[k] for k in need}


def sh(*cmd, input=None):
    p = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)}: {p.stderr.strip()}")
    return p.stdout


class Api:
    """Reads Deployments straight from the API server (kubectl would add ~100 ms)."""

    def __init__(self, kubeconfig):
        cfg = yaml.safe_load(open(kubeconfig))
        ctx = next(c["context"] for c in cfg["contexts"] if c["name"] == cfg["current-context"])
        cl = next(c["cluster"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])
        user = next(u["user"] for u in cfg["users"] if u["name"] == ctx["user"])
        self.server = cl["server"]
        self.ssl = ssl.create_default_context(
            cadata=base64.b64decode(cl["certificate-authority-data"]).decode())
        self.token = user["token"]

    def replicas(self, ns, name):
        req = urllib.request.Request(
            f"{self.server}/apis/apps/v1/namespaces/{ns}/deployments/{name}",
            headers={"Authorization": f"Bearer {self.token}"})
        try:
            with urllib.request.urlopen(req, context=self.ssl, timeout=5) as r:
                return json.load(r)["spec"].get("replicas")
        except urllib.error.HTTPError:
            return None


def leader_off(env):
    """--leader-elect=false where the operator has leader election: one
    process, no Lease namespace to set up."""
    out = sh(str(ROOT / "build" / "sluice-operator"), "--help")
    return ["--leader-elect=false"] if "--leader-elect" in out else []


def main():
    env = env_or_skip()
    kc = ["kubectl", "--kubeconfig", env["KUBECONFIG"]]
    api = Api(env["KUBECONFIG"])
    ns = f"bench-scale-{os.getpid()}"
    sh(*kc, "apply", "-f", str(ROOT / "crds"))
    sh(*kc, "wait", "--for=condition=Established", "--timeout=60s",
       "crd/telemetrywindows.sluice.dev")
    sh(*kc, "create", "namespace", ns)
    work = tempfile.mkdtemp(prefix="sluice-bench-scale.")
    log = open(f"{work}/operator.log", "w")
    op = subprocess.Popen([str(ROOT / "build" / "sluice-operator"), "--kubeconfig",
                           env["KUBECONFIG"], "--namespace", ns, "--metrics-port", "0",
                           "--worker-image", "bench", "--kafka-bootstrap", env["KAFKA_BOOTSTRAP"],
                           *leader_off(env)],
                          stdout=subprocess.DEVNULL, stderr=log)
    results = []
    try:
        for i in range(ROUNDS):
            topic = f"{ns}-{i}"
            sh("java", "-Xmx256m", "-Dlog4j.configuration=file:/dev/null", "-cp",
               env["KAFKA_LIBS"] + "/*", "org.apache.kafka.tools.TopicCommand",
               "--bootstrap-server", env["KAFKA_BOOTSTRAP"], "--create", "--topic", topic,
               "--partitions", "4", "--replication-factor", "1")
            tw = {"apiVersion": "sluice.dev/v1alpha1", "kind": "TelemetryWindow",
                  "metadata": {"name": f"r{i}", "namespace": ns},
                  "spec": {"kafka": {"bootstrap": env["KAFKA_BOOTSTRAP"], "topic": topic},
                           "fields": {"timestamp": "ts", "keys": ["k"], "values": ["v"]},
                           "window": {"size": "10s"},
                           "workers": {"minReplicas": 0, "maxReplicas": 4,
                                       "lagThreshold": 100}}}
            sh(*kc, "apply", "-f", "-", input=json.dumps(tw))
            dep = f"r{i}-telemetry"
            deadline = time.monotonic() + 60
            while api.replicas(ns, dep) != 0:
                if op.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"no Deployment {dep} at 0 replicas; operator log: {work}")
                time.sleep(0.1)
            time.sleep(POLL_S * (i + 0.5) / ROUNDS)  # spread bursts over the cycle
            burst = "".join(f'{j}\t{{"ts":"2026-01-01T00:00:00Z","k":"{j}","v":1}}\n'
                            for j in range(1000))
            t0 = time.monotonic()
            sh("kcat", "-b", env["KAFKA_BOOTSTRAP"], "-P", "-t", topic, "-K", "\t", input=burst)
            while (api.replicas(ns, dep) or 0) == 0:
                if time.monotonic() - t0 > 60:
                    raise SystemExit(f"round {i}: no scale-up in 60 s; operator log: {work}")
                time.sleep(0.02)
            results.append(time.monotonic() - t0)
            print(f"  round {i}: burst -> replicas changed in {results[-1]:.2f} s")
    finally:
        op.terminate()
        op.wait(timeout=30)
        subprocess.run([*kc, "delete", "namespace", ns, "--wait=false"], capture_output=True)
    worst = max(results)
    print(f"scale reaction: median {statistics.median(results):.2f} s, worst {worst:.2f} s "
          f"over {len(results)} bursts; target <= polling interval + 1 s = {POLL_S + 1:.0f} s; "
          f"worst / target = {worst / (POLL_S + 1):.2f}")
    text = open(f"{work}/operator.log").read()
    scaled = len(re.findall(r'"msg":"scaled"', text))
    print(f"  operator scaled {scaled} times (log: {work}/operator.log)")


if __name__ == "__main__":
    main()
