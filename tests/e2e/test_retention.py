"""Retention that runs: the worker Deployment the operator makes, on the
stack's real node, trims its PostgreSQL rows by count (retention.maxRowsPerKey)
and by age (retention.maxAge), and deletes its InfluxDB points older than
retention.maxAge, on its own schedule (--trim-interval, SLUICE_TRIM_INTERVAL).

A TelemetryWindow (10 s windows, maxRowsPerKey 3, maxAge 10m) gets, for two
devices, 4 windows an hour old and 6 windows two minutes old. Its workers
first run with trims off (SLUICE_TRIM_INTERVAL=0s in spec.workers.env), so
every window is seen written, old ones included; then the env is changed to
2s, the operator rolls the workers, and the new worker alone trims: each
device keeps exactly its newest 3 windows in PostgreSQL, and InfluxDB keeps
the recent windows' and events' points (no count cap there) while the hour-old
ones go. Age is judged against the worker's wall clock (the node is this
host, so the test's time.time() is the same clock), as docs/telemetry-sinks.md
says.

Needs the whole stack with its node (make stack-up, as root) and the images
rebuilt and imported after a worker change.
"""
import json
import os
import tempfile
import time
import urllib.parse
import urllib.request

import pytest

from conftest import ROOT
from test_operator import Operator, create_topic, get, kubectl, wait_for
from test_telemetry import influx, produce, psql

WINDOW_S = 10
CAP = 3
MAX_AGE_S = 600
TABLE = "retention_windows"
DEVICES = ("d0", "d1")


@pytest.fixture(scope="module")
def retention_op(stack, node):
    kubectl(stack, "apply", "-f", str(ROOT / "crds"))
    kubectl(stack, "wait", "--for=condition=Established", "--timeout=60s",
            "crd/telemetrywindows.sluice.dev")
    lease_ns = f"ret-lease-{os.getpid()}"
    kubectl(stack, "create", "namespace", lease_ns)
    with tempfile.TemporaryDirectory(prefix="sluice-ret-") as d:
        o = Operator(stack, d, lease_ns, name="retention",
                     extra=["--worker-image", stack["SLUICE_WORKER_IMAGE"],
                            "--worker-image-pull-policy", "Never", "--worker-host-network",
                            "--kafka-bootstrap", stack["KAFKA_BOOTSTRAP"]])
        o.start()
        yield o
        o.stop()
        kubectl(stack, "delete", "namespace", lease_ns, "--wait=false", check=False)


@pytest.fixture
def ns(stack, unique):
    name = f"ret-{unique}"
    kubectl(stack, "create", "namespace", name)
    kubectl(stack, "-n", name, "create", "secret", "generic", "pg",
            f"--from-literal=dsn={stack['PG_DSN']}")
    yield name
    kubectl(stack, "delete", "namespace", name, "--wait=false", check=False)


def manifest(stack, ns, topic, trim_interval):
    return {"apiVersion": "sluice.dev/v1alpha1", "kind": "TelemetryWindow",
            "metadata": {"name": "kept", "namespace": ns},
            "spec": {"kafka": {"bootstrap": stack["KAFKA_BOOTSTRAP"], "topic": topic},
                     "fields": {"timestamp": "ts", "timestampFormat": "epoch_ms",
                                "keys": ["device"], "values": ["temp"]},
                     "window": {"size": f"{WINDOW_S}s", "watermarkDelay": "1s",
                                "idleTimeout": "2s"},
                     "sinks": {"postgres": {"dsn": {"name": "pg", "key": "dsn"},
                                            "table": TABLE},
                               "influxdb": {"url": stack["INFLUX_URL"],
                                            "database": stack["INFLUX_DB"], "raw": True}},
                     "retention": {"maxRowsPerKey": CAP, "maxAge": f"{MAX_AGE_S // 60}m"},
                     "workers": {"minReplicas": 1, "maxReplicas": 1,
                                 "env": [{"name": "SLUICE_TRIM_INTERVAL",
                                          "value": trim_interval}]}}}


def pg_windows(stack, resource):
    """{device: sorted window starts (ms)} of the resource's rows."""
    out = psql(stack, f"SELECT DISTINCT key, (extract(epoch FROM window_start) * 1000)::bigint "
                      f"FROM {TABLE} WHERE resource = '{resource}'")
    got = {}
    for line in out.splitlines():
        if line:
            key, start = line.split("\t")
            got.setdefault(key, []).append(int(start))
    return {k: sorted(v) for k, v in got.items()}


def influx_times(stack, measurement, resource):
    """The resource's point times (ms) in measurement, sorted."""
    field = "count" if measurement == "telemetry_window" else "temp"
    series = influx(stack, f"SELECT \"{field}\" FROM {measurement} "
                           f"WHERE resource = '{resource}'")
    return sorted(v[0] for s in series for v in s["values"])


