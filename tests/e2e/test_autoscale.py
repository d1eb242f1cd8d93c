"""Autoscaling by consumer-group lag, on the whole pipeline: the operator runs
as a process, the stack's real node (kubelet + containerd) runs the worker
Deployment's and Jobs' pods from the worker image, on the host network, in
namespaces that enforce Pod Security "restricted", and real Kafka,
PostgreSQL, Redis and InfluxDB carry the data.

A TelemetryWindow with minReplicas 0 starts idle; a burst of events scales
its workers up from zero at once (capped at the partition count), the workers
drain the lag and write their windows to PostgreSQL, Redis and InfluxDB, the Deployment scales
down after the stabilization window and to zero after the cooldown; and the
lag on the status agrees with what Kafka's own consumer-group tool reports.
A VideoJob runs from apply to Succeeded with its files on a hostPath
PersistentVolume: its split Job publishes the segment tasks, the process
workers are scaled up from zero while tasks wait, the assemble Job writes
the output, and the workers go away afterwards. A VideoJob with an NVENC
encoder fails at once on the node, which has no NVIDIA GPU.

Needs the whole stack with its node (make stack-up, as root).
"""
import json
import os
import pathlib
import tempfile
import time

import pytest

from conftest import ROOT, assert_locked_down, run
from test_operator import Operator, create_topic, events, exists, get, kubectl, reasons, wait_for

POLL = "1s"
WINDOW = "6s"  # stabilization window and cooldown, short for the test
WORKER_UID = 65532  # the worker image's user


