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
import json
import os
import statistics
import subprocess
import time

from benchkube import ROOT, Api, Operator, create_topic, sh, stack_env_or_skip

ROUNDS = int(os.environ.get("BENCH_SCALE_ROUNDS", "5"))
POLL_S = 5.0


def replicas(api, ns, name):
    d = api.call("GET", f"/apis/apps/v1/namespaces/{ns}/deployments/{name}")
    return None if d is None else d["spec"].get("replicas")


def main():
    env = stack_env_or_skip("bench_scale_reaction")
    kc = ["kubectl", "--kubeconfig", env["KUBECONFIG"]]
    api = Api(env["KUBECONFIG"])
    ns = f"bench-scale-{os.getpid()}"
    sh(*kc, "apply", "-f", str(ROOT / "crds"))
    sh(*kc, "wait", "--for=condition=Established", "--timeout=60s",
       "crd/telemetrywindows.sluice.dev")
    sh(*kc, "create", "namespace", ns)
    op = Operator(env, ns)
    results = []
    try:
        for i in range(ROUNDS):
            topic = f"{ns}-{i}"
            create_topic(env, topic, 4)
            tw = {"apiVersion": "sluice.dev/v1alpha1", "kind": "TelemetryWindow",
                  "metadata": {"name": f"r{i}", "namespace": ns},
                  "spec": {"kafka": {"bootstrap": env["KAFKA_BOOTSTRAP"], "topic": topic},
                           "fields": {"timestamp": "ts", "keys": ["k"], "values": ["v"]},
                           "window": {"size": "10s"},
                           "workers": {"minReplicas": 0, "maxReplicas": 4,
                                       "lagThreshold": 100}}}
            api.call("POST", f"/apis/sluice.dev/v1alpha1/namespaces/{ns}/telemetrywindows", tw)
            dep = f"r{i}-telemetry"
            deadline = time.monotonic() + 60
            while replicas(api, ns, dep) != 0:
                if op.proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"no Deployment {dep} at 0 replicas; log: {op.log_path}")
                time.sleep(0.1)
            time.sleep(POLL_S * (i + 0.5) / ROUNDS)  # spread the bursts over the cycle
            burst = "".join(f'{j}\t{{"ts":"2026-01-01T00:00:00Z","k":"{j}","v":1}}\n'
                            for j in range(1000))
            t0 = time.monotonic()
            sh("kcat", "-b", env["KAFKA_BOOTSTRAP"], "-P", "-t", topic, "-K", "\t", input=burst)
            while (replicas(api, ns, dep) or 0) == 0:
                if time.monotonic() - t0 > 60:
                    raise SystemExit(f"round {i}: no scale-up in 60 s; log: {op.log_path}")
                time.sleep(0.02)
            results.append(time.monotonic() - t0)
            print(f"  round {i}: burst -> replicas changed in {results[-1]:.2f} s")
    finally:
        op.stop()
        subprocess.run([*kc, "delete", "namespace", ns, "--wait=false"], capture_output=True)
    worst = max(results)
    print(f"scale reaction: median {statistics.median(results):.2f} s, worst {worst:.2f} s "
          f"over {len(results)} bursts; target <= polling interval + 1 s = {POLL_S + 1:.0f} s; "
          f"worst / target = {worst / (POLL_S + 1):.2f}")


if __name__ == "__main__":
    main()