def influx_write(stack, lines):
    qs = urllib.parse.urlencode({"db": stack["INFLUX_DB"], "precision": "ns"})
    req = urllib.request.Request(f"{stack['INFLUX_URL']}/write?{qs}", data=lines.encode(),
                                 method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 204


def worker_pods(stack, ns):
    out = kubectl(stack, "get", "pods", "-n", ns, "-l", "app.kubernetes.io/instance=kept",
                  "-o", "json").stdout
    return json.loads(out)["items"]


def pod_trim_interval(pod):
    env = pod["spec"]["containers"][0].get("env", [])
    return next((e.get("value") for e in env if e["name"] == "SLUICE_TRIM_INTERVAL"), None)


def test_running_worker_trims_postgres_and_influxdb(stack, retention_op, ns):
    resource = f"{ns}/kept"
    topic = f"ret-in-{ns}"
    create_topic(stack, topic, 1)
    now_ms = int(time.time() * 1000)
    step = WINDOW_S * 1000
    old_base = (now_ms - 3_600_000) // step * step
    new_base = (now_ms - 120_000) // step * step
    old = [old_base + w * step for w in range(4)]
    new = [new_base + w * step for w in range(6)]
    records = []
    for start in old + new:  # in event-time order: none late
        for d in DEVICES:
            records.append((d, json.dumps({"ts": start + 1000, "device": d, "temp": 20.5})))
    produce(stack, topic, records)

    # Trims off: every window is written, the hour-old ones too.
    kubectl(stack, "apply", "-f", "-", input=json.dumps(manifest(stack, ns, topic, "0s")))
    want_all = {d: old + new for d in DEVICES}
    wait_for("every window in PostgreSQL", lambda: pg_windows(stack, resource) == want_all,
             timeout=120)
    wait_for("every window point in InfluxDB",
             lambda: influx_times(stack, "telemetry_window", resource) ==
             sorted((old + new) * len(DEVICES)), timeout=30)
    wait_for("every raw point in InfluxDB",
             lambda: len(influx_times(stack, "telemetry_raw", resource)) ==
             len(records), timeout=30)

    # A neighbour's hour-old row and point, written before any trim runs.
    psql(stack, f"INSERT INTO {TABLE} (resource, key, key_fields, window_start, window_end, "
                f"count, field, value_count) VALUES ('{ns}/other', 'd0', '{{d0}}', "
                f"to_timestamp({old[0]} / 1000.0), to_timestamp({old[0] + step} / 1000.0), "
                f"1, 'temp', 1)")
    influx_write(stack, f"telemetry_window,resource={ns}/other,device=d0,window=10s count=1i "
                        f"{old[0] * 1_000_000}\n")

    # Trims every 2 s: the operator rolls the workers; the new one trims.
    kubectl(stack, "apply", "-f", "-", input=json.dumps(manifest(stack, ns, topic, "2s")))
    wait_for("a worker with trims on running",
             lambda: any(pod_trim_interval(p) == "2s" and
                         p["status"].get("phase") == "Running"
                         for p in worker_pods(stack, ns)), timeout=120)

    # PostgreSQL: the newest CAP windows of each device and nothing else
    # (the count trim); none ended more than maxAge ago (the age trim).
    kept = {d: new[-CAP:] for d in DEVICES}
    wait_for("PostgreSQL trimmed to the newest windows",
             lambda: pg_windows(stack, resource) == kept, timeout=60)
    cutoff_ms = int(time.time() * 1000) - MAX_AGE_S * 1000
    too_old = psql(stack, f"SELECT count(*) FROM {TABLE} WHERE resource = '{resource}' AND "
                          f"window_end < to_timestamp({cutoff_ms} / 1000.0)")
    assert int(too_old) == 0

    # InfluxDB: the hour-old points gone, the recent ones all still there.
    wait_for("InfluxDB's old window points deleted",
             lambda: influx_times(stack, "telemetry_window", resource) ==
             sorted(new * len(DEVICES)), timeout=60)
    wait_for("InfluxDB's old raw points deleted",
             lambda: influx_times(stack, "telemetry_raw", resource) ==
             sorted((s + 1000) for s in new for _ in DEVICES), timeout=60)

    # Another resource's rows and points in the same table and database,
    # as old, are not this one's to delete: both trims name the resource.
    assert pg_windows(stack, f"{ns}/other") == {"d0": [old[0]]}
    assert influx_times(stack, "telemetry_window", f"{ns}/other") == [old[0]]
    assert get(stack, "tw", "kept", ns)["status"].get("phase") != "Degraded"