@pytest.fixture(scope="module")
def scaler(stack, node):
    kubectl(stack, "apply", "-f", str(ROOT / "crds"))
    kubectl(stack, "wait", "--for=condition=Established", "--timeout=60s",
            "crd/telemetrywindows.sluice.dev", "crd/videojobs.sluice.dev")
    lease_ns = f"as-lease-{os.getpid()}"
    kubectl(stack, "create", "namespace", lease_ns)
    with tempfile.TemporaryDirectory(prefix="sluice-as-") as d:
        o = Operator(stack, d, lease_ns, name="scaler",
                     extra=["--worker-image", stack["SLUICE_WORKER_IMAGE"],
                            "--worker-image-pull-policy", "Never", "--worker-host-network",
                            "--kafka-bootstrap", stack["KAFKA_BOOTSTRAP"],
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

    # The worker pods drain the lag and write windows; the status counts
    # the ready ones.
    st = wait_for("ready workers on the status",
                  lambda: (get(stack, "tw", "burst", ns)["status"].get("replicas") or 0) >= 1 and
                  get(stack, "tw", "burst", ns)["status"], timeout=60)
    pods = json.loads(kubectl(stack, "get", "pods", "-n", ns, "-l",
                              "app.kubernetes.io/instance=burst", "-o", "json").stdout)["items"]
    assert pods and all(p["spec"]["nodeName"] == "localhost" for p in pods)
    # As non-root as their manifest says, on a read-only root filesystem.
    running = [p for p in pods if p["status"].get("containerStatuses", [{}])[0].get(
        "state", {}).get("running")]
    assert running
    assert_locked_down(stack, running[0])
    # Each replica has a Kafka client id of its own (its pod name).
    ids = {e["value"] for p in pods for e in p["spec"]["containers"][0]["env"]
           if e["name"] == "SLUICE_KAFKA_CLIENT_ID"}
    assert ids == {"$(POD_NAME)"}
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

    # The pods themselves gone too: a worker still stopping would read the
    # events below.
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


def test_refused_worker_pods_show_on_the_status(stack, scaler, ns):
    """Host networking is a host namespace, which Pod Security "baseline"
    and "restricted" refuse: in a namespace that enforces them the workers
    cannot be made, and the resource says so in the ReplicaSet's words."""
    kubectl(stack, "label", "namespace", ns, "pod-security.kubernetes.io/enforce=restricted")
    topic = f"as-ref-{ns}"
    create_topic(stack, topic, 1)
    tw = {"apiVersion": "sluice.dev/v1alpha1", "kind": "TelemetryWindow",
          "metadata": {"name": "refused", "namespace": ns},
          "spec": {"kafka": {"bootstrap": stack["KAFKA_BOOTSTRAP"], "topic": topic},
                   "fields": {"timestamp": "ts", "keys": ["host"], "values": ["temp"]},
                   "window": {"size": "10s"},
                   "workers": {"minReplicas": 1, "maxReplicas": 1}}}
    kubectl(stack, "apply", "-f", "-", input=json.dumps(tw))

    def refused():
        t = get(stack, "tw", "refused", ns)
        c = next((c for c in t.get("status", {}).get("conditions", [])
                  if c["type"] == "Ready"), {})
        return c.get("reason") == "FailedCreate" and (t, c)
    t, ready = wait_for("Ready False, FailedCreate", refused, timeout=30)
    assert ready["status"] == "False" and t["status"]["phase"] == "Degraded"
    assert "violates PodSecurity" in ready["message"] and "hostNetwork" in ready["message"]
    assert t["status"]["replicas"] == 0
    wait_for("a FailedCreate Warning on the resource",
             lambda: "FailedCreate" in reasons(stack, ns, "refused"))


def ffprobe(path, *entries):
    out = run(["ffprobe", "-v", "error", "-count_frames", "-show_entries", ",".join(entries),
               "-of", "json", str(path)]).stdout
    return json.loads(out)


def hostpath_claim(stack, ns, name):
    """A directory of the stack's, as a hostPath PersistentVolume bound to
    the claim `name` in ns: what a single-node cluster gives a VideoJob.
    Returns the directory on this machine."""
    d = pathlib.Path(stack["SLUICE_STACK_DIR"]) / "volumes" / f"{ns}-{name}"
    d.mkdir(parents=True)
    os.chown(d, WORKER_UID, WORKER_UID)
    pv = f"{ns}-{name}"
    manifests = [
        {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": pv},
         "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteMany"],
                  "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "",
                  "hostPath": {"path": str(d), "type": "Directory"},
                  "claimRef": {"namespace": ns, "name": name}}},
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
         "metadata": {"name": name, "namespace": ns},
         "spec": {"accessModes": ["ReadWriteMany"], "storageClassName": "", "volumeName": pv,
                  "resources": {"requests": {"storage": "1Gi"}}}}]
    for m in manifests:
        kubectl(stack, "apply", "-f", "-", input=json.dumps(m))
    wait_for("the claim bound", lambda: get(stack, "pvc", name, ns)["status"].get("phase") ==
             "Bound", timeout=60)
    return d


def test_videojob_from_apply_to_succeeded_with_workers_scaled_from_zero(stack, scaler, ns):
    vol = hostpath_claim(stack, ns, "videos")
    src, out = vol / "in.mp4", vol / "out" / "out.mp4"
    out.parent.mkdir()
    os.chown(out.parent, WORKER_UID, WORKER_UID)
    run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
         "testsrc2=size=320x240:rate=25:duration=8", "-f", "lavfi", "-i",
         "sine=frequency=440:duration=8", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25",
         "-c:a", "aac", "-shortest", str(src)])
    vj = {"apiVersion": "sluice.dev/v1alpha1", "kind": "VideoJob",
          "metadata": {"name": "clip", "namespace": ns},
          "spec": {"source": {"uri": "file:///videos/in.mp4"},
                   "output": {"uri": "file:///videos/out/out.mp4"},
                   "volume": {"mountPath": "/videos",
                              "persistentVolumeClaim": {"claimName": "videos"}},
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


def make_clip(path, seconds, size="320x240"):
    run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
         f"testsrc2=size={size}:rate=25:duration={seconds}", "-f", "lavfi", "-i",
         f"sine=frequency=440:duration={seconds}", "-c:v", "libx264", "-preset", "ultrafast",
         "-g", "25", "-c:a", "aac", "-shortest", str(path)])
    os.chown(path, WORKER_UID, WORKER_UID)


