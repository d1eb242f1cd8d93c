"""Autoscaling by consumer-group lag, on the whole pipeline: the operator runs
as a process, localrun (the stand-in kubelet) runs the worker Deployment's
pods as real sluice-worker processes, and real Kafka, PostgreSQL and Redis
carry the data.

A TelemetryWindow with minReplicas 0 starts idle; a burst of events scales
its workers up from zero at once (capped at the partition count), the workers
drain the lag and write their windows to PostgreSQL, Redis and InfluxDB, the Deployment scales
down after the stabilization window and to zero after the cooldown; and the
lag on the status agrees with what Kafka's own consumer-group tool reports.
A VideoJob runs from apply to Succeeded: its split Job publishes the segment
tasks, the process workers are scaled up from zero while tasks wait, the
assemble Job writes the output, and the workers go away afterwards.

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
                            "--postgres-secret", "pg", "--influx-url", stack["INFLUX_URL"],
                            "--influx-database", stack["INFLUX_DB"],
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
    # The operator filled in the sinks the resource left out: Redis and InfluxDB.
    latest = run(["redis-cli", "-h", stack["REDIS_HOST"], "-p", stack["REDIS_PORT"], "--scan",
                  "--pattern", f"sluice:{ns}:burst:*:latest"]).stdout.split()
    assert len(latest) == 8  # one per host
    points = run(["curl", "-sfG", f"{stack['INFLUX_URL']}/query", "--data-urlencode",
                  f"db={stack['INFLUX_DB']}", "--data-urlencode",
                  f"q=SELECT count(temp_mean) FROM telemetry_window WHERE resource = '{ns}/burst'"]
                 ).stdout
    series = json.loads(points)["results"][0].get("series")
    assert series and series[0]["values"][0][1] > 0, points
    # Down only after the stabilization window, then to zero after the cooldown.
    wait_for("scale to zero", lambda: replicas(stack, ns, dep) == 0, timeout=60)
    st = get(stack, "tw", "burst", ns)["status"]
    assert st["desiredReplicas"] == 0

    # The processes themselves gone too (localrun deletes a pod once its
    # process exited): a worker still stopping would read the events below.
    wait_for("the worker pods gone", lambda: kubectl(
        stack, "get", "pods", "-n", ns, "-l", "app.kubernetes.io/instance=burst",
        "-o", "name").stdout.strip() == "", timeout=60)

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


def ffprobe(path, *entries):
    out = run(["ffprobe", "-v", "error", "-count_frames", "-show_entries", ",".join(entries),
               "-of", "json", str(path)]).stdout
    return json.loads(out)


def test_videojob_from_apply_to_succeeded_with_workers_scaled_from_zero(stack, scaler, ns,
                                                                         tmp_path):
    src, out = tmp_path / "in.mp4", tmp_path / "out" / "out.mp4"
    out.parent.mkdir()
    run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
         "testsrc2=size=320x240:rate=25:duration=8", "-f", "lavfi", "-i",
         "sine=frequency=440:duration=8", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25",
         "-c:a", "aac", "-shortest", str(src)])
    vj = {"apiVersion": "sluice.dev/v1alpha1", "kind": "VideoJob",
          "metadata": {"name": "clip", "namespace": ns},
          "spec": {"source": {"uri": f"file://{src}"}, "output": {"uri": f"file://{out}"},
                   "segmentSeconds": 2, "filters": "scale=160:-2,hue=s=0",
                   "encoder": {"codec": "libx264", "preset": "ultrafast", "crf": 23},
                   "kafka": {"bootstrap": stack["KAFKA_BOOTSTRAP"]},
                   "workers": {"minReplicas": 0, "maxReplicas": 2, "lagThreshold": 1}}}
    kubectl(stack, "apply", "-f", "-", input=json.dumps(vj))
    seen = set()

    def done():
        st = (get(stack, "vj", "clip", ns) or {}).get("status", {})
        r = replicas(stack, ns, "clip-process")
        if r is not None:
            seen.add(r)
        assert st.get("phase") != "Failed", st
        return st.get("phase") == "Succeeded" and st

    st = wait_for("the VideoJob to succeed", done, timeout=240, interval=0.5)
    assert st["segmentsDone"] == st["segmentsTotal"] == 4
    assert st["progress"] == "100%"
    # The workers started at zero, were scaled up while tasks waited, and are gone.
    assert 0 in seen and max(seen) >= 1, seen
    assert "Scaled" in reasons(stack, ns, "clip")
    wait_for("the process Deployment removed", lambda: replicas(stack, ns, "clip-process") is None,
             timeout=30)

    info = ffprobe(out, "stream=codec_type,nb_read_frames,width")
    video = [s for s in info["streams"] if s["codec_type"] == "video"]
    assert [s["codec_type"] for s in info["streams"]].count("audio") == 1
    assert video[0]["width"] == 160
    assert abs(int(video[0]["nb_read_frames"]) - 200) <= 1
    rows = run(["psql", stack["PG_DSN"], "-Atc",
                f"SELECT count(*) FROM video_frames WHERE job = '{ns}/clip'"]).stdout
    assert int(rows) == 200
