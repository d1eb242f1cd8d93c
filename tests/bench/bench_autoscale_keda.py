#!/usr/bin/env python3
"""bench_autoscale_keda: Sluice's autoscaler side by side with real KEDA
(issue 18), on the same worker image, the same TelemetryWindow spec, the
same input patterns, one side after the other.

  Sluice side  a TelemetryWindow the Sluice operator (started here, its
               defaults: 5 s polls, 300 s stabilization) scales; and, when
               the CRD takes it, a second run with
               spec.workers.scaling.targetDrainSeconds.
  KEDA side    the same TelemetryWindow with the annotation
               sluice.dev/paused: "true", whose Deployment the Sluice
               operator creates and is then stopped (so nothing of Sluice
               touches it, whether the annotation is honoured or not), plus a
               ScaledObject with KEDA's kafka trigger on it: KEDA's defaults
               (30 s polls), the HPA controller of kube-controller-manager
               (15 s sync, 300 s scale-down stabilization) scales it through
               KEDA's metrics adapter (tests/bench/keda.py).

Each side has its own topic and group with the same partition count. The
worker pods run on the stack's real node from the worker image, with a CPU
limit (BENCH_KEDA_CPU) so that one replica's capacity C is small and
measured first (a backlog drained by one replica); the rates are multiples
of C:

  step   a backlog of 60 C events at once, then 1.5 C/s
  sine   C * (2 + 1.5 sin(2 pi t / period)) events/s
  ramp   0.2 C/s rising linearly to 4 C/s

Every second: the Deployment's spec.replicas and status.readyReplicas, the
group's lag (KafkaGroupWatch.java, Kafka's AdminClient, the same for both
sides); rebalances are the broker log's "Stabilized group G generation N"
lines. Printed per pattern and side: time from the first event to the first
replica change, drain time (first event -> the committed lag back under
max(lagThreshold, 12 s of input) after its peak: the workers commit when a
10 s window closes), scale changes and changes of direction, rebalances,
peak lag, integrated lag (message*s, and / the mean input rate: seconds of
input behind), replica-seconds; then the Sluice/KEDA ratios and the targets.

Environment (defaults finish in about 30 min): BENCH_KEDA_PATTERNS
(step,sine,ramp), BENCH_KEDA_SIDES (sluice,keda,sluice-drain),
BENCH_KEDA_DRAIN_PATTERNS (step: the patterns sluice-drain runs),
BENCH_KEDA_DURATION_S (120: input per pattern), BENCH_KEDA_TAIL_S (40:
sampling after the input stops), BENCH_KEDA_SINE_PERIOD_S (120),
BENCH_KEDA_PARTITIONS (6), BENCH_KEDA_CPU (50m), BENCH_KEDA_CAPACITY (skip
the measurement: events/s of one replica), BENCH_KEDA_LAG_THRESHOLD
(default 10 C), BENCH_KEDA_DRAIN_S (60: targetDrainSeconds),
BENCH_KEDA_MODEL (1: the KEDA side replayed through a model of KEDA+HPA
instead, labelled so; used when KEDA cannot be built or served),
BENCH_KEDA_TRACE_DIR (each run's samples as JSON there).

Needs the whole stack with its node (make stack-up) and the worker image
imported; prints a line and exits 0 when there is none. Run by `make bench`.
"""
import json
import math
import os
import pathlib
import re
import signal
import subprocess
import sys
import threading
import time

from benchkube import ROOT, Api, Operator, create_topic, sh, stack_env_or_skip, wait_for

E = os.environ.get
PATTERNS = E("BENCH_KEDA_PATTERNS", "step,sine,ramp").split(",")
SIDES = E("BENCH_KEDA_SIDES", "sluice,keda,sluice-drain").split(",")
DURATION = float(E("BENCH_KEDA_DURATION_S", "120"))
TAIL = float(E("BENCH_KEDA_TAIL_S", "40"))
PERIOD = float(E("BENCH_KEDA_SINE_PERIOD_S", "120"))
PARTITIONS = int(E("BENCH_KEDA_PARTITIONS", "6"))
CPU = E("BENCH_KEDA_CPU", "50m")
DRAIN_S = int(E("BENCH_KEDA_DRAIN_S", "60"))
DRAIN_PATTERNS = E("BENCH_KEDA_DRAIN_PATTERNS", "step").split(",")
MODEL = E("BENCH_KEDA_MODEL", "0") == "1"
TRACE_DIR = E("BENCH_KEDA_TRACE_DIR")
SAMPLE_S = 0.25  # replicas every 0.25 s (the reaction is timed), the lag every 1 s
SLUICE_POLL_S = 5.0
WINDOW_S = 10  # the TelemetryWindow's window.size
KEDA_POLL_S, HPA_SYNC_S, HPA_STABILIZE_S = 30.0, 15.0, 300.0
WATCH = pathlib.Path(__file__).resolve().parent / "KafkaGroupWatch.java"


