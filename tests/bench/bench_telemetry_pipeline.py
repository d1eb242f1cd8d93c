#!/usr/bin/env python3
"""End-to-end telemetry benchmark against Spark and Flink, run by `make bench`
when the stack is up.

Two queries, each on one set of events that every engine reads:

telemetry (the TelemetryWindow of the issue): N JSON events (1000 devices,
   10,000 events per second of event time, every 100th message a redelivery),
   10 s tumbling windows, watermark delay 2 s, dedupe on (device, ts), per
   device count, sum, min, max, mean, p50, p95, p99 of temp and hum.
hot_items (Nexmark q5-like): N bids on 1000 items (half of them on the 10
   items that are hot for the current 10 s), 10 s windows hopping by 2 s,
   bids counted per item; the item(s) with the most bids per window.

1. Sluice: the events go to a fresh 2-partition topic (kcat), then one
   `sluice-worker telemetry` reads it (telemetry: every sink, PostgreSQL,
   Redis, InfluxDB; hot_items: PostgreSQL) and is timed from its first event
   read until it has read every event; its CPU-seconds (utime + stime, /proc)
   over the same span; its peak RSS (VmHWM). A warm-up run, then three runs,
   each on a fresh topic; the median counts.
2. The references, installed by `scripts/deps.sh bench-refs` on first use
   (pyspark and PyFlink in virtualenvs under $SLUICE_CACHE, keyed by version;
   a failed install fails the bench): Spark Structured Streaming
   (tests/bench/ref_spark.py) and Flink SQL (tests/bench/ref_flink.py), each
   on the same events as a JSON-lines file, each timed from its query's start
   to its last result, CPU-seconds of its process tree (python and JVM).
3. The answers must agree before any ratio is printed: the same window rows
   (window start, key) with the same count, and for telemetry the same sum,
   min and max of each value (percentiles are sketches in all three, each its
   own: not compared). Sluice's rows are read back from PostgreSQL. Two
   far-future events (one per partition) close every window in every engine;
   their own windows are left out.
4. Prints events/s and events per CPU-second of each, and Sluice/reference
   (target at least 10).

Usage: tests/bench/bench_telemetry_pipeline.py [events [telemetry|hot_items]...]   (needs build/stack.env: kafka,
postgres, redis, influxdb; holds /tmp/sluice-e2e.lock while it loads Kafka
and runs workers).
"""
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchrefs import ROOT, e2e_lock, load_env, ref_python  # noqa: E402

WORKER = os.environ.get("SLUICE_WORKER", str(ROOT / "build" / "sluice-worker"))
N = int(sys.argv[1]) if len(sys.argv) > 1 else 250_000
BASE_MS = 1_800_000_000_000
RSS_TARGET_MB = 64
RATIO_TARGET = 10
RUNS = 3
FLUSH_KEY = "zz-flush"


def gen_telemetry(rng, i, prev):
    if i > 100 and i % 100 == 0:
        return prev[i - 1 - rng.randrange(100)]
    return {"ts": BASE_MS + i // 10, "device": f"d-{rng.randrange(1000)}",
            "temp": 10 + rng.randrange(120) / 4, "hum": rng.randrange(100) + 0.5}


