#!/usr/bin/env python3
"""bench_operator: the operator at cluster scale (issue 19's figures and targets).

On a stack of its own (tests/e2e/stack.sh with components "kafka etcd
kube-apiserver", its own TMPDIR and env file, stopped by the same script at
the end, also on failure; never the shared stack, since it creates tens of
thousands of objects), one sluice-operator watching all namespaces:

  1. idle: caches synced, no resource;
  2. N VideoJobs arriving at BENCH_OPERATOR_VJ_RATE a second (default 10: the
     target's 600 a minute; 0: as fast as the API server takes them, 16
     kept-alive connections at once), each timed from its POST to every child: the
     ConfigMap, the split Job and the status (observedGeneration), which the
     operator writes after the task topic is created (the topics are counted
     on Kafka at the end); VideoJobs per minute = N over the time from the
     first POST to the last VideoJob complete; p50/p95 apply -> every child;
  3. N TelemetryWindows (minReplicas 0, one shared input topic) until each
     has its ConfigMap, Deployment and status; RSS/PSS after these 2N;
  4. U unrelated objects in other namespaces, created 16 at a time: pods
     bound to a node that does not exist (no kubelet runs; each namespace's
     default ServiceAccount created here, since no controller-manager runs),
     ConfigMaps, Deployments whose labels match nothing of ours; RSS/PSS past
     STEADY_S (none of them reaches a label-selected watch: no condition);
  5. a restart with everything present: VmHWM of a fresh operator once its
     caches synced and it reconciled every resource, over the first one's
     steady state;
  6. CPU per idle second over 60 s (utime + stime) with everything present.

The first segment task on Kafka needs the split Job's pod to run, which a
kube-only stack cannot do (no kubelet): apply -> first task is measured on
the real node, not here; this bench reports apply -> every child.

Sizes: BENCH_OPERATOR_RESOURCES per kind (default 1000), BENCH_OPERATOR_UNRELATED
(default 20000). The operator: $SLUICE_OPERATOR, default build/sluice-operator;
the library floor: bench_lib_floor beside it (<its dir>/bench/), else
build/bench/. Every sample waits for a condition; the steady-state samples
also wait a fixed STEADY_S past it (the operator returns freed memory every
10 s), marked where they do.
"""
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import benchkube
from benchkube import (ROOT, Api, Operator, SideStack, Watch, count_listed, create_all,
                       create_topic, proc_cpu_s, proc_mem_kib, sh)

N = int(os.environ.get("BENCH_OPERATOR_RESOURCES", "1000"))
U = int(os.environ.get("BENCH_OPERATOR_UNRELATED", "20000"))
# VideoJobs arrive at this many a second (the target's 600 a minute), so
# apply -> children measures the operator at that rate, not a queue of N.
VJ_RATE = float(os.environ.get("BENCH_OPERATOR_VJ_RATE", "10"))
GROUP = "/apis/sluice.dev/v1alpha1/namespaces"
NS_VJ, NS_TW = "bench-vj", "bench-tw"
OTHER_NS = 10            # namespaces the unrelated objects spread over
STEADY_S = 12            # clock: past the operator's 10 s malloc_trim and a lag poll
IDLE_CPU_S = 60          # clock: the idle CPU window
NO_NODE = "bench-no-such-node"


def tw(name, env, topic):
    return {"apiVersion": "sluice.dev/v1alpha1", "kind": "TelemetryWindow",
            "metadata": {"name": name, "namespace": NS_TW},
            "spec": {"kafka": {"bootstrap": env["KAFKA_BOOTSTRAP"], "topic": topic},
                     "fields": {"timestamp": "ts", "keys": ["k"], "values": ["v"]},
                     "window": {"size": "10s"}, "workers": {"minReplicas": 0}}}


def vj(name, env):
    return {"apiVersion": "sluice.dev/v1alpha1", "kind": "VideoJob",
            "metadata": {"name": name, "namespace": NS_VJ},
            "spec": {"source": {"uri": "file:///media/in.mp4"},
                     "output": {"uri": f"file:///media/out/{name}.mp4"},
                     "kafka": {"bootstrap": env["KAFKA_BOOTSTRAP"]}}}


