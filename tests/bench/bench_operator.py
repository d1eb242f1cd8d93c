#!/usr/bin/env python3
"""bench_operator: the operator's size and speed (issue 5's targets).

  1. time from creating a TelemetryWindow to its children existing
     (ConfigMap and Deployment), over 20 resources created one at a time
     (target under 200 ms on loopback);
  2. RSS with 200 resources of each kind (target under 16 MB), read from
     /proc once every resource has a status;
  3. reconciles per second while those 400 are first reconciled, from the
     operator's own sluice_operator_reconcile_total.

Needs a stack with Kafka and the Kubernetes API (make stack-up); prints a
line and exits 0 when there is none. Run by `make bench`.
"""
import os
import re
import statistics
import subprocess
import time

from benchkube import ROOT, Api, Operator, create_topic, sh, stack_env_or_skip

N = int(os.environ.get("BENCH_OPERATOR_RESOURCES", "200"))
LATENCY_ROUNDS = 20
GROUP = "/apis/sluice.dev/v1alpha1/namespaces"


def tw(name, ns, env, topic):
    return {"apiVersion": "sluice.dev/v1alpha1", "kind": "TelemetryWindow",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"kafka": {"bootstrap": env["KAFKA_BOOTSTRAP"], "topic": topic},
                     "fields": {"timestamp": "ts", "keys": ["k"], "values": ["v"]},
                     "window": {"size": "10s"}, "workers": {"minReplicas": 0}}}


def vj(name, ns, env):
    return {"apiVersion": "sluice.dev/v1alpha1", "kind": "VideoJob",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"source": {"uri": "file:///media/in.mp4"},
                     "output": {"uri": f"file:///media/out/{name}.mp4"},
                     "kafka": {"bootstrap": env["KAFKA_BOOTSTRAP"]}}}


def count_with_status(api, ns, plural):
    items = api.call("GET", f"{GROUP}/{ns}/{plural}")["items"]
    return sum(1 for i in items if (i.get("status") or {}).get("observedGeneration"))


def lib_floor():
    """(VmRSS, RssFile) in KiB of bench_lib_floor after its last step: the
    operator's libraries with one request of each kind made; None when it
    was not built or failed."""
    exe = ROOT / "build" / "bench" / "bench_lib_floor"
    if not exe.exists():
        return None
    r = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    m = re.findall(r"floor_rss_kib (\d+) floor_file_kib (\d+)", r.stdout)
    if r.returncode != 0 or not m:
        print(f"bench_lib_floor failed: {r.stderr.strip()}")
        return None
    return int(m[-1][0]), int(m[-1][1])


def main():
    env = stack_env_or_skip("bench_operator")
    kc = ["kubectl", "--kubeconfig", env["KUBECONFIG"]]
    api = Api(env["KUBECONFIG"])
    ns = f"bench-op-{os.getpid()}"
    sh(*kc, "apply", "-f", str(ROOT / "crds"))
    sh(*kc, "wait", "--for=condition=Established", "--timeout=60s",
       "crd/telemetrywindows.sluice.dev", "crd/videojobs.sluice.dev")
    sh(*kc, "create", "namespace", ns)
    topic = f"{ns}-in"
    create_topic(env, topic, 2)
    floor = lib_floor()
    op = Operator(env, ns)
    try:
        op.wait_ready()
        time.sleep(2)  # past the first requests: TLS set up, caches listed
        rss0, lib0 = op.rss_kib(), op.rss_kib("RssFile")
        print(f"operator RSS idle (caches synced, no resources): {rss0 / 1024:.1f} MiB, of "
              f"which shared library pages {lib0 / 1024:.1f} MiB")
        if floor:
            print(f"  the same libraries alone, one HTTPS and one Kafka request made "
                  f"(bench_lib_floor): {floor[0] / 1024:.1f} MiB, of which shared library "
                  f"pages {floor[1] / 1024:.1f} MiB; the idle operator's library pages / "
                  f"theirs = {lib0 / floor[1]:.2f}")
        lat = []
        for i in range(LATENCY_ROUNDS):
            name = f"lat{i}"
            t0 = time.monotonic()
            api.call("POST", f"{GROUP}/{ns}/telemetrywindows", tw(name, ns, env, topic))
            while (api.call("GET", f"/apis/apps/v1/namespaces/{ns}/deployments/{name}-telemetry")
                   is None or api.call("GET", f"/api/v1/namespaces/{ns}/configmaps/"
                                      f"{name}-config") is None):
                if time.monotonic() - t0 > 30:
                    raise SystemExit(f"no children for {name} in 30 s; log: {op.log_path}")
                time.sleep(0.002)
            lat.append((time.monotonic() - t0) * 1000)
        lat.sort()
        p95 = lat[int(len(lat) * 0.95) - 1]
        print(f"apply -> children: median {statistics.median(lat):.0f} ms, p95 {p95:.0f} ms "
              f"over {len(lat)}; target < 200 ms; p95 / target = {p95 / 200:.2f}")

        r0, t0 = op.metric_sum("sluice_operator_reconcile_total"), time.monotonic()
        for i in range(N):
            api.call("POST", f"{GROUP}/{ns}/telemetrywindows", tw(f"tw{i}", ns, env, topic))
            api.call("POST", f"{GROUP}/{ns}/videojobs", vj(f"vj{i}", ns, env))
        want_tw, want_vj = N + LATENCY_ROUNDS, N
        deadline = time.monotonic() + 600
        while True:
            done_tw = count_with_status(api, ns, "telemetrywindows")
            done_vj = count_with_status(api, ns, "videojobs")
            if done_tw >= want_tw and done_vj >= want_vj:
                break
            if time.monotonic() > deadline or op.proc.poll() is not None:
                raise SystemExit(f"only {done_tw}/{want_tw} TelemetryWindows and {done_vj}/"
                                 f"{want_vj} VideoJobs have a status; log: {op.log_path}")
            time.sleep(0.5)
        dt = time.monotonic() - t0
        r1 = op.metric_sum("sluice_operator_reconcile_total")
        # Steady state: past the operator's periodic return of freed memory
        # (every 10 s) and an autoscaler poll of every resource.
        time.sleep(12)
        rss, anon, lib, hwm = (op.rss_kib(f) for f in ("VmRSS", "RssAnon", "RssFile", "VmHWM"))
        print(f"reconciles: {r1 - r0:.0f} in {dt:.1f} s = {(r1 - r0) / dt:.0f}/s while "
              f"{2 * N} resources were created and first reconciled")
        n_res = want_tw + want_vj
        print(f"operator RSS with {want_tw} TelemetryWindows and {want_vj} VideoJobs: "
              f"{rss / 1024:.1f} MiB (idle {rss0 / 1024:.1f} MiB, peak {hwm / 1024:.1f} MiB); "
              f"target < 16 MB; ratio {rss * 1024 / 16e6:.2f}")
        print(f"  of which its own memory {anon / 1024:.1f} MiB, shared library pages "
              f"{lib / 1024:.1f} MiB (mapped by every process using libcurl, OpenSSL, "
              f"librdkafka)")
        print(f"  per resource: {(rss - rss0) / n_res:.1f} KiB above idle; the target leaves "
              f"{(16e6 / 1024 - rss0) / n_res:.1f} KiB each above this idle operator")
    finally:
        op.stop()
        subprocess.run([*kc, "delete", "namespace", ns, "--wait=false"], capture_output=True)


if __name__ == "__main__":
    main()