def frame_rows(stack, job):
    """(rows, distinct timestamps) of the job's per-frame analysis."""
    out = run(["psql", stack["PG_DSN"], "-Atc",
               f"SELECT count(*), count(DISTINCT pts_ms) FROM video_frames WHERE job = '{job}'"]
              ).stdout.strip()
    return tuple(int(x) for x in out.split("|"))


def vj_manifest(stack, name, ns, out, preset="ultrafast", **workers):
    return {"apiVersion": "sluice.dev/v1alpha1", "kind": "VideoJob",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"source": {"uri": "file:///videos/in.mp4"},
                     "output": {"uri": f"file:///videos/out/{out}"},
                     "volume": {"mountPath": "/videos",
                                "persistentVolumeClaim": {"claimName": "videos"}},
                     "segmentSeconds": 2,
                     "encoder": {"codec": "libx264", "preset": preset, "crf": 30},
                     "kafka": {"bootstrap": stack["KAFKA_BOOTSTRAP"]},
                     "workers": {"minReplicas": 1, "maxReplicas": 1, "lagThreshold": 1,
                                 **workers}}}


def succeeded(stack, ns, name):
    st = (get(stack, "vj", name, ns) or {}).get("status", {})
    assert st.get("phase") != "Failed", st
    return st.get("phase") == "Succeeded" and st


def test_oom_killed_worker_is_on_the_status_and_its_segments_are_redone(stack, scaler, ns):
    """A process pod over its memory limit is OOM-killed by the node: the
    VideoJob says so (Ready False, OOMKilled); raising the limit rolls the
    Deployment, and the job finishes with every frame once."""
    vol = hostpath_claim(stack, ns, "videos")
    (vol / "out").mkdir()
    os.chown(vol / "out", WORKER_UID, WORKER_UID)
    make_clip(vol / "in.mp4", 8, size="640x480")
    # Less than decoding and encoding 640x480 takes.
    vj = vj_manifest(stack, "oom", ns, "oom.mp4",
                     resources={"limits": {"memory": "20Mi"}, "requests": {"memory": "20Mi"}})
    kubectl(stack, "apply", "-f", "-", input=json.dumps(vj))

    def oom():
        t = get(stack, "vj", "oom", ns)
        c = next((c for c in t.get("status", {}).get("conditions", [])
                  if c["type"] == "Ready"), {})
        return c.get("reason") == "OOMKilled" and c
    ready = wait_for("Ready False, OOMKilled", oom, timeout=120)
    assert ready["status"] == "False" and "oom-process-" in ready["message"]
    assert get(stack, "vj", "oom", ns)["status"]["phase"] in ("Splitting", "Processing")

    vj["spec"]["workers"]["resources"] = {"limits": {"memory": "512Mi"},
                                          "requests": {"memory": "20Mi"}}
    kubectl(stack, "apply", "-f", "-", input=json.dumps(vj))
    wait_for("a ConfigChanged event", lambda: "ConfigChanged" in reasons(stack, ns, "oom"))
    st = wait_for("the VideoJob to succeed", lambda: succeeded(stack, ns, "oom"), timeout=240)
    assert st["framesDone"] == st["framesTotal"] == 200
    assert frame_rows(stack, f"{ns}/oom") == (200, 200)