UNRELATED_LABELS = {"bench": "unrelated", "app": "bench-other"}
CONTAINER = {"name": "c", "image": "bench-unrelated", "imagePullPolicy": "Never"}


def unrelated(i):
    """(path, body) of the i-th unrelated object: a pod, a ConfigMap or a
    Deployment in turn, over OTHER_NS namespaces."""
    ns = f"bench-other-{i % OTHER_NS}"
    name = f"u{i}"
    md = {"name": name, "namespace": ns, "labels": UNRELATED_LABELS}
    kind = i % 3
    if kind == 0:
        return (f"/api/v1/namespaces/{ns}/pods",
                {"apiVersion": "v1", "kind": "Pod", "metadata": md,
                 "spec": {"nodeName": NO_NODE, "containers": [CONTAINER]}})
    if kind == 1:
        return (f"/api/v1/namespaces/{ns}/configmaps",
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": md,
                 "data": {"settings.yaml": f"object: {name}\nsize: {'x' * 160}\n"}})
    return (f"/apis/apps/v1/namespaces/{ns}/deployments",
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": md,
             "spec": {"replicas": 1, "selector": {"matchLabels": UNRELATED_LABELS},
                      "template": {"metadata": {"labels": UNRELATED_LABELS},
                                   "spec": {"containers": [CONTAINER]}}}})


class Tracker:
    """When each child and status of one namespace's resources was first
    seen, from watch streams (no polling)."""

    def __init__(self, api, ns, plural, children):
        self.lock = threading.Lock()
        self.seen = {}  # (what, name) -> time.monotonic()
        self.watches = [Watch(api, f"{GROUP}/{ns}/{plural}", self._resource)]
        for path in children:
            self.watches.append(Watch(api, path.format(ns=ns), self._child))

    def _resource(self, typ, obj, t):
        if (obj.get("status") or {}).get("observedGeneration"):
            self._mark("status", obj["metadata"]["name"], t)

    def _child(self, typ, obj, t):
        if typ in ("ADDED", "MODIFIED"):
            self._mark(obj["kind"], obj["metadata"]["name"], t)

    def _mark(self, what, name, t):
        with self.lock:
            self.seen.setdefault((what, name), t)

    def done_at(self, keys):
        """The time the last of keys was seen; None while one is missing."""
        with self.lock:
            ts = [self.seen.get(k) for k in keys]
        return None if None in ts else max(ts)

    def check(self):
        for w in self.watches:
            if w.error:
                raise SystemExit(f"watch failed: {w.error}")

    def stop(self):
        for w in self.watches:
            w.stop()


def wait_for(what, fn, timeout, op, poll=0.5):
    """benchkube.wait_for, also failing at once when the operator exits."""
    def cond():
        if op.proc.poll() is not None:
            raise SystemExit(f"the operator exited while waiting for {what}; log: "
                             f"{op.log_path}\n{op.log()[-2000:]}")
        return fn()
    return benchkube.wait_for(what, cond, timeout, poll=poll,
                              detail=lambda: f"log: {op.log_path}")


def soft_wait(what, fn, timeout, op):
    """wait_for, but past timeout says so and goes on: the sample that
    follows is still worth printing, marked."""
    try:
        wait_for(what, fn, timeout, op)
    except SystemExit as e:
        if op.proc.poll() is not None:
            raise
        print(f"  NOTE: {str(e).splitlines()[0]} ({timeout:.0f} s); sampled anyway",
              flush=True)


