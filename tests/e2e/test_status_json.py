"""GET /status (docs/status.md) on the running stack: a TelemetryWindow's
worker pod, on the node's host network, and the operator (a process, as in
test_autoscale.py).

- The worker's document names its component and version, carries the same
  registry as /metrics, and its state lists the topic's partitions as
  assigned, each with its offsets; once events are produced its watermark
  appears and, after later events, advances; its committed offsets follow;
  every sink is healthy.
- The operator's document says it leads, knows the TelemetryWindow in its
  cache, and shows its work queue.

Needs the whole stack with its node (make stack-up, as root), and the worker
image built from this tree (make images && tests/e2e/stack.sh import). Waits
on conditions only.
"""
import datetime
import json
import time

from test_autoscale import ns, produce, scaler  # noqa: F401 (fixtures)
from test_broker_loss import ready_pod, worker_http
from test_operator import create_topic, kubectl, wait_for

PARTITIONS = 3


def status_of(stack, pod):
    """The worker pod's /status document, or None while it does not answer."""
    code, body = worker_http(stack, pod, "/status")
    return json.loads(body) if code == 200 else None


def when(text):
    """An RFC 3339 time as the documents write it ("...Z")."""
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def max_watermark(state):
    marks = [when(p["watermark"]) for p in state["partitions"] if p["watermark"]]
    return max(marks) if marks else None


def test_worker_and_operator_status(stack, scaler, ns):  # noqa: F811
    topic = f"st-in-{ns}"
    create_topic(stack, topic, PARTITIONS)
    tw = {"apiVersion": "sluice.dev/v1alpha1", "kind": "TelemetryWindow",
          "metadata": {"name": "status", "namespace": ns},
          "spec": {"kafka": {"bootstrap": stack["KAFKA_BOOTSTRAP"], "topic": topic},
                   "fields": {"timestamp": "ts", "timestampFormat": "epoch_ms",
                              "keys": ["host"], "values": ["temp"]},
                   "window": {"size": "2s", "watermarkDelay": "1s", "idleTimeout": "2s"},
                   "sinks": {"postgres": {"dsn": {"name": "pg", "key": "dsn"},
                                          "table": "status_windows"}},
                   "workers": {"minReplicas": 1, "maxReplicas": 1}}}
    kubectl(stack, "apply", "-f", "-", input=json.dumps(tw))
    pod = wait_for("a ready worker pod",
                   lambda: ready_pod(stack, ns, "app.kubernetes.io/instance=status"), timeout=90)

    # Every partition of the topic assigned to the one member.
    doc = wait_for("all partitions on /status", lambda: (
        (d := status_of(stack, pod)) and
        d["state"]["assignedPartitions"] == list(range(PARTITIONS)) and d), timeout=60)
    assert doc["component"] == "worker" and doc["version"] and doc["gitRev"]
    when(doc["time"])
    st = doc["state"]
    assert st["resource"] == f"{ns}/status" and st["topic"] == topic
    assert st["ready"] is True and st["fatal"] is None and st["paused"] is False
    assert [p["partition"] for p in st["partitions"]] == list(range(PARTITIONS))
    # The registry /metrics renders, as JSON.
    fam = doc["metrics"]["sluice_tw_assigned_partitions"]
    assert fam["type"] == "gauge" and fam["series"][0]["value"] == PARTITIONS
    assert "sluice_tw_events_in_total" in doc["metrics"]

    # Events: the watermark appears, and later events move it on.
    t0 = int(time.time() * 1000) - 60_000
    produce(stack, topic, 300, t0)
    st = wait_for("a watermark on /status", lambda: (
        (d := status_of(stack, pod)) and max_watermark(d["state"]) and d["state"]), timeout=60)
    first = max_watermark(st)
    produce(stack, topic, 300, t0 + 30_000)
    st = wait_for("the watermark to advance", lambda: (
        (d := status_of(stack, pod)) and max_watermark(d["state"]) > first and d["state"]),
        timeout=60)
    assert st["eventsIn"] >= 300

    # Everything read is committed once the sinks have it; the sinks are ok.
    def committed():
        s = status_of(stack, pod)["state"]
        got = [p for p in s["partitions"] if p["committedOffset"] is not None]
        return s["eventsIn"] == 600 and all(
            p["consumedOffset"] is not None and p["committedOffset"] <= p["consumedOffset"]
            for p in got) and sum(p["committedOffset"] for p in got) == 600 and s
    st = wait_for("every event committed", committed, timeout=60)
    assert st["windowsEmitted"] > 0
    # postgres from the spec; redis and influxdb from the operator's defaults.
    assert "postgres" in [s["name"] for s in st["sinks"]]
    for s in st["sinks"]:
        assert s["ok"] is True and s["failingForSeconds"] == 0
        assert s["lastSuccess"] is not None
    assert st["deadLetterProducer"]["ok"] is True

    # The operator: leading, the TelemetryWindow in its cache, its queue.
    code, body = scaler.http("/status")
    assert code == 200
    doc = json.loads(body)
    assert doc["component"] == "operator"
    op = doc["state"]
    assert op["leader"] is True and op["reconciling"] is True
    assert op["resources"]["telemetrywindows"]["synced"] is True
    assert op["resources"]["telemetrywindows"]["cached"] >= 1
    assert op["resources"]["deployments"]["cached"] >= 1
    assert op["workqueue"]["depth"] >= 0 and op["reconcileErrors"] >= 0
    assert op["lastReconcileError"] is None or op["lastReconcileError"]["key"]
    depth = doc["metrics"]["sluice_operator_workqueue_depth"]
    assert depth["type"] == "gauge" and depth["series"][0]["value"] >= 0
