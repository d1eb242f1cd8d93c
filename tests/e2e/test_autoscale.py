"""Autoscaling by consumer-group lag, on the whole pipeline: the operator runs
as a process, localrun (the stand-in kubelet) runs the worker Deployment's
pods as real sluice-worker processes, and real Kafka, PostgreSQL and Redis
carry the data.

A TelemetryWindow with minReplicas 0 starts idle; a burst of events scales
its workers up from zero at once (capped at the partition count), the workers
drain the lag and write their windows to PostgreSQL, the Deployment scales
down after the stabilization window and to zero after the cooldown; and the
lag on the status agrees with what Kafka's own consumer-group tool reports.

Needs the whole stack (make stack-up).
"""
import json
import os
import subprocess
import tempfile
import time
from unittest import mock

import pytest

from conftest import ROOT, run
from test_operator import Operator, create_topic, get, kubectl, reasons, wait_for

POLL = "1s"
WINDOW = "6s"  # stabilization window and cooldown, short for the test


class ScalingOperator(Operator):
    """test_operator's Operator with the autoscaler's options added."""

    def __init__(self, *args, extra, **kw):
        super().__init__(*args, **kw)
        self.extra = extra

    def start(self):
        popen = subprocess.Popen
        with mock.patch("test_operator.subprocess.Popen",
                        lambda argv, *a, **k: popen(argv + self.extra, *a, **k)):
            super().start()


@pytest.fixture(scope="module")
def scaler(stack, localrun):
    kubectl(stack, "apply", "-f", str(ROOT / "crds"))
    kubectl(stack, "wait", "--for=condition=Established", "--timeout=60s",
            "crd/telemetrywindows.sluice.dev", "crd/videojobs.sluice.dev")
    lease_ns = f"as-lease-{os.getpid()}"
    kubectl(stack, "create", "namespace", lease_ns)
    with tempfile.TemporaryDirectory(prefix="sluice-as-") as d:
        o = ScalingOperator(stack, d, lease_ns, name="scaler",
                     extra=["--kafka-bootstrap", stack["KAFKA_BOOTSTRAP"],
                            "--polling-interval", POLL, "--stabilization-window", WINDOW,
                            "--cooldown-period", WINDOW])
        o.start()
        yield o
        o.stop()
        kubectl(stack, "delete", "namespace", lease_ns, "--wait=false", check=False)


@pytest.fixture
def ns(stack, unique):
    name = f"as-{unique}"
    kubectl(stack, "create", "namespace", name)
    kubectl(stack, "-n", name, "create", "secret", "generic", "pg", f"--from-literal=dsn={stack['PG_DSN']}")
    yield name
    kubectl(stack, "delete", "namespace", name, "--wait=false", check=False)


def replicas(stack, ns, dep):
    d = get(stack, "deployment", dep, ns, check=False)
    return None if d is None else d["spec"].get("replicas")


def produce(stack, topic, n, t0_ms, hosts=8):
    lines = "".join(
        json.dumps({"ts": t0_ms + i * 10, "host": f"h{i % hosts}", "temp": i % 50}) + "\n"
        for i in range(n))
    run(["kcat", "-b", stack["KAFKA_BOOTSTRAP"], "-P", "-t", topic, "-K", "\t", "-z", "lz4"],
        input="".join(f"h{i % hosts}\t{line}" for i, line in enumerate(lines.splitlines(True))),
        timeout=120)


def kafka_group_lag(stack, group):
    """Total lag of group as Kafka's own ConsumerGroupCommand reports it."""
    out = run(["java", "-Xmx256m", "-Dlog4j.configuration=file:/dev/null", "-cp",
               stack["KAFKA_LIBS"] + "/*",
               "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
               "--bootstrap-server", stack["KAFKA_BOOTSTRAP"], "--describe", "--group", group],
              check=False, timeout=120).stdout
    total, rows = 0, 0
    for line in out.splitlines():
        cols = line.split()
        if len(cols) >= 6 and cols[0] == group:
            rows += 1
            total += int(cols[5]) if cols[5].isdigit() else 0
    return total if rows else None


def test_burst_scales_up_from_zero_then_down_and_to_zero(stack, scaler, ns):
    topic = f"as-in-{ns}"
    create_topic(stack, topic, 4)
    tw = {"apiVersion": "sluice.dev/v1alpha1", "kind": "TelemetryWindow",
          "metadata": {"name": "burst", "namespace": ns},
          "spec": {"kafka": {"bootstrap": stack["KAFKA_BOOTSTRAP"], "topic": topic},
                   "fields": {"timestamp": "ts", "timestampFormat": "epoch_ms",
                              "keys": ["host"], "values": ["temp"]},
                   "window": {"size": "10s", "watermarkDelay": "1s", "idleTimeout": "2s"},
                   "sinks": {"postgres": {"dsn": {"name": "pg", "key": "dsn"},
                                          "table": "as_windows"}},
                   "workers": {"minReplicas": 0, "maxReplicas": 8, "lagThreshold": 500}}}
    kubectl(stack, "apply", "-f", "-", input=json.dumps(tw))
    dep = "burst-telemetry"
    wait_for("the worker Deployment", lambda: replicas(stack, ns, dep) is not None)
    time.sleep(3)  # a few polls with no lag: stays at zero
    assert replicas(stack, ns, dep) == 0

    produce(stack, topic, 20000, int(time.time() * 1000) - 3_600_000)
    # 20000 / 500 = 40 replicas wanted; capped at the 4 partitions, at once.
    wait_for("scale-up to the partition count", lambda: replicas(stack, ns, dep) == 4,
             timeout=20)
    st = get(stack, "tw", "burst", ns)["status"]
    assert st["desiredReplicas"] == 4 and st["lag"] > 0 and "lastScaleTime" in st
    assert "Scaled" in reasons(stack, ns, "burst")

    # The workers (local processes) drain the lag and write windows.
    wait_for("the lag drained", lambda: get(stack, "tw", "burst", ns)["status"].get("lag") == 0,
             timeout=120)
    rows = run(["psql", stack["PG_DSN"], "-Atc",
                f"SELECT count(*) FROM as_windows WHERE resource = '{ns}/burst'"]).stdout
    assert int(rows) > 0
    # Down only after the stabilization window, then to zero after the cooldown.
    wait_for("scale to zero", lambda: replicas(stack, ns, dep) == 0, timeout=60)
    st = get(stack, "tw", "burst", ns)["status"]
    assert st["desiredReplicas"] == 0

    # Lag while idle: raise the activation threshold, add 300 events; the
    # workers stay at zero and the status shows what Kafka's tool shows.
    tw["spec"]["workers"]["activationLagThreshold"] = 1000
    kubectl(stack, "apply", "-f", "-", input=json.dumps(tw))
    produce(stack, topic, 300, int(time.time() * 1000))
    group = f"sluice-tw-{ns}-burst"
    wait_for("status lag 300", lambda: get(stack, "tw", "burst", ns)["status"].get("lag") == 300,
             timeout=30)
    assert kafka_group_lag(stack, group) == 300
    assert replicas(stack, ns, dep) == 0