def lib_floor(env):
    """(VmRSS, RssFile) in KiB of bench_lib_floor after its last step (run
    against the side stack: it reads KUBE_APISERVER, SLUICE_STACK_DIR and
    KAFKA_BOOTSTRAP), or None."""
    for exe in (benchkube.OPERATOR.parent / "bench" / "bench_lib_floor",
                ROOT / "build" / "bench" / "bench_lib_floor"):
        if exe.exists():
            break
    else:
        return None
    r = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60,
                       env={**os.environ, **env})
    m = re.findall(r"floor_rss_kib (\d+) floor_file_kib (\d+)", r.stdout)
    if r.returncode != 0 or not m:
        print(f"bench_lib_floor failed: {r.stdout.strip()} {r.stderr.strip()}")
        return None
    return int(m[-1][0]), int(m[-1][1])


def pct(sorted_vals, p):
    return sorted_vals[min(len(sorted_vals) - 1, max(0, int(round(p * len(sorted_vals))) - 1))]


def mib(kib):
    return f"{kib / 1024:.1f} MiB"


def steady(op, why):
    """A steady-state sample: STEADY_S on the clock past a condition met
    (the operator's periodic malloc_trim has run since), then /proc."""
    time.sleep(STEADY_S)  # clock: steady state
    m = proc_mem_kib(op.proc.pid)
    caches = {re.search(r'resource="([^"]+)"', l).group(1): int(float(l.rsplit(" ", 1)[1]))
              for l in op.metrics().splitlines()
              if l.startswith("sluice_operator_cache_objects{")}
    print(f"  [{why}] RSS {mib(m['VmRSS'])} (own {mib(m['RssAnon'])}, library pages "
          f"{mib(m['RssFile'])}), PSS {mib(m['Pss'])}, threads {m['Threads']}, caches "
          + " ".join(f"{k}={v}" for k, v in caches.items()), flush=True)
    return m


def reconciled(op):
    return op.metric_sum("sluice_operator_reconcile_total")


def kafka_topics(env, prefix):
    out = sh("kcat", "-b", env["KAFKA_BOOTSTRAP"], "-L", "-J", timeout=120)
    return sum(1 for t in json.loads(out).get("topics", [])
               if t["topic"].startswith(prefix) and not t["topic"].endswith(".dlq"))


