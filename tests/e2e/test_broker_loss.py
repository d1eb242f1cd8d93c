"""A Kafka broker lost under a running pipeline, end to end: a three-broker
Kafka cluster of its own (beside the stack under test, as
test_kafka_cluster.py starts one), the operator as a process pointed at it,
and the worker pods on the stack's real node (host network: they reach the
cluster's 127.0.0.1 ports).

- A TelemetryWindow reads a 3-partition topic (replication 3,
  min.insync.replicas 2) while the broker leading most of its partitions is
  stopped and started again: events are produced before, during and after;
  the PostgreSQL rows, the InfluxDB points and the Redis latest windows
  equal those of an independent reference; no worker pod restarts; the
  operator's lag polls go on (read, or counted as errors for the scaler's
  fallback) and the status lag reads 0 once all is consumed.
- A VideoJob's process worker loses the leader of its task topic mid-job:
  the job succeeds with every frame row present exactly once.
- A broker that stays away longer than the producer's delivery timeout
  (SLUICE_KAFKA_MESSAGE_TIMEOUT_MS through spec.workers.env): the only
  broker holding the dead-letter partition is stopped while malformed
  events arrive; the worker pauses consumption and reports unhealthy
  (/healthz, sluice_tw_paused), commits nothing past the
  undelivered dead letters, and resumes when the broker returns: every
  dead letter once, every window row.

Needs the whole stack with its node (make stack-up, as root). Waits on
conditions only.
"""
import collections
import json
import os
import pathlib
import subprocess
import tempfile
import urllib.error
import urllib.request

import pytest

from conftest import STACK_SH, container_pid, load_env, run
from test_autoscale import WORKER_UID, hostpath_claim, make_clip
from test_operator import Operator, get, kubectl, wait_for
from test_telemetry import BASE, check_rows, expected_rows, pg_count, pg_rows, reference

POLL = "1s"


# ---- the cluster and the operator -------------------------------------------

@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("kafka3")
    env = {**os.environ, "TMPDIR": str(tmp), "SLUICE_STACK_ENV": str(tmp / "stack.env"),
           "SLUICE_STACK_COMPONENTS": "kafka", "KAFKA_BROKERS": "3"}
    up = subprocess.run([str(STACK_SH), "up"], env=env, capture_output=True, text=True,
                        timeout=300)
    assert up.returncode == 0, up.stderr
    c = Cluster(env, load_env(tmp / "stack.env"))
    yield c
    subprocess.run([str(STACK_SH), "down"], env=env, capture_output=True, timeout=300)