def test_worker_force_deleted_mid_segment_loses_nothing(stack, scaler, ns):
    """A process pod deleted with --grace-period=0 --force while it works:
    its task is redelivered to the next pod, and the output and the
    analysis rows have every frame exactly once."""
    vol = hostpath_claim(stack, ns, "videos")
    (vol / "out").mkdir()
    os.chown(vol / "out", WORKER_UID, WORKER_UID)
    # Big enough, and encoded slowly enough, to be caught mid-way.
    make_clip(vol / "in.mp4", 16, size="1280x720")
    vj = vj_manifest(stack, "kill", ns, "kill.mp4", preset="medium")
    kubectl(stack, "apply", "-f", "-", input=json.dumps(vj))

    def working_pod():
        st = get(stack, "vj", "kill", ns).get("status", {})
        if st.get("phase") != "Processing" or not 0 < st.get("framesDone", 0) < 300:
            return None
        pods = kubectl(stack, "get", "pods", "-n", ns, "-l",
                       "sluice.dev/videojob=kill,app.kubernetes.io/component=process",
                       "-o", "name").stdout.split()
        return pods and pods[0]
    pod = wait_for("a process pod with frames done", working_pod, timeout=180, interval=0.1)
    kubectl(stack, "delete", "-n", ns, pod, "--grace-period=0", "--force", "--wait=false")
    st = wait_for("the VideoJob to succeed", lambda: succeeded(stack, ns, "kill"), timeout=300)
    assert st["framesDone"] == st["framesTotal"] == 400
    assert frame_rows(stack, f"{ns}/kill") == (400, 400)
    info = ffprobe(vol / "out" / "kill.mp4", "stream=codec_type,nb_read_frames")
    video = [s for s in info["streams"] if s["codec_type"] == "video"]
    assert int(video[0]["nb_read_frames"]) == 400


def test_videojob_analysis_chooses_the_measures(stack, scaler, ns):
    """spec.analysis decides what the process workers compute and write:
    [meanLuma] gives every frame a row with mean_luma set and motion and
    scene_score NULL; [] (kept as given: the default applies only when the
    field is absent) writes no rows at all. Both jobs succeed with every
    frame encoded."""
    vol = hostpath_claim(stack, ns, "videos")
    (vol / "out").mkdir()
    os.chown(vol / "out", WORKER_UID, WORKER_UID)
    make_clip(vol / "in.mp4", 4)
    jobs = {"luma": ["meanLuma"], "none": []}
    for name, analysis in jobs.items():
        vj = vj_manifest(stack, name, ns, f"{name}.mp4")
        vj["spec"]["analysis"] = analysis
        kubectl(stack, "apply", "-f", "-", input=json.dumps(vj))
    for name, analysis in jobs.items():
        st = wait_for(f"the VideoJob {name} to succeed",
                      lambda name=name: succeeded(stack, ns, name), timeout=240)
        assert st["framesDone"] == st["framesTotal"] == 100
        assert get(stack, "vj", name, ns)["spec"]["analysis"] == analysis
        info = ffprobe(vol / "out" / f"{name}.mp4", "stream=codec_type,nb_read_frames")
        video = [s for s in info["streams"] if s["codec_type"] == "video"]
        assert int(video[0]["nb_read_frames"]) == 100

    counts = run(["psql", stack["PG_DSN"], "-Atc",
                  "SELECT count(*), count(DISTINCT pts_ms), count(mean_luma), count(motion),"
                  " count(scene_score), min(mean_luma) > 16 AND max(mean_luma) < 235"
                  f" FROM video_frames WHERE job = '{ns}/luma'"]).stdout.strip()
    assert counts == "100|100|100|0|0|t", counts
    assert frame_rows(stack, f"{ns}/none") == (0, 0)