def run(env):
    api = Api(env["KUBECONFIG"])
    kc = ["kubectl", "--kubeconfig", env["KUBECONFIG"]]
    sh(*kc, "apply", "-f", str(ROOT / "crds"))
    sh(*kc, "wait", "--for=condition=Established", "--timeout=60s",
       "crd/telemetrywindows.sluice.dev", "crd/videojobs.sluice.dev")
    for ns in [NS_VJ, NS_TW] + [f"bench-other-{i}" for i in range(OTHER_NS)]:
        api.call("POST", "/api/v1/namespaces",
                 {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    topic = "bench-tw-in"
    create_topic(env, topic, 4)
    floor = lib_floor(env)
    print(f"bench_operator: {N} VideoJobs + {N} TelemetryWindows, {U} unrelated objects; "
          f"operator {benchkube.OPERATOR}", flush=True)

    op = Operator(env, "")  # all namespaces: the unrelated objects are in view
    try:
        op.wait_ready(timeout=60)
        idle = steady(op, "idle")

        # VideoJobs: as fast as the API takes them, each timed to every child.
        tr = Tracker(api, NS_VJ, "videojobs",
                     ["/api/v1/namespaces/{ns}/configmaps", "/apis/batch/v1/namespaces/{ns}/jobs"])
        names = [f"vj{i}" for i in range(N)]
        t_post = create_all(api, [(f"{GROUP}/{NS_VJ}/videojobs", vj(n, env)) for n in names],
                            rate=VJ_RATE)
        t_first = t_post[0][0] if t_post else time.monotonic()
        t_created = max(t for _, t in t_post)
        print(f"  {N} VideoJobs created in {t_created - t_first:.1f} s by the API server "
              f"(paced at {VJ_RATE:g}/s)", flush=True)

        def vj_keys(n):
            return [("status", n), ("ConfigMap", f"{n}-config"), ("Job", f"{n}-split")]

        def vj_all_done():
            tr.check()
            return all(tr.done_at(vj_keys(n)) is not None for n in names)

        vj_timeout = max(600, N * 0.9)
        soft_wait("every VideoJob's children and status", vj_all_done, vj_timeout, op)
        done = {n: tr.done_at(vj_keys(n)) for n in names}
        tr.stop()
        # Percentiles over all N: one not complete counts as past the wait.
        lat = sorted((done[n] - t_post[i][0]) * 1000 if done[n] is not None else float("inf")
                     for i, n in enumerate(names))
        complete = sum(1 for n in names if done[n] is not None)
        t_last = max((t for t in done.values() if t is not None), default=t_first)
        per_min = complete / max(t_last - t_first, 1e-9) * 60
        task_topics = kafka_topics(env, f"sluice-vj-{NS_VJ}-")

        # TelemetryWindows: their ConfigMap, Deployment and status.
        tr = Tracker(api, NS_TW, "telemetrywindows",
                     ["/api/v1/namespaces/{ns}/configmaps",
                      "/apis/apps/v1/namespaces/{ns}/deployments"])
        tw_names = [f"tw{i}" for i in range(N)]
        t_tw = create_all(api, [(f"{GROUP}/{NS_TW}/telemetrywindows", tw(n, env, topic))
                                for n in tw_names])

        def tw_keys(n):
            return [("status", n), ("ConfigMap", f"{n}-config"),
                    ("Deployment", f"{n}-telemetry")]

        def tw_all_done():
            tr.check()
            return all(tr.done_at(tw_keys(n)) is not None for n in tw_names)

        soft_wait("every TelemetryWindow's children and status", tw_all_done,
                  max(600, N * 0.9), op)
        tw_done = [t for t in (tr.done_at(tw_keys(n)) for n in tw_names) if t is not None]
        tw_s = max(tw_done) - t_tw[0][0] if tw_done else 0
        tr.stop()
        print(f"  {len(tw_done)}/{N} TelemetryWindows with every child and status "
              f"{tw_s:.1f} s after the first POST", flush=True)
        full = steady(op, f"{2 * N} resources")

        # Unrelated objects in other namespaces.
        for i in range(OTHER_NS):
            api.call("POST", f"/api/v1/namespaces/bench-other-{i}/serviceaccounts",
                     {"apiVersion": "v1", "kind": "ServiceAccount",
                      "metadata": {"name": "default"}})
        t0 = time.monotonic()
        create_all(api, [unrelated(i) for i in range(U)])
        t_u = time.monotonic() - t0
        sel = "?labelSelector=bench%3Dunrelated"
        listed = {k: count_listed(api, p + sel) for k, p in
                  (("pods", "/api/v1/pods"), ("configmaps", "/api/v1/configmaps"),
                   ("deployments", "/apis/apps/v1/deployments"))}
        print(f"  {U} unrelated objects created in {t_u:.1f} s ({U / max(t_u, 1e-9):.0f}/s); "
              f"listed: " + ", ".join(f"{v} {k}" for k, v in listed.items()), flush=True)
        # The operator's watches are label-selected: none of these reaches a
        # cache, so there is no condition to wait for; steady() is the clock.
        after_u = steady(op, f"{2 * N} resources + {U} unrelated")
    finally:
        op.stop()

    # A restart with everything present.
    op = Operator(env, "")
    try:
        op.wait_ready(timeout=300)
        soft_wait("the restarted operator to reconcile every resource",
                  lambda: reconciled(op) >= 2 * N, max(600, N * 0.6), op)
        hwm = proc_mem_kib(op.proc.pid)["VmHWM"]
        restarted = steady(op, "restarted, every resource reconciled")
        # Idle CPU with everything present.
        c0, t0 = proc_cpu_s(op.proc.pid), time.monotonic()
        time.sleep(IDLE_CPU_S)  # clock: the idle CPU window
        cpu_ms = (proc_cpu_s(op.proc.pid) - c0) * 1000 / (time.monotonic() - t0)
    finally:
        op.stop()

    n_res = 2 * N
    per_res = (full["VmRSS"] - idle["VmRSS"]) / max(n_res, 1)
    per_res_anon = (full["RssAnon"] - idle["RssAnon"]) / max(n_res, 1)
    per_res_pss = (full["Pss"] - idle["Pss"]) / max(n_res, 1)
    du = after_u["VmRSS"] - full["VmRSS"]
    du_anon = after_u["RssAnon"] - full["RssAnon"]
    print()
    print("== bench_operator figures (target; ratio = figure / target, <= 1 meets it, "
          ">= 1 for rates)")
    print(f"RSS idle {mib(idle['VmRSS'])}, PSS {mib(idle['Pss'])} (own pages "
          f"{mib(idle['RssAnon'])})")
    print(f"RSS with {N} VideoJobs + {N} TelemetryWindows {mib(full['VmRSS'])}, PSS "
          f"{mib(full['Pss'])} (own pages {mib(full['RssAnon'])})")
    print(f"RSS after {U} unrelated objects {mib(after_u['VmRSS'])}, PSS "
          f"{mib(after_u['Pss'])} (own pages {mib(after_u['RssAnon'])})")
    print(f"memory per resource above idle: {per_res:.1f} KiB RSS (own pages "
          f"{per_res_anon:.1f} KiB, PSS {per_res_pss:.1f} KiB); target <= 4 KiB; "
          f"ratio {per_res / 4:.2f}")
    print(f"unrelated objects' RSS delta: {du / 1024:+.2f} MiB (own pages "
          f"{du_anon / 1024:+.2f} MiB); target < 1 MiB; ratio {abs(du) / 1024:.2f}")
    print(f"restart peak (VmHWM of a fresh operator, every resource reconciled) "
          f"{mib(hwm)} over steady state {mib(after_u['VmRSS'])} = "
          f"{hwm / after_u['VmRSS']:.2f}x; target <= 1.25x; ratio "
          f"{hwm / after_u['VmRSS'] / 1.25:.2f} (the restarted one's steady RSS "
          f"{mib(restarted['VmRSS'])})")
    if complete:
        def ms(v):
            return f"> {vj_timeout * 1000:.0f} (not complete)" if v == float("inf") else f"{v:.0f}"
        print(f"VideoJobs per minute with every child and status: {per_min:.0f} ({complete}/"
              f"{N} complete in {t_last - t_first:.1f} s); target >= 600; ratio "
              f"{per_min / 600:.2f}")
        print(f"apply -> every child (ConfigMap, split Job, status after the task topic), "
              f"over all {N}: p50 {ms(pct(lat, 0.5))} ms, p95 {ms(pct(lat, 0.95))} ms; target "
              f"p95 <= 2000 ms (to the first task on Kafka, which needs the node); ratio "
              f"{pct(lat, 0.95) / 2000:.2f}")
    else:
        print("VideoJobs per minute: none complete")
    print(f"  task topics on Kafka: {task_topics} of {N}")
    print(f"CPU per idle second over {IDLE_CPU_S} s with everything present: "
          f"{cpu_ms:.2f} ms/s; target <= 2 ms/s; ratio {cpu_ms / 2:.2f}")
    if floor:
        print(f"library floor (bench_lib_floor: the same libraries, one HTTPS and one Kafka "
              f"request made): RSS {mib(floor[0])}, of which shared library pages "
              f"{mib(floor[1])}; the idle operator / floor = {idle['VmRSS'] / floor[0]:.2f}")
    else:
        print("library floor: bench_lib_floor not built (make build/bench/bench_lib_floor)")


def main():
    # SIGTERM, and SIGINT even where a background shell ignored it: leave
    # through the finally clauses, so the operator and the stack are stopped.
    def leave(sig, _frame):
        raise SystemExit(f"bench_operator: stopped by signal {sig}")
    signal.signal(signal.SIGTERM, leave)
    signal.signal(signal.SIGINT, leave)
    with SideStack(prefix="sluice-bench-operator-") as env:
        run(env)


if __name__ == "__main__":
    sys.exit(main())