def gen_hot_items(rng, i, prev):
    ts = BASE_MS + i // 10
    if rng.random() < 0.5:  # the hot items of this 10 s
        item = 10 * ((ts // 10_000) % 100) + rng.randrange(10)
    else:
        item = rng.randrange(1000)
    return {"ts": ts, "item": f"i-{item}", "price": rng.randrange(10000) / 100}


QUERIES = {
    "telemetry": {"gen": gen_telemetry, "key": "device", "table": "bench_windows",
                  "fields": {"keys": ["device"], "values": ["temp", "hum"]},
                  "window": {"size": "10s", "watermarkDelay": "2s"}, "dedupe": None,
                  "sinks": ("postgres", "redis", "influxdb")},
    "hot_items": {"gen": gen_hot_items, "key": "item", "table": "bench_hot_items",
                  "fields": {"keys": ["item"], "values": []},
                  "window": {"size": "10s", "slide": "2s", "watermarkDelay": "2s"},
                  "dedupe": {"enabled": False}, "sinks": ("postgres",)},
}


def generate(query, tmp):
    """Writes tmp/<query>.tsv (key TAB json, for kcat), tmp/<query>-flush-<p>.tsv
    (one far-future event for partition p) and tmp/<query>-in/events.json (all
    of them, for the references)."""
    q = QUERIES[query]
    rng = random.Random(7)
    prev = []
    tsv = Path(tmp) / f"{query}.tsv"
    src = Path(tmp) / f"{query}-in"
    src.mkdir()
    with open(tsv, "w") as f, open(src / "events.json", "w") as js:
        for i in range(N):
            ev = q["gen"](rng, i, prev)
            prev.append(ev)
            line = json.dumps(ev, separators=(",", ":"))
            f.write(f"{ev[q['key']]}\t{line}\n")
            js.write(line + "\n")
        # 60 s past the last event: more than size + delay, so it closes
        # every window of the events above in every engine.
        last = prev[-1]["ts"] + 60_000
        for p in (0, 1):
            ev = dict(prev[-1], ts=last, **{q["key"]: f"{FLUSH_KEY}-{p}"})
            line = json.dumps(ev, separators=(",", ":"))
            (Path(tmp) / f"{query}-flush-{p}.tsv").write_text(f"{ev[q['key']]}\t{line}\n")
            js.write(line + "\n")
    return tsv, src


def kafka_tool(env, cls, *args):
    subprocess.run(["java", "-Xmx256m", "-Dlog4j.configuration=file:/dev/null", "-cp",
                    env["KAFKA_LIBS"] + "/*", cls, "--bootstrap-server", env["KAFKA_BOOTSTRAP"],
                    *args], check=True, capture_output=True)


def publish(env, topic, tsv, tmp, query):
    kafka_tool(env, "org.apache.kafka.tools.TopicCommand", "--create", "--topic", topic,
               "--partitions", "2", "--replication-factor", env.get("KAFKA_BROKERS", "1"))
    kcat = ["kcat", "-b", env["KAFKA_BOOTSTRAP"], "-P", "-t", topic, "-K", "\t", "-X",
            "linger.ms=50", "-X", "batch.num.messages=10000"]
    with open(tsv) as f:
        subprocess.run(kcat, stdin=f, check=True)
    for p in (0, 1):
        with open(Path(tmp) / f"{query}-flush-{p}.tsv") as f:
            subprocess.run(kcat + ["-p", str(p)], stdin=f, check=True)


def metrics(port):
    out = {}
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
    return out


def cpu_s(pid):
    """User + system CPU seconds of pid so far (all its threads)."""
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def vm_hwm_mb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def psql(env, sql):
    return subprocess.run(["psql", env["PG_DSN"], "-X", "-q", "-At", "-F", "\t", "-c", sql],
                          check=True, capture_output=True, text=True).stdout


def pg_windows(env, table, resource):
    try:
        return int(psql(env, f"SELECT count(DISTINCT (key, window_start)) FROM {table} "
                             f"WHERE resource = '{resource}'").strip() or 0)
    except subprocess.CalledProcessError:
        return 0  # the worker has not created the table yet


def run_sluice(env, tmp, topic, query, kafka=None, secrets=None, watch=(), name=None):
    """One worker over topic until it has read every event. kafka: more of
    spec.kafka (bench_telemetry_tls.py: bootstrap, tls, sasl); secrets: more
    environment (the Secret references' SLUICE_SECRET_* values); watch: other
    PIDs (the brokers) whose CPU-seconds over the same span come back as
    "watch_cpu"; name: the resource's (and so its consumer group's), default
    topic."""
    q = QUERIES[query]
    sinks = {"postgres": {"dsn": {"name": "pg", "key": "dsn"}, "table": q["table"]},
             "redis": {"addr": env["REDIS_ADDR"]},
             "influxdb": {"url": env["INFLUX_URL"], "database": env["INFLUX_DB"]}}
    spec = {"apiVersion": "sluice.dev/v1alpha1", "kind": "TelemetryWindow",
            "metadata": {"name": name or topic, "namespace": "bench"},
            "spec": {"kafka": {"bootstrap": env["KAFKA_BOOTSTRAP"], "topic": topic,
                               **(kafka or {})},
                     "fields": {"timestamp": "ts", "timestampFormat": "epoch_ms",
                                **q["fields"]},
                     "window": q["window"],
                     "sinks": {k: sinks[k] for k in q["sinks"]}}}
    if q["dedupe"] is not None:
        spec["spec"]["dedupe"] = q["dedupe"]
    path = Path(tmp) / "spec.json"
    path.write_text(json.dumps(spec))
    wenv = {**os.environ, "SLUICE_SECRET_PG_DSN": env["PG_DSN"],
            "SLUICE_STATUS_REDIS": env["REDIS_ADDR"], **(secrets or {})}
    log_path = Path(tmp) / "worker.log"
    log = open(log_path, "w")
    t0 = time.monotonic()
    p = subprocess.Popen([WORKER, "telemetry", "--config", str(path), "--metrics-port", "0",
                          "--log-level", "info"], stdout=subprocess.DEVNULL, stderr=log,
                         env=wenv)
    port = None
    total = N + 2  # and the two flush events
    try:
        # The worker logs its endpoint's port (--metrics-port 0: any free one).
        deadline = time.monotonic() + 30
        while port is None and time.monotonic() < deadline and p.poll() is None:
            for line in log_path.read_text().splitlines():
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if rec.get("msg") == "http endpoint listening":
                    port = int(rec["port"])
            time.sleep(0.05)
        assert port, "no metrics port"
        deadline = time.monotonic() + 900
        seen, first, end, m = 0, None, None, {}
        resource = f"bench/{name or topic}"
        while time.monotonic() < deadline:
            try:
                m = metrics(port)
                seen = m.get("sluice_tw_events_in_total", 0)
            except OSError:
                pass
            if seen > 0 and first is None:
                # The group join (the broker's initial rebalance delay, 3 s)
                # is start-up, not throughput.
                first = (time.monotonic(), seen, cpu_s(p.pid), sum(map(cpu_s, watch)))
            if seen >= total and end is None:
                end = (time.monotonic(), vm_hwm_mb(p.pid), cpu_s(p.pid),
                       sum(map(cpu_s, watch)))
            # Timed to the last event read; then every emitted window in
            # PostgreSQL before the rows are compared.
            if end is not None and (m.get("sluice_tw_rows_waiting", 0) == 0 and
                                    pg_windows(env, q["table"], resource) >=
                                    m.get("sluice_tw_windows_emitted_total", 0) > 0):
                break
            if p.poll() is not None:
                raise RuntimeError(f"worker exited {p.returncode}")
            # The worker syncs its counters every 20 ms: the run's ends
            # are each known to about that.
            time.sleep(0.02)
        else:
            raise RuntimeError(f"{resource}: read {seen} of {total} events, "
                               f"{'all' if end else 'not all'} windows in PostgreSQL, in 900 s")
        dt = end[0] - first[0]
        startup = first[0] - t0
        counted = total - first[1]
        rss = end[1]
        cpu = end[2] - first[2]
        watch_cpu = end[3] - first[3]
    finally:
        p.terminate()
        p.wait(timeout=60)
        log.close()
    return {"eps": counted / dt, "cps": counted / max(cpu, 1e-9), "startup": startup,
            "rss": rss, "m": m, "resource": resource, "events": counted, "seconds": dt,
            "cpu": cpu, "watch_cpu": watch_cpu}


def sluice_rows(env, query, resource):
    q = QUERIES[query]
    out = psql(env, "SELECT (extract(epoch FROM window_start) * 1000)::bigint, key, count, "
                    f"field, sum, min, max FROM {q['table']} WHERE resource = '{resource}'")
    rows = {}
    for line in out.splitlines():
        start, key, count, field, *v = line.split("\t")
        r = rows.setdefault((int(start), key), [int(start), key, int(count)])
        if field:
            r.append((field, [float(x) for x in v]))
    res = []
    for r in rows.values():
        vals = dict(r[3:])
        res.append(r[:3] + (vals["temp"] + vals["hum"] if query == "telemetry" else []))
    return res


def compare(query, name, sluice, ref):
    """None when the two answers agree, else what differs."""
    def keyed(rows):
        return {(r[0], r[1]): r[2:] for r in rows if not r[1].startswith(FLUSH_KEY)}
    a, b = keyed(sluice), keyed(ref)
    if a.keys() != b.keys():
        only_a, only_b = sorted(a.keys() - b.keys()), sorted(b.keys() - a.keys())
        return (f"{len(a)} window rows against {name}'s {len(b)}: only in sluice "
                f"{only_a[:3]}, only in {name} {only_b[:3]}")
    for k in sorted(a):
        x, y = a[k], b[k]
        if x[0] != y[0] or any(abs(u - v) > 1e-9 * max(1.0, abs(u)) for u, v in zip(x[1:], y[1:])):
            return f"window {k}: sluice {x}, {name} {y}"
    return None


def hot_items(rows):
    """{window start: (max count, sorted items with it)}"""
    best = {}
    for start, item, count, *_ in rows:
        if item.startswith(FLUSH_KEY):
            continue
        c, items = best.get(start, (0, []))
        if count > c:
            best[start] = (count, [item])
        elif count == c:
            items.append(item)
    return {s: (c, sorted(i)) for s, (c, i) in best.items()}


def run_ref(name, query, src, tmp):
    out = Path(tmp) / f"{name}-{query}.json"
    script = ROOT / "tests" / "bench" / f"ref_{name}.py"
    log = Path(tmp) / f"{name}-{query}.log"
    with open(log, "w") as f:
        rc = subprocess.run([ref_python(name), str(script), query, str(src), str(out)],
                            stdout=f, stderr=subprocess.STDOUT).returncode
    if rc != 0:
        sys.stdout.write(log.read_text()[-4000:])
        raise SystemExit(f"bench_telemetry_pipeline: {name} ({query}) exited {rc}")
    return json.loads(out.read_text())


def bench_query(env, tmp, query):
    tsv, src = generate(query, tmp)
    runs = []
    with e2e_lock():
        for r in range(-1 if query == "telemetry" else 0, RUNS):
            # A fresh topic (and so a fresh consumer group) per run.
            topic = f"bench-{query.replace('_', '-')}-{os.getpid()}-{r + 1}"
            publish(env, topic, tsv, tmp, query)
            run = run_sluice(env, tmp, topic, query)
            if r < 0:
                # A stack just started serves its first run slower (the
                # broker's JVM has not compiled its fetch path yet).
                print(f"warm-up run (not counted): {run['eps']:.0f} events/s")
            else:
                runs.append(run)
    # The median run: a run lasts a second or two, so one that meets a
    # moment of this machine's varying speed would decide alone.
    med = sorted(runs, key=lambda x: x["eps"])[RUNS // 2]
    rows = sluice_rows(env, query, med["resource"])
    for run in runs:
        psql(env, f"DELETE FROM {QUERIES[query]['table']} WHERE resource = '{run['resource']}'")
    m = med["m"]
    sinks = ", ".join(QUERIES[query]["sinks"])
    print(f"[{query}] sluice, end to end (Kafka in; {sinks} out), one worker, {N} events, "
          f"median of {RUNS} runs: {med['eps']:.0f} events/s from the first event read "
          f"(start-up and group join {med['startup']:.1f} s), {med['cps']:.0f} events per "
          f"CPU-second of the worker; windows {m.get('sluice_tw_windows_emitted_total', 0):.0f}, "
          f"duplicates {m.get('sluice_tw_duplicates_total', 0):.0f}; the runs: "
          + ", ".join(f"{x['eps']:.0f}" for x in runs) + " events/s")
    if query == "telemetry":
        rss = max(x["rss"] for x in runs)
        print(f"[{query}] worker peak RSS (VmHWM), the highest of the runs: {rss:.1f} MB; "
              f"target under {RSS_TARGET_MB} MB: ratio {rss / RSS_TARGET_MB:.2f}")
    failed = []
    for name, what in (("spark", "Spark Structured Streaming (local[2], file source, memory "
                                 "sink)"),
                       ("flink", "Flink SQL (parallelism 2, filesystem source, CSV sink)")):
        ref = run_ref(name, query, src, tmp)
        diff = compare(query, name, rows, ref["rows"])
        if diff is None and query == "hot_items" and hot_items(rows) != hot_items(ref["rows"]):
            diff = "the hot items differ"
        if diff is not None:
            print(f"[{query}] {name}: ANSWERS DIFFER, no ratio: {diff}")
            failed.append(name)
            continue
        reps, rcps = (N + 2) / ref["seconds"], (N + 2) / max(ref["cpu_s"], 1e-9)
        extra = ""
        if query == "telemetry" and name == "flink" and not ref.get("percentiles"):
            extra = " (this Flink has no PERCENTILE: without p50/p95/p99)"
        print(f"[{query}] {name}: {what}{extra}: {N} events in {ref['seconds']:.2f} s: "
              f"{reps:.0f} events/s, {rcps:.0f} events per CPU-second of its process tree; "
              f"answers agree ({sum(not r[1].startswith(FLUSH_KEY) for r in rows)} window rows"
              + (f", {len(hot_items(rows))} hot-item windows" if query == "hot_items" else "")
              + ")")
        print(f"[{query}] sluice / {name}: {med['eps'] / reps:.1f} in events/s, "
              f"{med['cps'] / rcps:.1f} in events per CPU-second (target at least "
              f"{RATIO_TARGET}; on a loaded machine the CPU-second figure is the fairer one)")
    return failed


def main():
    env = load_env()
    need = ("KAFKA_BOOTSTRAP", "PG_DSN", "REDIS_ADDR", "INFLUX_URL", "INFLUX_DB")
    if env is None or any(k not in env for k in need):
        print("bench_telemetry_pipeline: skipped (no stack: SLUICE_STACK_COMPONENTS=\"kafka postgres redis "
              "influxdb\" tests/e2e/stack.sh up)")
        return 0
    # Installs the references on first use (cached thereafter); a failure
    # raises here rather than skipping them.
    ref_python("spark")
    failed = []
    with tempfile.TemporaryDirectory() as tmp:
        for query in sys.argv[2:] or QUERIES:
            failed += [f"{query}/{n}" for n in bench_query(env, tmp, query)]
    if failed:
        print(f"bench_telemetry_pipeline: answers differ from {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