class Cluster:
    def __init__(self, env, stack):
        self.env, self.stack = env, stack
        self.bootstrap = stack["KAFKA_BOOTSTRAP"]
        self.brokers = self.bootstrap.split(",")  # broker i is brokers[i - 1]
        assert len(self.brokers) == 3

    def ctl(self, verb, broker_id):
        run([str(STACK_SH), verb, f"kafka{broker_id}"], env=self.env, timeout=300)

    def alive(self, down):
        return ",".join(b for i, b in enumerate(self.brokers, 1) if i != down)

    def create_topic(self, topic, partitions=3, rf=3, assignment=None):
        args = ["--create", "--topic", topic, "--config", f"min.insync.replicas={min(rf, 2)}"]
        if assignment:
            args += ["--replica-assignment", assignment]
        else:
            args += ["--partitions", str(partitions), "--replication-factor", str(rf)]
        run(["java", "-Xmx256m", "-Dlog4j.configuration=file:/dev/null", "-cp",
             self.stack["KAFKA_LIBS"] + "/*", "org.apache.kafka.tools.TopicCommand",
             "--bootstrap-server", self.bootstrap, *args])

    def metadata(self, topic, bootstrap=None):
        out = run(["kcat", "-b", bootstrap or self.bootstrap, "-L", "-J", "-t", topic]).stdout
        (t,) = [t for t in json.loads(out)["topics"] if t["topic"] == topic]
        return t

    def busiest_leader(self, topic):
        """The broker id leading most of topic's partitions."""
        leaders = collections.Counter(p["leader"] for p in self.metadata(topic)["partitions"])
        return leaders.most_common(1)[0][0]

    def in_sync(self, topic):
        """Every partition has a leader and all of its replicas in sync."""
        t = self.metadata(topic)
        return all(p["leader"] >= 0 and len(p["isrs"]) == len(p["replicas"])
                   for p in t["partitions"])

    def led_without(self, topic, down):
        """Every partition of topic has a leader other than broker down."""
        t = self.metadata(topic, self.alive(down))
        return all(p["leader"] not in (-1, down) for p in t["partitions"])

    def produce(self, topic, records, bootstrap=None):
        data = "".join(f"{k}\t{v}\n" for k, v in records)
        run(["kcat", "-b", bootstrap or self.bootstrap, "-P", "-t", topic, "-K", "\t",
             "-X", "acks=all", "-X", "message.timeout.ms=60000"], input=data, timeout=90)

    def group_lag(self, group):
        """The group's total lag as Kafka's ConsumerGroupCommand reports it."""
        out = run(["java", "-Xmx256m", "-Dlog4j.configuration=file:/dev/null", "-cp",
                   self.stack["KAFKA_LIBS"] + "/*",
                   "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
                   "--bootstrap-server", self.bootstrap, "--describe", "--group", group],
                  check=False).stdout
        rows = [l.split() for l in out.splitlines() if l.split()[:1] == [group]]
        return sum(int(r[5]) for r in rows if r[5].isdigit()) if rows else None

    def consume(self, topic):
        out = run(["kcat", "-b", self.bootstrap, "-C", "-t", topic, "-o", "beginning", "-e",
                   "-q", "-J"]).stdout
        return [json.loads(l) for l in out.splitlines() if l.strip()]


@pytest.fixture(scope="module")
def op(stack, node, cluster):
    kubectl(stack, "apply", "-f", str(pathlib.Path(__file__).resolve().parents[2] / "crds"))
    kubectl(stack, "wait", "--for=condition=Established", "--timeout=60s",
            "crd/telemetrywindows.sluice.dev", "crd/videojobs.sluice.dev")
    lease_ns = f"bl-lease-{os.getpid()}"
    kubectl(stack, "create", "namespace", lease_ns)
    with tempfile.TemporaryDirectory(prefix="sluice-bl-") as d:
        o = Operator(stack, d, lease_ns, name="broker-loss",
                     extra=["--worker-image", stack["SLUICE_WORKER_IMAGE"],
                            "--worker-image-pull-policy", "Never", "--worker-host-network",
                            "--kafka-bootstrap", cluster.bootstrap,
                            "--postgres-secret", "pg", "--influx-url", stack["INFLUX_URL"],
                            "--influx-database", stack["INFLUX_DB"],
                            "--polling-interval", POLL])
        o.start()
        yield o
        rc = o.stop()
        kubectl(stack, "delete", "namespace", lease_ns, "--wait=false", check=False)
        assert rc == 0, o.logs()[-3000:]


@pytest.fixture
def ns(stack, unique):
    name = f"bl-{unique}"
    kubectl(stack, "create", "namespace", name)
    kubectl(stack, "-n", name, "create", "secret", "generic", "pg",
            f"--from-literal=dsn={stack['PG_DSN']}")
    yield name
    kubectl(stack, "delete", "namespace", name, "--wait=false", check=False)


# ---- helpers -----------------------------------------------------------------

def pods(stack, ns, selector):
    return json.loads(kubectl(stack, "get", "pods", "-n", ns, "-l", selector, "-o",
                              "json").stdout)["items"]


def restarts(pod_list):
    return {p["metadata"]["name"]: sum(c.get("restartCount", 0)
                                       for c in p["status"].get("containerStatuses", []))
            for p in pod_list}


