"""The telemetry worker (`sluice-worker telemetry`) and the loader
(`sluice-worker load`), driven from outside on the real stack and judged with
kcat, psql, redis-cli, InfluxDB's /query and Kafka's own tools:

- window results equal a reference computed here, independently, from the
  events (tumbling and hopping windows, out-of-order events within the
  watermark delay, duplicates, late events dead-lettered with a reason);
- two workers share a 4-partition topic; one is killed with SIGKILL mid-stream
  and started again: the rows equal those of an undisturbed run;
- PostgreSQL, then Redis, then InfluxDB stopped for about 20 s mid-run: no
  result is lost, /healthz reports the failing sink meanwhile;
- malformed events go to the dead-letter topic with their reasons while the
  stream goes on;
- `load` publishes a CSV file, keyed, and the worker's rows appear.

Every wait is on a condition with a deadline; nothing relies on a sleep.
"""
import collections
import json
import math
import os
import random
import re
import shlex
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from conftest import ROOT, run, stack_sh

# SLUICE_WORKER runs the suite against another build (build/asan/sluice-worker).
WORKER = os.environ.get("SLUICE_WORKER", str(ROOT / "build" / "sluice-worker"))
# 2027-01-15T08:00:00Z in ms: a multiple of every window size used here.
BASE = 1_800_000_000_000
QUANTILES = (("p50", 0.50), ("p95", 0.95), ("p99", 0.99))


# ---- clients -------------------------------------------------------------

def kafka_tool(stack, cls, *args):
    return run(["java", "-Xmx256m", "-Dlog4j.configuration=file:/dev/null", "-cp",
                stack["KAFKA_LIBS"] + "/*", cls, "--bootstrap-server",
                stack["KAFKA_BOOTSTRAP"], *args])


def create_topic(stack, topic, partitions):
    kafka_tool(stack, "org.apache.kafka.tools.TopicCommand", "--create", "--topic", topic,
               "--partitions", str(partitions), "--replication-factor", stack["KAFKA_BROKERS"])


def group_offsets(stack, group):
    """{partition: (committed, log end)} from kafka-consumer-groups."""
    out = kafka_tool(stack, "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
                     "--describe", "--group", group).stdout
    offsets = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 6 and f[0] == group and f[2].isdigit():
            offsets[int(f[2])] = (f[3], f[4])
    return offsets


def produce(stack, topic, records):
    """records: (key, value) pairs, produced in order with kcat."""
    data = "".join(f"{k}\t{v}\n" for k, v in records)
    run(["kcat", "-b", stack["KAFKA_BOOTSTRAP"], "-P", "-t", topic, "-K", "\t"], input=data)


class StreamProducer:
    """kcat fed line by line over time, so events arrive while workers run."""

    def __init__(self, stack, topic):
        self.p = subprocess.Popen(["kcat", "-b", stack["KAFKA_BOOTSTRAP"], "-P", "-t", topic,
                                   "-K", "\t"], stdin=subprocess.PIPE, text=True)

    def send(self, key, value):
        self.p.stdin.write(f"{key}\t{value}\n")
        self.p.stdin.flush()

    def close(self):
        self.p.stdin.close()
        assert self.p.wait(timeout=60) == 0


def consume_all(stack, topic):
    out = run(["kcat", "-b", stack["KAFKA_BOOTSTRAP"], "-C", "-t", topic, "-o", "beginning",
               "-e", "-q", "-J"]).stdout
    return [json.loads(l) for l in out.splitlines() if l.strip()]


def headers(msg):
    h = msg.get("headers") or []
    return dict(zip(h[0::2], h[1::2]))


def psql(stack, sql):
    return run(["psql", "-X", "-v", "ON_ERROR_STOP=1", "-tA", "-F", "\t", "-d", stack["PG_DSN"],
                "-c", sql]).stdout


def redis(stack, *args):
    return run(["redis-cli", "-h", stack["REDIS_HOST"], "-p", stack["REDIS_PORT"], "--raw",
                *args]).stdout


def redis_hash(stack, key):
    """HGETALL as {field: int}."""
    f = redis(stack, "HGETALL", key).splitlines()
    return {a: int(b) for a, b in zip(f[0::2], f[1::2])}


def rfc3339_ms(text):
    """'2027-01-15T08:00:09.5Z' (up to ns) as ms since the epoch, exactly."""
    import calendar
    m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?Z", text)
    assert m, text
    secs = calendar.timegm(tuple(int(x) for x in m.groups()[:6]))
    frac = (m.group(7) or "").ljust(9, "0")
    return secs * 1000 + int(frac[:3])