def test_split_failure_reaches_the_status_without_redis(stack, scaler, ns):
    """A split that fails where it cannot report to the status Redis (here
    an address that refuses, given through workers.env, which wins over the
    operator's): the Job fails, and its pod's last log line, kept by the
    kubelet as the termination message, is on the VideoJob's status."""
    vol = hostpath_claim(stack, ns, "videos")
    vj = vj_manifest(stack, "nosrc", ns, "nosrc.mp4",
                     env=[{"name": "SLUICE_STATUS_REDIS", "value": "127.0.0.1:1"}])
    vj["spec"]["source"]["uri"] = "file:///videos/missing.mp4"
    kubectl(stack, "apply", "-f", "-", input=json.dumps(vj))

    def failed():
        st = get(stack, "vj", "nosrc", ns).get("status", {})
        return st.get("phase") == "Failed" and st
    st = wait_for("the VideoJob Failed", failed, timeout=180)
    ready = next(c for c in st["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "SplitFailed", ready
    assert "the split Job failed: sluice-worker: split" in ready["message"], ready
    assert not vol.joinpath("out").exists()


def test_missing_claim_shows_on_the_status(stack, scaler, ns):
    """A VideoJob whose claim does not exist: its split pod cannot be
    scheduled, and the VideoJob says so (Ready False, the scheduler's words)
    while the operator goes on serving the others."""
    vj = vj_manifest(stack, "noclaim", ns, "x.mp4")
    vj["spec"]["volume"]["persistentVolumeClaim"]["claimName"] = "nope"
    kubectl(stack, "apply", "-f", "-", input=json.dumps(vj))

    def explained():
        st = get(stack, "vj", "noclaim", ns).get("status", {})
        c = next((c for c in st.get("conditions", []) if c["type"] == "Ready"), {})
        return c.get("status") == "False" and c.get("reason") == "Unschedulable" and (st, c)
    st, ready = wait_for("Ready False, Unschedulable", explained, timeout=60)
    assert st["phase"] == "Splitting"
    assert ready["message"].startswith("the split Job: pod noclaim-split-"), ready
    assert 'persistentvolumeclaim "nope" not found' in ready["message"], ready


def allocatable_gpus(node):
    """A Node's allocatable nvidia.com/gpu (the device plugin writes an
    integer); 0 when it advertises none."""
    return int(node.get("status", {}).get("allocatable", {}).get("nvidia.com/gpu", "0"))


def test_nvenc_videojob_without_a_gpu_fails_at_once(stack, scaler, ns):
    """A VideoJob with encoder.codec h264_nvenc on a cluster whose nodes have
    no NVIDIA GPU (the stack's real node advertises no nvidia.com/gpu): the
    operator lists the nodes, fails the job before it makes anything, and
    says why on its status and in a Warning Event, naming the encoder and
    the resource; no process Deployment (nor split Job) is ever made."""
    nodes = json.loads(kubectl(stack, "get", "nodes", "-o", "json").stdout)["items"]
    if any(allocatable_gpus(n) > 0 for n in nodes):
        pytest.skip("a node of this cluster has an NVIDIA GPU")
    where = ("the cluster's one node has none" if len(nodes) == 1
             else f"none of the cluster's {len(nodes)} nodes has one")
    # minReplicas 1: a job that ran would get its process Deployment at once.
    vj = vj_manifest(stack, "nvenc", ns, "nvenc.mp4")
    vj["spec"]["encoder"] = {"codec": "h264_nvenc", "preset": "fast", "crf": 23}
    kubectl(stack, "apply", "-f", "-", input=json.dumps(vj))

    def failed():
        st = (get(stack, "vj", "nvenc", ns) or {}).get("status", {})
        return st.get("phase") == "Failed" and st
    st = wait_for("the VideoJob Failed", failed, timeout=30)
    conds = {c["type"]: c for c in st["conditions"]}
    ready, fail = conds["Ready"], conds["Failed"]
    assert ready["status"] == "False" and ready["reason"] == "NoGPU", ready
    assert fail["status"] == "True" and fail["reason"] == "NoGPU", fail
    for message in (ready["message"], fail["message"]):
        assert "h264_nvenc" in message and "nvidia.com/gpu" in message, message
        assert where in message, message
    assert "completionTime" in st

    def warned():
        return [e for e in events(stack, ns, "nvenc")
                if e.get("reason") == "NoGPU" and e.get("type") == "Warning"]
    (ev,) = wait_for("a NoGPU Warning Event", warned)
    assert "h264_nvenc" in ev["message"] and "nvidia.com/gpu" in ev["message"], ev

    # Failed before anything was made; a finished job's later passes make nothing.
    assert get(stack, "vj", "nvenc", ns)["status"]["phase"] == "Failed"
    assert get(stack, "deployment", "nvenc-process", ns, check=False) is None
    assert get(stack, "job", "nvenc-split", ns, check=False) is None
    assert not exists(stack, "configmap", "nvenc-config", ns)
    assert len(warned()) == 1