def ready_pod(stack, ns, selector):
    """The one Ready pod of selector, running."""
    for p in pods(stack, ns, selector):
        conds = {c["type"]: c["status"] for c in p["status"].get("conditions", [])}
        if conds.get("Ready") == "True":
            return p
    return None


def decisions(op, ns, name):
    """(lag polls decided, lag read errors) for a resource, from /metrics."""
    text = op.metrics()
    total = errors = 0
    for line in text.splitlines():
        if f'namespace="{ns}"' not in line or f'name="{name}"' not in line:
            continue
        if line.startswith("sluice_autoscaler_decisions_total{"):
            total += float(line.rsplit(" ", 1)[1])
        elif line.startswith("sluice_autoscaler_lag_errors_total{"):
            errors += float(line.rsplit(" ", 1)[1])
    return total, errors


def worker_http(stack, pod, path):
    """GET path from a worker pod on the host network: its metrics port is in
    its port file (SLUICE_METRICS_PORT_FILE), read through /proc."""
    try:
        root = pathlib.Path("/proc", str(container_pid(stack, pod)), "root")
        port = int((root / "run" / "sluice" / "metrics-port").read_text().strip())
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (OSError, ValueError) as e:  # not up yet: wait_for tries again
        raise AssertionError(f"{path}: {e}") from e


def diagnosis(stack, ns, sel, table, resource, want):
    """What a failed wait for rows leaves to read: the rows missing, the
    worker pods' restarts and their log's warnings and errors."""
    got = pg_rows(stack, table, resource)
    out = [f"missing {sorted(set(want) - set(got))[:12]}", f"restarts {restarts(pods(stack, ns, sel))}"]
    for p in pods(stack, ns, sel):
        logs = kubectl(stack, "logs", "-n", ns, p["metadata"]["name"], check=False).stdout
        if os.environ.get("SLUICE_E2E_KEEP_LOGS"):
            pathlib.Path(os.environ["SLUICE_E2E_KEEP_LOGS"], p["metadata"]["name"] + ".log"
                         ).write_text(logs)
        out += [l for l in logs.splitlines() if '"level":"warn' in l or '"level":"error' in l
                or "paused" in l or "resumed" in l or "assigned" in l][-40:]
    return "\n".join(out)


def events_of(n, step, keys, seed):
    """n events step ms apart over keys; values multiples of 0.25 (exact sums)."""
    import random
    rng = random.Random(seed)
    return [(BASE + i * step, keys[i % len(keys)], {"temp": rng.randrange(40, 400) / 4})
            for i in range(n)]


CLOSE_AT = BASE + 60_000


def with_closers(events, keys):
    """events, then one event per key at CLOSE_AT: every partition's
    watermark passes the events' windows, which close; the closers' own
    windows stay open (and are left out of want_closed)."""
    return events + [(CLOSE_AT, k, {"temp": 1.0}) for k in keys]


def want_closed(events):
    windows, late, dups, _ = reference(events, 2000, 2000, 1000)
    assert not late and not dups
    windows = {ks: v for ks, v in windows.items() if ks[1] < CLOSE_AT}
    return windows, expected_rows(windows, ["temp"])


def records(events):
    return [(k, json.dumps({"ts": ts, "device": k, **v})) for ts, k, v in events]


def tw_manifest(ns, name, cluster, topic, table, env=()):
    # The phases are produced seconds apart while the event time is
    # synthetic: an idle advance (docs/telemetry-semantics.md) would turn the
    # next phase late, so it waits longer than the test runs; the windows are
    # closed by the closers' event time instead (with_closers).
    return {"apiVersion": "sluice.dev/v1alpha1", "kind": "TelemetryWindow",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"kafka": {"bootstrap": cluster.bootstrap, "topic": topic},
                     "fields": {"timestamp": "ts", "timestampFormat": "epoch_ms",
                                "keys": ["device"], "values": ["temp"]},
                     "window": {"size": "2s", "watermarkDelay": "1s", "idleTimeout": "10m"},
                     "sinks": {"postgres": {"dsn": {"name": "pg", "key": "dsn"},
                                            "table": table}},
                     "workers": {"minReplicas": 1, "maxReplicas": 1, "env": list(env)}}}