def log(msg):
    print(msg, flush=True)


# ------------------------------------------------------------------ inputs

def rate_fn(pattern, c):
    """events/s at t seconds into the pattern, and the backlog at t = 0."""
    if pattern == "step":
        return (lambda t: 1.5 * c), int(60 * c)
    if pattern == "sine":
        return (lambda t: c * (2 + 1.5 * math.sin(2 * math.pi * t / PERIOD))), 0
    if pattern == "ramp":
        return (lambda t: c * (0.2 + 3.8 * t / DURATION)), 0
    raise SystemExit(f"unknown pattern {pattern}")


class Producer(threading.Thread):
    """kcat -P fed at 20 Hz so that sent(t) follows backlog + integral of rate."""

    def __init__(self, env, topic, rate, backlog, duration):
        super().__init__(daemon=True)
        self.rate, self.backlog, self.duration = rate, backlog, duration
        self.proc = subprocess.Popen(
            ["kcat", "-b", env["KAFKA_BOOTSTRAP"], "-P", "-t", topic, "-K", "\t"],
            stdin=subprocess.PIPE, text=True, stderr=subprocess.DEVNULL)
        self.sent = 0
        self.t0 = None
        self.started = threading.Event()  # t0 is set

    CHUNK = 4096

    def lines(self, n):
        """n events stamped now (64 hosts): slices of one prepared block of
        lines per call, so that the producer's own CPU stays small."""
        base = int(time.time() * 1000)
        block = "".join(f'h{i % 64}\t{{"ts":{base},"host":"h{i % 64}","temp":{i % 50}}}\n'
                        for i in range(min(n, self.CHUNK)))
        if n <= self.CHUNK:
            return block
        return block * (n // self.CHUNK) + "".join(block.splitlines(True)[:n % self.CHUNK])

    def run(self):
        self.t0 = time.monotonic()
        self.started.set()
        due, last = float(self.backlog), 0.0
        while True:
            t = min(time.monotonic() - self.t0, self.duration)
            due += self.rate(t) * (t - last)
            last = t
            n = int(due) - self.sent
            if n > 0:
                self.proc.stdin.write(self.lines(n))
                self.proc.stdin.flush()
                self.sent += n
            if t >= self.duration:
                break
            time.sleep(0.05)  # pacing: the rate is the pattern's, not a wait
        self.proc.stdin.close()
        self.proc.wait(timeout=120)


class GroupWatch(threading.Thread):
    """KafkaGroupWatch.java's JSON lines: the group's lag once a second."""

    def __init__(self, env, topic, group):
        super().__init__(daemon=True)
        self.proc = subprocess.Popen(
            ["java", "-Xmx128m", "-Dlog4j.configuration=file:/dev/null", "-cp",
             env["KAFKA_LIBS"] + "/*", str(WATCH), env["KAFKA_BOOTSTRAP"], topic, group],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            stderr=subprocess.DEVNULL)
        self.last = None
        self.first = threading.Event()

    def run(self):
        for line in self.proc.stdout:
            d = json.loads(line)
            if "lag" in d:
                self.last = d
                self.first.set()

    def stop(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=20)


def stabilized(env, group):
    """How many times the broker has stabilized group (its rebalances)."""
    n = 0
    pat = re.compile(rf"Stabilized group {re.escape(group)} generation \d+")
    for f in pathlib.Path(env["SLUICE_STACK_DIR"], "logs").glob("kafka*.log"):
        with open(f, errors="replace") as fh:
            n += sum(1 for line in fh if pat.search(line))
    return n


# -------------------------------------------------------------- resources

def tw_spec(env, ns, name, topic, threshold, scaling=None, paused=False):
    """The one TelemetryWindow both sides run; scaling: the Sluice-only
    spec.workers.scaling settings (left out: the operator's defaults)."""
    workers = {"minReplicas": 1, "maxReplicas": PARTITIONS, "lagThreshold": threshold,
               "image": env["SLUICE_WORKER_IMAGE"], "imagePullPolicy": "Never",
               "resources": {"limits": {"cpu": CPU}, "requests": {"cpu": CPU}}}
    if scaling:
        workers["scaling"] = scaling
    meta = {"name": name, "namespace": ns}
    if paused:
        meta["annotations"] = {"sluice.dev/paused": "true"}
    return {"apiVersion": "sluice.dev/v1alpha1", "kind": "TelemetryWindow", "metadata": meta,
            "spec": {"kafka": {"bootstrap": env["KAFKA_BOOTSTRAP"], "topic": topic},
                     "fields": {"timestamp": "ts", "timestampFormat": "epoch_ms",
                                "keys": ["host"], "values": ["temp"]},
                     "window": {"size": "10s", "watermarkDelay": "1s", "idleTimeout": "2s"},
                     "sinks": {"postgres": {"dsn": {"name": "pg", "key": "dsn"},
                                            "table": "bench_keda_windows"}},
                     "workers": workers}}


def start_operator(env, ns):
    op = Operator(env, ns, "--worker-host-network")
    op.wait_ready()
    return op


def deployment(api, ns, name):
    return api.call("GET", f"/apis/apps/v1/namespaces/{ns}/deployments/{name}")


def pods_of(api, ns, name):
    p = api.call("GET", f"/api/v1/namespaces/{ns}/pods?labelSelector="
                 f"sluice.dev/telemetrywindow={name}")
    return p["items"] if p else []


def delete_tw(env, api, ns, name, op=None):
    """Deletes a TelemetryWindow with an operator running (its finalizer
    cleans up), and waits for its pods to go: the next run gets the CPU."""
    own = op is None
    if own:
        op = start_operator(env, ns)
    try:
        api.call("DELETE", f"/apis/sluice.dev/v1alpha1/namespaces/{ns}/telemetrywindows/{name}")
        wait_for(f"{name} deleted", lambda: api.call(
            "GET", f"/apis/sluice.dev/v1alpha1/namespaces/{ns}/telemetrywindows/{name}") is None,
            120)
        wait_for(f"{name}'s pods gone", lambda: not pods_of(api, ns, name), 180)
    finally:
        if own:
            op.stop()


# ---------------------------------------------------------------- one run

def run_side(env, api, ns, side, pattern, c, threshold, keda):
    """One pattern on one side: the samples and the rebalance count."""
    name = f"{pattern}-{side}"
    topic = f"{ns}-{name}"
    group = f"sluice-tw-{ns}-{name}"
    dep = f"{name}-telemetry"
    create_topic(env, topic, PARTITIONS)
    scaling = {"targetDrainSeconds": DRAIN_S} if side == "sluice-drain" else None
    tw = tw_spec(env, ns, name, topic, threshold, scaling, paused=(side == "keda"))
    op = start_operator(env, ns)
    try:
        # Strict: a field the CRD does not know (scaling settings not landed
        # yet) is refused instead of dropped.
        api.call("POST", f"/apis/sluice.dev/v1alpha1/namespaces/{ns}/telemetrywindows"
                 "?fieldValidation=Strict", tw)
        wait_for(f"{dep} with a ready replica",
             lambda: ((deployment(api, ns, dep) or {}).get("status", {})
                      .get("readyReplicas") or 0) >= 1, 120)
    except BaseException:
        delete_tw(env, api, ns, name, op)
        op.stop()
        raise
    if side == "keda":
        # Until the autoscaler honours sluice.dev/paused, nothing of Sluice
        # may touch the Deployment: the operator made it and goes.
        op.stop()
        op = None
    if side == "keda":
        api.call("POST", f"/apis/keda.sh/v1alpha1/namespaces/{ns}/scaledobjects",
                 keda_module.scaled_object(name, ns, dep, env["KAFKA_BOOTSTRAP"], topic, group,
                                           threshold, 1, PARTITIONS))
        wait_for("KEDA's HPA", lambda: api.call(
            "GET", f"/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers/"
            f"keda-hpa-{name}"), 60)
    watch = GroupWatch(env, topic, group)
    watch.start()
    if not watch.first.wait(60):
        raise SystemExit("KafkaGroupWatch gave no sample in 60 s")
    wait_for("the group stable", lambda: watch.last and watch.last["state"] == "Stable", 60)
    reb0 = stabilized(env, group)
    rate, backlog = rate_fn(pattern, c)
    prod = Producer(env, topic, rate, backlog, DURATION)
    samples = []
    try:
        prod.start()
        if not prod.started.wait(30):
            raise SystemExit("the producer did not start")
        end = DURATION + TAIL
        k = 0
        while True:
            t = time.monotonic() - prod.t0
            if t > end:
                break
            d = deployment(api, ns, dep) or {}
            w = watch.last or {}
            samples.append({"t": t, "replicas": d.get("spec", {}).get("replicas"),
                            "ready": d.get("status", {}).get("readyReplicas") or 0,
                            "lag": w.get("lag"), "sent": prod.sent,
                            "rate": rate(t) if t <= DURATION else 0.0})
            k += 1
            # The sampling clock (one sample every SAMPLE_S), not a wait.
            time.sleep(max(0.0, k * SAMPLE_S - (time.monotonic() - prod.t0)))
        prod.join(timeout=30)
        rebalances = stabilized(env, group) - reb0
    finally:
        watch.stop()
        # Free the CPU for the next run: the workers go with their resource.
        if side == "keda":
            api.call("DELETE", f"/apis/keda.sh/v1alpha1/namespaces/{ns}/scaledobjects/{name}")
        delete_tw(env, api, ns, name, op)
        if op:
            op.stop()
    return samples, rebalances, prod.sent


# ----------------------------------------------------------- the figures

def figures(samples, rebalances, sent, duration, threshold):
    s = [x for x in samples if x["lag"] is not None and x["replicas"] is not None]
    r0 = s[0]["replicas"]
    first = next((x["t"] for x in s if x["replicas"] != r0), None)
    changes, dirs, last_dir = 0, [], 0
    for a, b in zip(s, s[1:]):
        if b["replicas"] != a["replicas"]:
            changes += 1
            d = 1 if b["replicas"] > a["replicas"] else -1
            if last_dir and d != last_dir:
                dirs.append(b["t"])
            last_dir = d
    peak_i = max(range(len(s)), key=lambda i: s[i]["lag"])
    # The workers commit when a window closes (10 s windows), so while input
    # flows the committed lag never falls under ~10 s of it: drained is
    # under max(lagThreshold, WINDOW_S + 2 s of input).
    drain = None
    for x in s[peak_i:]:
        if x["lag"] <= max(threshold, (WINDOW_S + 2) * x["rate"]):
            drain = x["t"]
            break
    lag_int = sum((a["lag"] + b["lag"]) / 2 * (b["t"] - a["t"]) for a, b in zip(s, s[1:]))
    rep_s = sum(a["replicas"] * (b["t"] - a["t"]) for a, b in zip(s, s[1:]))
    mean_rate = sent / duration
    return {"first_change_s": first, "drain_s": drain, "changes": changes,
            "direction_changes": len(dirs), "direction_times": dirs,
            "rebalances": rebalances, "peak_lag": s[peak_i]["lag"], "lag_msg_s": lag_int,
            "lag_input_s": lag_int / mean_rate if mean_rate else 0.0,
            "replica_s": rep_s, "max_replicas": max(x["replicas"] for x in s)}


def fmt(v, f="{:.1f}"):
    return "-" if v is None else f.format(v)


def print_row(pattern, side, f, label=""):
    log(f"  {pattern:5} {side + label:14} first change {fmt(f['first_change_s']):>6} s  "
        f"drain {fmt(f['drain_s']):>6} s  changes {f['changes']:3} "
        f"(direction {f['direction_changes']})  rebalances {f['rebalances']:3}  "
        f"peak lag {f['peak_lag']:8}  lag {f['lag_msg_s']:10.0f} msg*s "
        f"= {f['lag_input_s']:6.1f} s of input  replica-s {f['replica_s']:7.0f} "
        f"(max {f['max_replicas']})")


# -------------------------------------------------------------- the model

def model_keda(samples, threshold, c, partitions):
    """KEDA+HPA replayed on a recorded lag trace, labelled a model: the
    kafka scaler reads the lag every 30 s (metric capped at partitions x
    threshold), the HPA syncs every 15 s with the last metric: desired =
    ceil(metric / threshold) outside a 10 % tolerance, scale-up at most
    max(4 pods, 100 %) per 15 s, scale-down to the highest recommendation
    of the last 300 s; a replica drains c events/s. The lag is re-simulated
    from the recorded input (sent), so the model's replicas act on it."""
    reps, lag, metric, recs, out = 1, 0.0, 0.0, [], []
    next_poll, next_sync = 0.0, 0.0
    prev_t, prev_sent, rebal = 0.0, 0, 0
    for x in samples:
        t = x["t"]
        dt = t - prev_t
        lag = max(0.0, lag + (x["sent"] - prev_sent) - reps * c * dt)
        prev_t, prev_sent = t, x["sent"]
        if t >= next_poll:
            metric = min(lag, partitions * threshold)
            next_poll += KEDA_POLL_S
        if t >= next_sync:
            ratio = metric / (reps * threshold)
            want = reps if abs(ratio - 1) <= 0.1 else max(1, math.ceil(metric / threshold))
            want = min(want, partitions, max(reps + 4, 2 * reps))
            recs = [(tt, r) for tt, r in recs if t - tt < HPA_STABILIZE_S] + [(t, want)]
            if want < reps:
                want = min(reps, max(r for _, r in recs))
            if want != reps:
                rebal += 1
                reps = want
            next_sync += HPA_SYNC_S
        out.append({"t": t, "replicas": reps, "ready": reps, "lag": round(lag),
                    "sent": x["sent"], "rate": x["rate"]})
    return out, rebal


# ---------------------------------------------------------------- capacity

def measure_capacity(env, api, ns):
    """One replica's events/s: a TelemetryWindow held at one ready replica
    gets a backlog; consumed = end offsets - lag, from the first sample
    that sees it until 10 % of it is left (the pace includes the commits,
    which the workers make as windows close, as every run's lag does)."""
    name = "capacity"
    n = int(E("BENCH_KEDA_CAL_EVENTS", "100000"))
    topic, group = f"{ns}-{name}", f"sluice-tw-{ns}-{name}"
    dep = f"{name}-telemetry"
    create_topic(env, topic, PARTITIONS)
    tw = tw_spec(env, ns, name, topic, 10**9)
    tw["spec"]["workers"]["maxReplicas"] = 1
    op = start_operator(env, ns)
    watch = GroupWatch(env, topic, group)
    watch.start()
    try:
        api.call("POST", f"/apis/sluice.dev/v1alpha1/namespaces/{ns}/telemetrywindows", tw)
        wait_for(f"{dep} ready", lambda: ((deployment(api, ns, dep) or {}).get("status", {})
                                      .get("readyReplicas") or 0) >= 1, 120)
        wait_for("the group stable", lambda: watch.last and watch.last["state"] == "Stable", 60)
        threading.Thread(target=Producer(env, topic, lambda t: 0.0, n, 0.0).run,
                         daemon=True).start()
        a = wait_for("the backlog seen", lambda: watch.last["lag"] > 0 and watch.last, 60, 0.05)
        b = wait_for("10 % left", lambda: (watch.last["end"] >= n and watch.last["lag"] <= 0.1 * n
                                      and watch.last), 600, 0.2)
        done = (b["end"] - b["lag"]) - (a["end"] - a["lag"])
        dt = max(b["t"] - a["t"], 1.0)
        c = done / dt
    finally:
        watch.stop()
        delete_tw(env, api, ns, name, op)
        op.stop()
    log(f"capacity: {done} events in {dt:.1f} s by one replica")
    return c


keda_module = None


def main():
    global keda_module
    # SIGTERM (make, timeout) ends through the finally blocks: KEDA's
    # processes, the operator and the namespace go with the bench.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    env = stack_env_or_skip("bench_autoscale_keda", need=(
        "KUBECONFIG", "KAFKA_BOOTSTRAP", "KAFKA_LIBS", "SLUICE_STACK_DIR",
        "SLUICE_WORKER_IMAGE", "PG_DSN"))
    if not os.environ.get("CONTAINERD_ADDRESS"):
        log("bench_autoscale_keda: skipped (the stack has no node)")
        return
    kc = ["kubectl", "--kubeconfig", env["KUBECONFIG"]]
    api = Api(env["KUBECONFIG"])
    ns = f"bench-keda-{os.getpid()}"
    sh(*kc, "apply", "-f", str(ROOT / "crds"))
    sh(*kc, "wait", "--for=condition=Established", "--timeout=60s",
       "crd/telemetrywindows.sluice.dev")
    sh(*kc, "create", "namespace", ns)
    sh(*kc, "-n", ns, "create", "secret", "generic", "pg", f"--from-literal=dsn={env['PG_DSN']}")
    keda = None
    model = MODEL
    try:
        if "keda" in SIDES and not model:
            import keda as keda_module
            keda = keda_module.Keda(env, watch_namespace=ns).start()
            log(f"KEDA {keda.dir.name} serving external.metrics.k8s.io (logs in {keda.work})")
        c = float(E("BENCH_KEDA_CAPACITY", "0")) or measure_capacity(env, api, ns)
        threshold = int(E("BENCH_KEDA_LAG_THRESHOLD", "0")) or max(1, round(10 * c))
        log(f"one replica (cpu {CPU}): {c:.0f} events/s; lagThreshold {threshold}; "
            f"{PARTITIONS} partitions; {DURATION:.0f} s of input + {TAIL:.0f} s per run")
        results = {}
        for pattern in PATTERNS:
            for side in SIDES:
                if side == "keda" and model:
                    continue
                if side == "sluice-drain" and pattern not in DRAIN_PATTERNS:
                    continue
                try:
                    samples, reb, sent = run_side(env, api, ns, side, pattern, c, threshold, keda)
                except SystemExit as e:
                    if side == "sluice-drain":
                        log(f"  {pattern:5} sluice-drain   not run: {e}")
                        continue
                    raise
                f = figures(samples, reb, sent, DURATION, threshold)
                results[(pattern, side)] = (f, samples)
                if TRACE_DIR:
                    pathlib.Path(TRACE_DIR).mkdir(parents=True, exist_ok=True)
                    pathlib.Path(TRACE_DIR, f"{pattern}-{side}.json").write_text(
                        json.dumps({"figures": f, "samples": samples}))
                print_row(pattern, side, f)
            if model and (pattern, "sluice") in results:
                ms, mreb = model_keda(results[(pattern, "sluice")][1], threshold, c, PARTITIONS)
                f = figures(ms, mreb, ms[-1]["sent"], DURATION, threshold)
                results[(pattern, "keda")] = (f, ms)
                print_row(pattern, "keda", f, " (MODEL)")
        summarize(results, c)
    finally:
        if keda:
            keda.stop()
        subprocess.run([*kc, "delete", "namespace", ns, "--wait=false"], capture_output=True)