def influx(stack, q):
    qs = urllib.parse.urlencode({"db": stack["INFLUX_DB"], "q": q, "epoch": "ms"})
    with urllib.request.urlopen(f"{stack['INFLUX_URL']}/query?{qs}", timeout=10) as r:
        res = json.load(r)["results"][0]
    return res.get("series", [])


def wait_for(cond, timeout, what, interval=0.25):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = cond()
        except (AssertionError, subprocess.SubprocessError, OSError, ValueError) as e:
            last = e
            last_ok = False
        else:
            last_ok = bool(last)
        if last_ok:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


# ---- the worker ----------------------------------------------------------

class Worker:
    """One sluice-worker telemetry process; its JSON log lines are collected."""

    def __init__(self, stack, spec, *flags):
        # The status Redis, as the operator sets it (docs/contracts.md §3).
        env = {**os.environ, "SLUICE_SECRET_PG_DSN": stack["PG_DSN"],
               "SLUICE_STATUS_REDIS": stack["REDIS_ADDR"]}
        self.p = subprocess.Popen(
            [WORKER, "telemetry", "--config", str(spec), "--metrics-port", "0",
             "--session-timeout", "6s", "--flush-interval", "200ms", "--retry-max", "2s",
             *flags],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        self.lines = []
        self.port = None
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()
        wait_for(lambda: self.port or self.p.poll() is not None, 20, "the worker's endpoint")
        assert self.port, f"worker exited early: {self.lines}"

    def _read(self):
        for line in self.p.stderr:
            try:
                rec = json.loads(line)
            except ValueError:
                rec = {"msg": line.rstrip()}
            self.lines.append(rec)
            if rec.get("msg") == "http endpoint listening":
                self.port = int(rec["port"])

    def get(self, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def wait_ready(self, timeout=30):
        wait_for(lambda: self.get("/readyz")[0] == 200, timeout, "/readyz")

    def metrics(self):
        out = {}
        for line in self.get("/metrics")[1].splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
        return out

    def logged(self, msg):
        return [l for l in self.lines if l.get("msg") == msg]

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        rc = self.p.wait(timeout=40)
        self._t.join(timeout=5)
        return rc

    def kill(self):
        self.p.kill()
        self.p.wait(timeout=10)


@pytest.fixture
def workers():
    started = []

    def start(*args, **kw):
        w = Worker(*args, **kw)
        started.append(w)
        return w

    yield start
    for w in started:
        if w.p.poll() is None:
            w.kill()


def write_spec(tmp_path, stack, name, topic, *, table=None, size="2s", slide=None, delay="1s",
               idle="2s", values=("temp", "hum"), dlq=None, redis_sink=False,
               influx_sink=False, fmt="json", columns=None):
    spec = {
        "kafka": {"bootstrap": stack["KAFKA_BOOTSTRAP"], "topic": topic},
        "format": fmt,
        "fields": {"timestamp": "ts", "timestampFormat": "epoch_ms", "keys": ["device"],
                   "values": list(values)},
        "window": {"size": size, "watermarkDelay": delay, "idleTimeout": idle},
        "sinks": {},
    }
    if slide:
        spec["window"]["slide"] = slide
    if dlq:
        spec["kafka"]["deadLetterTopic"] = dlq
    if columns:
        spec["csv"] = {"columns": columns}
    if table:
        spec["sinks"]["postgres"] = {"dsn": {"name": "pg", "key": "dsn"}, "table": table}
    if redis_sink:
        spec["sinks"]["redis"] = {"addr": stack["REDIS_ADDR"]}
    if influx_sink:
        spec["sinks"]["influxdb"] = {"url": stack["INFLUX_URL"], "database": stack["INFLUX_DB"],
                                     "raw": True}
    doc = {"apiVersion": "sluice.dev/v1alpha1", "kind": "TelemetryWindow",
           "metadata": {"name": name, "namespace": "e2e"}, "spec": spec}
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(doc))
    return path


# ---- the reference -------------------------------------------------------

def reference(events, size, slide, delay):
    """Windows computed from events (ts ms, key, {field: value}) in one
    partition's order, by the rules of docs/telemetry-semantics.md: dedupe on
    (key, ts); watermark = max ts - delay; a window [s, s + size) is closed
    once the watermark reaches its end; an event goes to its open windows and
    is late when none is open. Returns (windows {(key, start): [values]},
    late event indexes, duplicate count, partially late count)."""
    seen, windows, late = set(), collections.defaultdict(list), []
    max_ts = wm = None
    dups = partial = 0
    for i, (ts, key, vals) in enumerate(events):
        if (key, ts) in seen:
            dups += 1
            continue
        seen.add((key, ts))
        max_ts = ts if max_ts is None else max(max_ts, ts)
        wm = max_ts - delay if wm is None else max(wm, max_ts - delay)
        newest = ts // slide * slide
        starts = [newest - k * slide for k in range(size // slide)]
        open_ = [s for s in starts if wm < s + size]
        if not open_:
            late.append(i)
            continue
        partial += len(open_) < len(starts)
        for s in open_:
            windows[(key, s)].append(vals)
    return windows, late, dups, partial


def expected_rows(windows, fields):
    """{(key, start ms, field): (count, value_count, sum, min, max, mean, values)}"""
    rows = {}
    for (key, start), evs in windows.items():
        for f in fields:
            vals = [e[f] for e in evs if f in e]
            if vals:
                rows[(key, start, f)] = (len(evs), len(vals), sum(vals), min(vals), max(vals),
                                         sum(vals) / len(vals), sorted(vals))
            else:
                rows[(key, start, f)] = (len(evs), 0, 0.0, None, None, None, [])
    return rows


def pg_rows(stack, table, resource):
    out = psql(stack, f"SELECT key, (extract(epoch FROM window_start) * 1000)::bigint, count, "
                      f"field, value_count, sum, min, max, mean, p50, p95, p99, "
                      f"(extract(epoch FROM window_end) * 1000)::bigint "
                      f"FROM {table} WHERE resource = '{resource}'")
    rows = {}
    for line in out.splitlines():
        f = line.split("\t")
        num = [float(x) if x != "" else None for x in f[5:12]]
        rows[(f[0], int(f[1]), f[3])] = (int(f[2]), int(f[4]), *num, int(f[12]))
    return rows


def pg_count(stack, table, resource):
    try:
        return int(psql(stack, f"SELECT count(*) FROM {table} WHERE resource = '{resource}'"))
    except AssertionError:
        return 0  # the worker has not created the table yet


def check_rows(got, want, size):
    assert set(got) == set(want), (f"missing {sorted(set(want) - set(got))[:5]}, "
                                   f"extra {sorted(set(got) - set(want))[:5]}")
    for k, (count, vcount, s, lo, hi, mean, vals) in want.items():
        g = got[k]
        assert g[0] == count and g[1] == vcount, (k, g, count, vcount)
        assert g[2] == s and g[3] == lo and g[4] == hi, (k, g, s, lo, hi)
        assert (g[5] is None) if mean is None else math.isclose(g[5], mean, rel_tol=1e-12), k
        for i, (_, q) in enumerate(QUANTILES):
            p = g[6 + i]
            if not vals:
                assert p is None, (k, g)
                continue
            exact = vals[math.floor(q * (len(vals) - 1))]
            assert abs(p - exact) <= 0.01 * abs(exact) + 1e-9, (k, QUANTILES[i], p, exact)
        assert g[9] == k[1] + size, (k, g)


def json_event(ts, key, vals):
    return json.dumps({"ts": ts, "device": key, **vals})


def check_export(stack, spec, tmp_path, table, resource, last, key=None):
    """`sluice-worker export --last N [--key K]`, to stdout and to a file, against
    the same rows read with psql (times as epoch ms, converted here)."""
    import csv
    import io
    args = [WORKER, "export", "--config", str(spec), "--last", str(last)]
    if key:
        args += ["--key", key]
    env = {**os.environ, "SLUICE_SECRET_PG_DSN": stack["PG_DSN"]}
    out = subprocess.run(args, capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    rows = list(csv.reader(io.StringIO(out.stdout)))
    assert rows[0] == ["key", "window_start", "window_end", "field", "count", "value_count",
                       "sum", "min", "max", "mean", "p50", "p95", "p99"]
    key_cond = f" AND key = '{key}'" if key else ""
    want = psql(stack, f"SELECT key, (extract(epoch FROM window_start) * 1000)::bigint, "
                       f"(extract(epoch FROM window_end) * 1000)::bigint, field, count, "
                       f"value_count, sum, min, max, mean, p50, p95, p99 FROM {table} "
                       f"WHERE resource = '{resource}'{key_cond} AND window_start IN "
                       f"(SELECT DISTINCT window_start FROM {table} WHERE resource = "
                       f"'{resource}'{key_cond} ORDER BY 1 DESC LIMIT {last}) "
                       f"ORDER BY window_start, key, field")
    want = [line.split("\t") for line in want.splitlines()]
    got = [[r[0], str(rfc3339_ms(r[1])), str(rfc3339_ms(r[2])), *r[3:]] for r in rows[1:]]
    assert got == want
    assert len({r[1] for r in got}) == last and (not key or {r[0] for r in got} == {key})
    # --output: the same bytes, in a file written whole.
    path = tmp_path / "export.csv"
    res = subprocess.run(args + ["--output", str(path)], capture_output=True, text=True,
                         env=env, timeout=60)
    assert res.returncode == 0, res.stderr
    assert path.read_text() == out.stdout
    assert not (tmp_path / "export.csv.tmp").exists()


# ---- tests ---------------------------------------------------------------

def make_events(seed, n, step, keys):
    """n events step ms apart over keys, values multiples of 0.25 (exact sums);
    hum on two events in three."""
    rng = random.Random(seed)
    events = []
    for i in range(n):
        vals = {"temp": rng.randrange(40, 400) / 4}
        if i % 3:
            vals["hum"] = rng.randrange(0, 400) / 4
        events.append((BASE + i * step, keys[i % len(keys)], vals))
    return events


def test_results_match_an_independent_reference(stack, workers, tmp_path, unique):
    topic = f"tw-ref-{unique}"
    create_topic(stack, topic, 1)
    events = make_events(1, 240, 50, ["d0", "d1", "d2", "d3"])
    # Out of order within the 1 s delay: every 9th event moves 6 places
    # (300 ms) later in the stream.
    for i in range(9, 230, 9):
        events.insert(i + 6, events.pop(i))
    # Duplicates: every 11th event again, right after itself.
    for i in range(220, 0, -11):
        events.insert(i + 1, events[i])
    # Late: at 8 s of event time, an event at 1 s; partially late for the
    # hopping windows: at 10 s, an event at 8.403 s (window [7 s, 9 s) closed,
    # [8 s, 10 s) open; on time for the tumbling [8 s, 10 s)).
    at8 = next(i for i, e in enumerate(events) if e[0] >= BASE + 8000)
    events.insert(at8, (BASE + 1007, "d1", {"temp": 1.5, "hum": 2.5}))
    at10 = next(i for i, e in enumerate(events) if e[0] >= BASE + 10000)
    events.insert(at10 + 1, (BASE + 8403, "d2", {"temp": 3.25}))
    produce(stack, topic, [(k, json_event(ts, k, v)) for ts, k, v in events])

    setups = {"tumbling": ("2s", None, 2000, 2000), "hopping": ("2s", "1s", 2000, 1000)}
    run_ = {}
    for kind, (size, slide, size_ms, slide_ms) in setups.items():
        name = f"{kind}-{unique}"
        spec = write_spec(tmp_path, stack, name, topic, table=f"tw_{kind}_{unique}", size=size,
                          slide=slide, dlq=f"{topic}.{kind}.dlq")
        ref = reference(events, size_ms, slide_ms, 1000)
        run_[kind] = (name, size_ms, ref, workers(stack, spec), spec)
    tumbling_late, hopping_late = run_["tumbling"][2][1], run_["hopping"][2][1]
    assert tumbling_late and hopping_late and run_["hopping"][2][3] > 0  # exercised

    for kind, (name, size_ms, (windows, late, dups, partial), w, spec) in run_.items():
        table, resource = f"tw_{kind}_{unique}", f"e2e/{name}"
        want = expected_rows(windows, ["temp", "hum"])
        wait_for(lambda: pg_count(stack, table, resource) >= len(want), 60,
                 f"{len(want)} {kind} rows")
        check_rows(pg_rows(stack, table, resource), want, size_ms)
        # `export`: the last windows as CSV, equal to psql's own answer.
        check_export(stack, spec, tmp_path, table, resource, 3)
        check_export(stack, spec, tmp_path, table, resource, 2, key="d1")
        m = w.metrics()
        assert m["sluice_tw_events_in_total"] == len(events)
        # Consumer lag per partition, refreshed every 5 s: 0 once all is committed
        # (the idle advance closes the last windows, so everything is).
        lag = f'sluice_tw_consumer_lag{{topic="{topic}",partition="0"}}'
        wait_for(lambda: w.metrics().get(lag) == 0, 30, f"{lag} to reach 0")
        assert m["sluice_tw_duplicates_total"] == dups
        assert m["sluice_tw_late_total"] == len(late)
        assert m["sluice_tw_partial_late_total"] == partial
        # Late events are dead-lettered with the reason, the original payload
        # and where they came from.
        dlq = wait_for(lambda: [d for d in consume_all(stack, f"{topic}.{kind}.dlq")
                                if headers(d).get("sluice-kind") == "late"] or None,
                       30, f"{kind} dead letters")
        assert len(dlq) == len(late)
        for d, i in zip(sorted(dlq, key=lambda d: int(headers(d)["sluice-source"].split("/")[2])),
                        late):
            h = headers(d)
            assert h["sluice-source"] == f"{topic}/0/{i}"
            assert h["sluice-reason"].startswith("late: event time ")
            assert h["sluice-resource"] == resource
            ts, key, vals = events[i]
            assert json.loads(d["payload"]) == {"ts": ts, "device": key, **vals}
            assert d["key"] == key
        # Every offset is covered by emitted windows and committed.
        assert w.stop() == 0
        stopped = json.loads(w.logged("telemetry worker stopped")[0]["status"])
        assert stopped["eventsIn"] == len(events) and stopped["late"] == len(late)
        # The progress hash in the status Redis (docs/contracts.md §3), written at
        # each commit, the last one included.
        stats = redis_hash(stack, f"sluice:tw:e2e:{name}:stats")
        wm = stats.pop("p0.watermark", None)
        assert stats == {"p0.events": len(events), "p0.duplicates": dups,
                         "p0.late": len(late), "p0.malformed": 0,
                         "p0.windows": stopped["windowsEmitted"]}, stats
        assert stopped["windowsEmitted"] > 0
        # The watermark: max event time - delay, or later by the idle advance;
        # the worker's own status says which, to the millisecond.
        max_ts = max(ts for ts, _, _ in events)
        assert wm is not None and wm >= (max_ts - 1000) * 1_000_000, (wm, max_ts)
        assert wm // 1_000_000 == rfc3339_ms(stopped["partitions"][0]["watermark"]), (wm, stopped)
    offsets = group_offsets(stack, f"sluice-tw-e2e-tumbling-{unique}")
    assert offsets == {0: (str(len(events)), str(len(events)))}, offsets


def test_kill_9_and_restart_loses_nothing_and_counts_nothing_twice(stack, workers, tmp_path,
                                                                  unique):
    topic = f"tw-kill-{unique}"
    create_topic(stack, topic, 4)
    name = f"kill-{unique}"
    # Two members of one group (table shared) and, beside them, an undisturbed
    # run of the same resource in a group of its own.
    shared = write_spec(tmp_path, stack, name, topic, table=f"tw_kill_{unique}", idle="4s")
    alone = tmp_path / "alone.json"
    doc = json.loads(shared.read_text())
    doc["spec"]["kafka"]["group"] = f"undisturbed-{unique}"
    doc["spec"]["sinks"]["postgres"]["table"] = f"tw_alone_{unique}"
    alone.write_text(json.dumps(doc))
    a, b, u = workers(stack, shared), workers(stack, shared), workers(stack, alone)
    for w in (a, b, u):
        w.wait_ready()

    keys = [f"k{i}" for i in range(8)]
    events = make_events(2, 1200, 20, keys)  # in order: 24 s of event time
    prod = StreamProducer(stack, topic)
    killed_at = None
    for i, (ts, k, v) in enumerate(events):
        prod.send(k, json_event(ts, k, v))
        time.sleep(0.004)
        if i == 500:
            # Mid-stream, once the first member has written something.
            wait_for(lambda: pg_count(stack, f"tw_kill_{unique}", f"e2e/{name}") > 0, 30,
                     "rows before the kill")
            assert a.logged("partition assigned"), "the victim owned no partition"
            a.kill()
            killed_at = i
            a2 = workers(stack, shared)
    prod.close()
    assert killed_at is not None

    windows, late, dups, _ = reference(events, 2000, 2000, 1000)
    assert not late and not dups
    want = expected_rows(windows, ["temp", "hum"])
    for table in (f"tw_alone_{unique}", f"tw_kill_{unique}"):
        wait_for(lambda: pg_count(stack, table, f"e2e/{name}") >= len(want), 90,
                 f"{len(want)} rows in {table}")
    undisturbed = pg_rows(stack, f"tw_alone_{unique}", f"e2e/{name}")
    check_rows(undisturbed, want, 2000)
    # Bit for bit, quantiles included: nothing lost, nothing counted twice.
    assert pg_rows(stack, f"tw_kill_{unique}", f"e2e/{name}") == undisturbed
    # The partitions moved were restored from their commits' checkpoints.
    assert a2.logged("partition assigned")
    assert any(l["checkpoint"].startswith("tw1 ")
               for l in a2.logged("partition assigned") + b.logged("partition assigned"))
    # Three workers created the dead-letter topic at once: "already exists"
    # is success.
    for w in (a, a2, b, u):
        assert not w.logged("cannot create the dead-letter topic"), w.lines
    for w in (a2, b, u):
        assert w.stop() == 0


def test_sink_outages_lose_no_result(stack, workers, tmp_path, unique):
    topic = f"tw-outage-{unique}"
    create_topic(stack, topic, 2)
    name = f"outage-{unique}"
    table = f"tw_outage_{unique}"
    spec = write_spec(tmp_path, stack, name, topic, table=table, idle="3s", values=("temp",),
                      redis_sink=True, influx_sink=True)
    w = workers(stack, spec, "--unhealthy-after", "4s", "--buffer-rows", "12")
    w.wait_ready()

    # Events in real time, four keys every 50 ms, for as long as the outages
    # take; event time follows the clock so windows keep closing.
    keys = ["d0", "d1", "d2", "d3"]
    sent, lock, done = [], threading.Lock(), threading.Event()
    prod = StreamProducer(stack, topic)
    start = time.monotonic()

    def feed():
        n = 0
        while not done.is_set():
            ts = BASE + int((time.monotonic() - start) * 1000)
            for k in keys:
                v = {"temp": (n % 400) / 4}
                prod.send(k, json_event(ts, k, v))
                with lock:
                    sent.append((ts, k, v))
                n += 1
            time.sleep(0.05)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    redis_stopped_at = None
    try:
        wait_for(lambda: pg_count(stack, table, f"e2e/{name}") > 0, 30, "first rows")
        for server, sink in (("postgres", "postgres"), ("redis", "redis"),
                             ("influxdb", "influxdb")):
            stack_sh(stack, "stop", server)
            if server == "redis":
                # Windows starting after this event time close, and are
                # written, only once Redis is really down.
                with lock:
                    redis_stopped_at = sent[-1][0]
            status, body = wait_for(lambda: (lambda r: r if r[0] == 503 else None)(
                w.get("/healthz")), 20, f"/healthz to fail while {server} is down")
            assert sink in body
            assert w.metrics()[f'sluice_tw_sink_up{{sink="{sink}"}}'] == 0
            # The outage lasts until the rows held for the sink fill the
            # buffer and consumption pauses: the back-pressure path.
            wait_for(lambda: w.metrics().get("sluice_tw_paused") == 1, 60,
                     f"consumption to pause while {server} is down", interval=0.2)
            stack_sh(stack, "start", server)
            wait_for(lambda: w.get("/healthz")[0] == 200, 30, f"/healthz after {server} is back")
    finally:
        done.set()
        feeder.join(timeout=10)
        prod.close()

    windows, late, dups, _ = reference(sorted(sent), 2000, 2000, 1000)
    assert not late and not dups
    want = expected_rows(windows, ["temp"])
    # PostgreSQL: every window.
    wait_for(lambda: pg_count(stack, table, f"e2e/{name}") >= len(want), 60, "every row")
    check_rows(pg_rows(stack, table, f"e2e/{name}"), want, 2000)
    # InfluxDB: every window point and every raw event.
    series = influx(stack, f"SELECT count, temp_sum FROM telemetry_window "
                           f"WHERE resource = 'e2e/{name}' GROUP BY device")
    points = {(s["tags"]["device"], v[0]): (v[1], v[2]) for s in series for v in s["values"]}
    assert points == {(k, s): (c, ss) for (k, s, f), (c, _, ss, *_r) in want.items()}
    raw = influx(stack, f"SELECT count(temp) FROM telemetry_raw WHERE resource = 'e2e/{name}'")
    assert raw and raw[0]["values"][0][1] == len(sent)
    # Redis keeps no data over a restart (the stack runs it without
    # persistence), so what must be there is every window that closed after it
    # was stopped, and the latest one per key.
    prefix = f"sluice:e2e:{name}:"
    for k in keys:
        timeline = [json.loads(m) for m in
                    redis(stack, "ZRANGE", f"{prefix}{k}:timeline", "0", "-1").splitlines()]
        starts = {m["start"] // 1_000_000 for m in timeline}
        need = {s for (key, s) in windows if key == k and s >= redis_stopped_at}
        assert need and need <= starts, (k, sorted(need - starts))
        latest = redis(stack, "HGETALL", f"{prefix}{k}:latest").splitlines()
        latest = dict(zip(latest[0::2], latest[1::2]))
        last = max(s for (key, s) in windows if key == k)
        assert int(latest["start"]) // 1_000_000 == last
        assert int(latest["count"]) == len(windows[(k, last)])
        ttl = int(redis(stack, "TTL", f"{prefix}{k}:latest"))
        assert 3000 < ttl <= 3600
    # Consumption paused behind the retried batch (--buffer-rows 40), and the
    # wait did not pass for idleness: no event was turned late.
    assert w.logged("consumption paused")
    assert consume_all(stack, f"{topic}.dlq") == []
    assert w.stop() == 0


MALFORMED = [
    # (payload, kind of refusal, reason it must carry)
    ("{not json", "syntax", "json: "),
    ("[1, 2]", "syntax", "json: expected an object at byte 0"),
    ('{"device": "d0", "temp": 1}', "missing", 'missing timestamp field "ts"'),
    ('{"ts": %d, "temp": 1}', "missing", 'missing key field "device"'),
    ('{"ts": %d, "device": "d0", "temp": "hot"}', "type", 'field "temp": "hot" is not a number'),
    ('{"ts": %d, "device": true, "temp": 1}', "type",
     'key field "device": true is not a string or number'),
    ('{"ts": 1e20, "device": "d0", "temp": 1}', "timestamp", "after 2262-04-11T23:47:16"),
    ('{"ts": -2208988800001, "device": "d0", "temp": 1}', "timestamp",
     "before 1900-01-01T00:00:00Z (the range is 1900-01-01T00:00:00Z to 2262-04-11T23:47:16"),
    ('{"ts": "soon", "device": "d0", "temp": 1}', "timestamp", "not a decimal number"),
    # 2262-04-11T23:47:16.854Z parses, but its 2 s window and 1 s delay end past int64 ns.
    ('{"ts": 9223372036854, "device": "d0", "temp": 1}', "range",
     "is out of the range windows handle"),
]


def test_malformed_events_are_dead_lettered_and_the_stream_goes_on(stack, workers, tmp_path,
                                                                    unique):
    topic = f"tw-bad-{unique}"
    create_topic(stack, topic, 1)
    name = f"bad-{unique}"
    table = f"tw_bad_{unique}"
    spec = write_spec(tmp_path, stack, name, topic, table=table, values=("temp",))
    good = make_events(3, 120, 50, ["d0", "d1"])
    good = [(ts, k, {"temp": v["temp"]}) for ts, k, v in good]
    records, bad_at, events = [], {}, []
    for i, (ts, k, v) in enumerate(good):
        if i % 12 == 5 and len(bad_at) < len(MALFORMED):
            payload, why, reason = MALFORMED[len(bad_at)]
            bad_at[len(records)] = (payload.replace("%d", str(ts)), why, reason)
            records.append(("d0", bad_at[len(records)][0]))
        records.append((k, json_event(ts, k, v)))
        events.append((ts, k, v))
    assert len(bad_at) == len(MALFORMED)
    produce(stack, topic, records)
    w = workers(stack, spec)

    windows, late, _, _ = reference(events, 2000, 2000, 1000)
    assert not late
    want = expected_rows(windows, ["temp"])
    wait_for(lambda: pg_count(stack, table, f"e2e/{name}") >= len(want), 60, "every row")
    check_rows(pg_rows(stack, table, f"e2e/{name}"), want, 2000)
    dlq = wait_for(lambda: (lambda d: d if len(d) >= len(bad_at) else None)(
        consume_all(stack, f"{topic}.dlq")), 30, "the dead letters")
    assert len(dlq) == len(bad_at)
    for d in dlq:
        h = headers(d)
        offset = int(h["sluice-source"].rsplit("/", 1)[1])
        payload, why, reason = bad_at[offset]
        assert h["sluice-kind"] == "malformed"
        assert reason in h["sluice-reason"], (payload, h["sluice-reason"])
        assert d["payload"] == payload and d["key"] == "d0"
    m = w.metrics()
    for why in {b[1] for b in bad_at.values()}:
        assert m[f'sluice_tw_malformed_total{{reason="{why}"}}'] == sum(
            1 for b in bad_at.values() if b[1] == why)
    assert m['sluice_tw_dlq_messages_total{kind="malformed"}'] == len(bad_at)
    assert w.stop() == 0


def test_load_publishes_a_csv_file_and_its_rows_appear(stack, workers, tmp_path, unique):
    topic, json_topic = f"tw-load-{unique}", f"tw-loadjson-{unique}"
    create_topic(stack, topic, 2)
    create_topic(stack, json_topic, 1)
    events = make_events(4, 200, 50, ["d0", "d1", "d2"])
    lines = ["ts,device,site,temp"]
    for i, (ts, k, v) in enumerate(events):
        site = '"north, ""A"""' if i % 5 == 0 else "south"
        lines.append(f"{ts},{k},{site},{v['temp']}")
    csv = tmp_path / "events.csv"
    csv.write_text("\r\n".join(lines) + "\r\n")
    bootstrap = stack["KAFKA_BOOTSTRAP"]

    p = run([WORKER, "load", "--file", str(csv), "--topic", topic, "--bootstrap", bootstrap,
             "--key-fields", "device"], timeout=60)
    done = [json.loads(l) for l in p.stderr.splitlines() if '"load finished"' in l]
    assert done and done[-1]["delivered"] == "200" and done[-1]["failed"] == "0", p.stderr
    got = consume_all(stack, topic)
    assert sorted(m["payload"] for m in got) == sorted(lines[1:])
    assert all(m["key"] == m["payload"].split(",")[1] for m in got)
    partitions = collections.defaultdict(set)
    for m in got:
        partitions[m["key"]].add(m["partition"])
    assert all(len(p) == 1 for p in partitions.values())  # a key, one partition

    name = f"load-{unique}"
    table = f"tw_load_{unique}"
    spec = write_spec(tmp_path, stack, name, topic, table=table, values=("temp",), fmt="csv",
                      columns=["ts", "device", "site", "temp"])
    w = workers(stack, spec)
    # Two partitions read in any interleaving: with events in order per key
    # and keys in one partition each, nothing is late; the rows are the
    # windows of all events.
    windows, late, _, _ = reference(events, 2000, 2000, 1000)
    assert not late
    want = expected_rows(windows, ["temp"])
    wait_for(lambda: pg_count(stack, table, f"e2e/{name}") >= len(want), 60, "every row")
    check_rows(pg_rows(stack, table, f"e2e/{name}"), want, 2000)
    assert w.stop() == 0

    # --as-json: one object per record, numbers as numbers, a rate limit.
    p = run([WORKER, "load", "--file", str(csv), "--topic", json_topic, "--bootstrap", bootstrap,
             "--as-json", "--rate", "1000", "--progress", "none"], timeout=60)
    got = [json.loads(m["payload"]) for m in consume_all(stack, json_topic)]
    assert len(got) == 200
    assert got[0] == {"ts": events[0][0], "device": "d0", "site": 'north, "A"',
                      "temp": events[0][2]["temp"]}
    # On a terminal (a pseudo-terminal from script(1)) progress is one bar,
    # redrawn in place, ending at 100% with every record delivered.
    bar_topic = f"tw-loadbar-{unique}"
    create_topic(stack, bar_topic, 1)
    cmd = " ".join(shlex.quote(a) for a in [WORKER, "load", "--file", str(csv), "--topic",
                                              bar_topic, "--bootstrap", bootstrap,
                                              "--rate", "400"])
    p = run(["script", "-qec", cmd, "/dev/null"], timeout=60)
    # (text mode reads the bar's "\r" as a line break)
    assert "[##############################] 100%  200 rows  200 delivered  0 failed" \
        in p.stdout, repr(p.stdout[-400:])
    bars = re.findall(r"\[[#-]{30}\] +\d+%", p.stdout)
    assert 2 <= len(bars) < 200, repr(p.stdout)  # redrawn, not one line per record
    # A topic that does not exist is refused, quickly and clearly.
    p = run([WORKER, "load", "--file", str(csv), "--topic", f"missing-{unique}", "--bootstrap",
             bootstrap], check=False, timeout=60)
    assert p.returncode == 1 and f"missing-{unique}" in p.stderr


def test_modes_without_a_resource_say_so():
    for mode in ("telemetry", "export", "split", "process", "assemble"):
        p = subprocess.run([WORKER, mode], capture_output=True, text=True, timeout=10)
        assert p.returncode == 2 and "--config" in p.stderr and "required" in p.stderr, (mode, p.stderr)


def test_export_refuses_a_spec_without_postgres(tmp_path):
    doc = {"name": "x", "namespace": "e2e",
           "spec": {"kafka": {"bootstrap": "127.0.0.1:1", "topic": "t"},
                    "fields": {"timestamp": "ts"}, "window": {"size": "1s"}}}
    path = tmp_path / "x.json"
    path.write_text(json.dumps(doc))
    p = subprocess.run([WORKER, "export", "--config", str(path)], capture_output=True,
                       text=True, timeout=10)
    assert p.returncode == 2 and "has no spec.sinks.postgres" in p.stderr, p.stderr
    p = subprocess.run([WORKER, "export", "--config", str(path), "--last", "0"],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 2, p.stderr