def influx_points(stack, resource):
    import urllib.parse
    q = (f"SELECT count, temp_sum FROM telemetry_window WHERE resource = '{resource}' "
         f"GROUP BY device")
    qs = urllib.parse.urlencode({"db": stack["INFLUX_DB"], "q": q, "epoch": "ms"})
    with urllib.request.urlopen(f"{stack['INFLUX_URL']}/query?{qs}", timeout=10) as r:
        series = json.load(r)["results"][0].get("series", [])
    return {(s["tags"]["device"], v[0]): (v[1], v[2]) for s in series for v in s["values"]}


def redis_latest(stack, ns, name, key):
    out = run(["redis-cli", "-h", stack["REDIS_HOST"], "-p", stack["REDIS_PORT"], "--raw",
               "HGETALL", f"sluice:{ns}:{name}:{key}:latest"]).stdout.splitlines()
    return dict(zip(out[0::2], out[1::2]))


# ---- the tests ---------------------------------------------------------------

def test_telemetry_window_through_a_broker_loss(stack, cluster, op, ns):
    topic, name, table = f"bl-in-{ns}", "tw", f"bl_{ns.replace('-', '_')}"
    resource = f"{ns}/{name}"
    cluster.create_topic(topic, partitions=3)
    keys = [f"d{i}" for i in range(6)]
    events = events_of(360, 50, keys, seed=7)  # 18 s of event time, in order per key
    before, during = events[:120], events[120:240]
    kubectl(stack, "apply", "-f", "-", input=json.dumps(tw_manifest(ns, name, cluster, topic,
                                                                    table)))
    sel = f"app.kubernetes.io/instance={name}"
    wait_for("a Ready worker pod", lambda: ready_pod(stack, ns, sel), timeout=90)

    cluster.produce(topic, records(before))
    wait_for("rows before the outage", lambda: pg_count(stack, table, resource) > 0,
             timeout=60)

    victim = cluster.busiest_leader(topic)
    polls0 = decisions(op, ns, name)
    cluster.ctl("stop", victim)
    try:
        wait_for("new leaders for every partition",
                 lambda: cluster.led_without(topic, victim), timeout=60)
        cluster.produce(topic, records(during), bootstrap=cluster.alive(victim))
        # Windows of the events produced during the outage, written meanwhile
        # (the watermark passes them with the events' own time).
        done_by = during[0][0]  # [6 s, 8 s) closes once 9 s is read
        wait_for("rows of the outage's events", lambda: int(run(
            ["psql", stack["PG_DSN"], "-Atc",
             f"SELECT count(*) FROM {table} WHERE resource = '{resource}' AND "
             f"window_start >= to_timestamp({done_by / 1000})"]).stdout or 0) > 0, timeout=90)
        # The operator's lag polls go on without the broker (no hang): each
        # one is read, or counted as an error that the scaler's fallback
        # rule counts (docs/autoscaling.md).
        wait_for("three more lag polls", lambda: decisions(op, ns, name)[0] >= polls0[0] + 3,
                 timeout=60)
        polls1 = decisions(op, ns, name)
        assert op.proc.poll() is None
    finally:
        cluster.ctl("start", victim)
    wait_for("every replica back in sync", lambda: cluster.in_sync(topic), timeout=90)
    events = with_closers(events, keys)
    cluster.produce(topic, records(events[240:]))
    windows, want = want_closed(events)
    try:
        wait_for(f"{len(want)} rows", lambda: pg_count(stack, table, resource) >= len(want),
                 timeout=90)
    except AssertionError as e:
        msgs = collections.Counter((m["partition"], json.loads(m["payload"])["ts"] // 2000 * 2000 - BASE)
                                   for m in cluster.consume(topic))
        raise AssertionError(f"{e}\nin kafka (partition, window): {sorted(msgs.items())}\n"
                             f"group lag {cluster.group_lag(f'sluice-tw-{ns}-{name}')}\n"
                             f"{diagnosis(stack, ns, sel, table, resource, want)}")
    check_rows(pg_rows(stack, table, resource), want, 2000)  # nothing lost or doubled
    # InfluxDB and Redis, the sinks the operator filled in, agree.
    want_points = {(k, s): (c, ss) for (k, s, f), (c, _, ss, *_r) in want.items()}
    wait_for("every InfluxDB window point",
             lambda: influx_points(stack, resource) == want_points, timeout=30)
    for k in keys:
        last = max(s for (key, s) in windows if key == k)
        latest = wait_for(f"Redis latest of {k}", lambda k=k: (lambda h: h if h and int(
            h["start"]) // 1_000_000 == last else None)(redis_latest(stack, ns, name, k)),
                          timeout=30)
        assert int(latest["count"]) == len(windows[(k, last)])
    # The lag is readable again: the status shows what Kafka's own tool
    # shows (the closers' open windows keep their offsets uncommitted).
    wait_for("the status lag equal to Kafka's", lambda: (lambda lag: lag is not None and lag ==
             cluster.group_lag(f"sluice-tw-{ns}-{name}"))(
        get(stack, "tw", name, ns)["status"].get("lag")), timeout=60)
    assert all(n == 0 for n in restarts(pods(stack, ns, sel)).values()), pods(stack, ns, sel)
    print(f"lag polls during the outage: {polls1[0] - polls0[0]:.0f}, "
          f"unreadable: {polls1[1] - polls0[1]:.0f}")


def test_video_job_through_a_broker_loss(stack, cluster, op, ns):
    vol = hostpath_claim(stack, ns, "videos")
    (vol / "out").mkdir()
    os.chown(vol / "out", WORKER_UID, WORKER_UID)
    make_clip(vol / "in.mp4", 8, size="640x480")
    name = "clip"
    vj = {"apiVersion": "sluice.dev/v1alpha1", "kind": "VideoJob",
          "metadata": {"name": name, "namespace": ns},
          "spec": {"source": {"uri": "file:///videos/in.mp4"},
                   "output": {"uri": "file:///videos/out/out.mp4"},
                   "volume": {"mountPath": "/videos",
                              "persistentVolumeClaim": {"claimName": "videos"}},
                   "segmentSeconds": 1,
                   "encoder": {"codec": "libx264", "preset": "medium", "crf": 30},
                   "kafka": {"bootstrap": cluster.bootstrap},
                   "workers": {"minReplicas": 1, "maxReplicas": 1, "lagThreshold": 1}}}
    kubectl(stack, "apply", "-f", "-", input=json.dumps(vj))
    sel = f"sluice.dev/videojob={name},app.kubernetes.io/component=process"
    seen_restarts = {}

    def status():
        st = (get(stack, "vj", name, ns) or {}).get("status", {})
        assert st.get("phase") != "Failed", st
        seen_restarts.update(restarts(pods(stack, ns, sel)))
        return st

    # Stopped once the tasks are published and the worker is at them.
    st = wait_for("the job processing", lambda: (lambda s: s if s.get("phase") == "Processing"
                                                 and ready_pod(stack, ns, sel) else None)(
        status()), timeout=180, interval=0.1)
    topic = wait_for("the task topic", lambda: next(
        (t["topic"] for t in json.loads(run(["kcat", "-b", cluster.bootstrap, "-L", "-J"])
                                        .stdout)["topics"]
         if t["topic"] == f"sluice-vj-{ns}-{name}"), None))
    victim = cluster.busiest_leader(topic)
    frames_at_stop = st.get("framesDone", 0)
    cluster.ctl("stop", victim)
    try:
        wait_for("frames done during the outage", lambda: (lambda s: s.get(
            "framesDone", 0) > frames_at_stop or s.get("phase") == "Succeeded")(status()),
                 timeout=180, interval=0.5)
    finally:
        cluster.ctl("start", victim)
    st = wait_for("the job to succeed", lambda: (lambda s: s.get("phase") == "Succeeded" and s)(
        status()), timeout=300, interval=0.5)
    assert st["framesDone"] == st["framesTotal"] == 200
    rows = run(["psql", stack["PG_DSN"], "-Atc",
                f"SELECT count(*), count(DISTINCT pts_ms) FROM video_frames "
                f"WHERE job = '{ns}/{name}'"]).stdout.strip()
    assert rows == "200|200", rows  # every frame row, once
    assert seen_restarts and all(n == 0 for n in seen_restarts.values()), seen_restarts


def test_outage_longer_than_the_delivery_timeout(stack, cluster, op, ns):
    """The only broker holding the dead-letter partition stays away longer
    than the producer's delivery timeout (3 s here)."""
    topic, name, table = f"bl-long-{ns}", "tw", f"bl_{ns.replace('-', '_')}"
    resource = f"{ns}/{name}"
    # The input on brokers 1-3 led by 1; its dead letters on broker 3 alone.
    cluster.create_topic(topic, assignment="1:2:3")
    cluster.create_topic(f"{topic}.dlq", rf=1, assignment="3")
    env = [{"name": "SLUICE_KAFKA_MESSAGE_TIMEOUT_MS", "value": "3000"},
           {"name": "SLUICE_UNHEALTHY_AFTER", "value": "1s"}]
    kubectl(stack, "apply", "-f", "-",
            input=json.dumps(tw_manifest(ns, name, cluster, topic, table, env)))
    sel = f"app.kubernetes.io/instance={name}"
    pod = wait_for("a Ready worker pod", lambda: ready_pod(stack, ns, sel), timeout=90)
    keys = ["d0", "d1", "d2"]
    events = events_of(120, 100, keys, seed=3)
    bad = {i: f'{{"device": "d0", "temp": {i}}}' for i in range(40, 80, 10)}  # no "ts"
    first = records(events[:40])
    cluster.produce(topic, first)
    wait_for("rows before the outage", lambda: pg_count(stack, table, resource) > 0,
             timeout=60)

    cluster.ctl("stop", 3)
    try:
        rest = []
        events = with_closers(events, keys)
        for i, r in enumerate(records(events[40:]), 40):
            if i in bad:
                rest.append(("d0", bad[i]))
            rest.append(r)
        cluster.produce(topic, rest, bootstrap=cluster.alive(3))
        # The dead letters' delivery times out: the worker pauses and says so.
        status, body = wait_for("/healthz to fail", lambda: (lambda r: r if r[0] == 503 else None)(
            worker_http(stack, pod, "/healthz")), timeout=60)
        assert "dead-letter" in body, body
        assert "sluice_tw_paused 1" in worker_http(stack, pod, "/metrics")[1]
    finally:
        cluster.ctl("start", 3)
    wait_for("/healthz again", lambda: worker_http(stack, pod, "/healthz")[0] == 200,
             timeout=90)
    windows, want = want_closed(events)
    wait_for(f"{len(want)} rows", lambda: pg_count(stack, table, resource) >= len(want),
             timeout=90)
    check_rows(pg_rows(stack, table, resource), want, 2000)
    dlq = wait_for("every dead letter", lambda: (lambda d: d if len(d) >= len(bad) else None)(
        cluster.consume(f"{topic}.dlq")), timeout=60)
    assert sorted(d["payload"] for d in dlq) == sorted(bad.values())  # each once
    logs = kubectl(stack, "logs", "-n", ns, pod["metadata"]["name"]).stdout
    assert "dead letter not delivered: kept" in logs and '"consumption resumed"' in logs, \
        logs[-3000:]
    assert all(n == 0 for n in restarts(pods(stack, ns, sel)).values())