def summarize(results, c):
    log("Sluice / KEDA (below 1: Sluice spends less or reacts sooner):")
    for pattern in PATTERNS:
        s, k = results.get((pattern, "sluice")), results.get((pattern, "keda"))
        if not (s and k):
            continue
        s, k = s[0], k[0]

        def ratio(key):
            a, b = s[key], k[key]
            return "-" if a is None or not b else f"{a / b:.2f}"
        log(f"  {pattern:5} first change {ratio('first_change_s')}  drain {ratio('drain_s')}  "
            f"changes {ratio('changes')}  rebalances {ratio('rebalances')}  "
            f"peak lag {ratio('peak_lag')}  lag-s {ratio('lag_msg_s')}  "
            f"replica-s {ratio('replica_s')}")
    log("targets:")
    for pattern in PATTERNS:
        s = results.get((pattern, "sluice"))
        if not s:
            continue
        f = s[0]
        fc = f["first_change_s"]
        ok = fc is not None and fc <= SLUICE_POLL_S + 1
        log(f"  {pattern:5} first replica change {fmt(fc)} s <= polling interval + 1 s "
            f"({SLUICE_POLL_S + 1:.0f} s): {'PASS' if ok else 'FAIL'}")
        k = results.get((pattern, "keda"))
        if k:
            kc = k[0]["first_change_s"]
            log(f"  {pattern:5} KEDA's first change {fmt(kc)} s (its default path: <= "
                f"{KEDA_POLL_S + HPA_SYNC_S:.0f} s)")
        if pattern == "sine":
            half = PERIOD / 2
            dt = f["direction_times"]
            worst = max((sum(1 for t in dt if w <= t < w + half)
                         for w in [0.0] + dt), default=0)
            log(f"  sine  direction changes in any half period {worst} <= 1: "
                f"{'PASS' if worst <= 1 else 'FAIL'}")
            if k:
                kr = k[0]["rebalances"]
                ok = f["rebalances"] <= kr / 2
                log(f"  sine  rebalances {f['rebalances']} <= half of KEDA's {kr}: "
                    f"{'PASS' if ok else 'FAIL'}")
        d = results.get((pattern, "sluice-drain"))
        if d and pattern == "step" and d[0]["drain_s"] is not None:
            ok = abs(d[0]["drain_s"] - DRAIN_S) <= 0.1 * DRAIN_S
            log(f"  step  drain with targetDrainSeconds {DRAIN_S}: {d[0]['drain_s']:.1f} s "
                f"within 10 %: {'PASS' if ok else 'FAIL'}")


if __name__ == "__main__":
    sys.exit(main())
