"""VideoWatch on the real node: the operator (a host process) runs the
watcher as a pod with the folder's volume, its own ServiceAccount and Role;
the watcher turns files into VideoJobs, which run on the node and succeed.

- files copied in pieces become exactly one VideoJob each, and each
  succeeds;
- the watcher pod deleted and recreated makes no second job for any file;
- a file that is not a video: its VideoJob fails with FFmpeg's reason, and
  the next file still becomes a job that succeeds;
- the history limits delete the oldest finished jobs, and their files are not
  taken again;
- a folder that does not exist: FolderReadable False naming it, True once made;
- an upload with curl becomes a VideoJob that succeeds; a wrong token is 401.

Needs the stack with its node (tests/e2e/stack.sh up) and the images
imported (make images && tests/e2e/stack.sh import).
"""
import json
import os
import pathlib
import subprocess
import tempfile

import pytest

from conftest import ROOT, run
from test_autoscale import WORKER_UID, hostpath_claim, make_clip
from test_operator import Operator, get, kubectl, wait_for

pytestmark = pytest.mark.skipif(
    not (ROOT / "crds" / "videowatches.sluice.dev.yaml").exists(), reason="no VideoWatch CRD")


@pytest.fixture(scope="module")
def watch_op(stack, node):
    kubectl(stack, "apply", "-f", str(ROOT / "crds"))
    kubectl(stack, "wait", "--for=condition=Established", "--timeout=60s",
            "crd/videowatches.sluice.dev", "crd/videojobs.sluice.dev")
    lease_ns = f"vw-lease-{os.getpid()}"
    kubectl(stack, "create", "namespace", lease_ns)
    api = stack["KUBE_APISERVER"].split("://", 1)[1]
    with tempfile.TemporaryDirectory(prefix="sluice-vw-") as d:
        o = Operator(stack, d, lease_ns, name="watch",
                     extra=["--worker-image", stack["SLUICE_WORKER_IMAGE"],
                            "--worker-image-pull-policy", "Never", "--worker-host-network",
                            "--kafka-bootstrap", stack["KAFKA_BOOTSTRAP"],
                            "--postgres-secret", "pg", "--polling-interval", "1s",
                            "--watcher-api-server", api])
        o.start()
        yield o
        o.stop()
        kubectl(stack, "delete", "namespace", lease_ns, "--wait=false", check=False)


@pytest.fixture
def ns(stack, unique):
    name = f"vw-{unique}"
    kubectl(stack, "create", "namespace", name)
    kubectl(stack, "-n", name, "create", "secret", "generic", "pg",
            f"--from-literal=dsn={stack['PG_DSN']}")
    yield name
    kubectl(stack, "delete", "namespace", name, "--wait=false", check=False)


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def watch_manifest(stack, ns, name, directory="incoming", upload_port=None, **extra):
    spec = {"volume": {"mountPath": "/videos", "persistentVolumeClaim": {"claimName": "videos"}},
            "directory": directory, "glob": "*.mp4", "settleSeconds": 2, "rescanSeconds": 2,
            "template": {"output": {"uri": "file:///videos/out/{stem}.mp4"},
                         "segmentSeconds": 2,
                         "encoder": {"codec": "libx264", "preset": "ultrafast", "crf": 30},
                         "kafka": {"bootstrap": stack["KAFKA_BOOTSTRAP"]},
                         "workers": {"minReplicas": 0, "maxReplicas": 2, "lagThreshold": 1}},
            **extra}
    if upload_port is not None:
        spec["upload"] = {"token": {"name": "upload", "key": "token"}, "port": upload_port,
                          "maxBytes": 64 << 20}
    return {"apiVersion": "sluice.dev/v1alpha1", "kind": "VideoWatch",
            "metadata": {"name": name, "namespace": ns}, "spec": spec}


def jobs_of(stack, ns, watch):
    out = kubectl(stack, "-n", ns, "get", "videojobs", "-l", f"sluice.dev/videowatch={watch}",
                  "-o", "json").stdout
    return {j["metadata"]["annotations"]["sluice.dev/source-file"]: j
            for j in json.loads(out)["items"]}


def phase(job):
    return job.get("status", {}).get("phase")


def copy_slowly(src, dst, pieces=4):
    """Writes dst in pieces, as a copy over a slow link does. (That a file
    still growing is not taken is judged by test_watcher.py, which holds the
    watcher's scans between the pieces.)"""
    data = src.read_bytes()
    step = len(data) // pieces + 1
    with open(dst, "wb") as f:
        for i in range(0, len(data), step):
            f.write(data[i:i + step])
            f.flush()
            os.fsync(f.fileno())
    os.chown(dst, WORKER_UID, WORKER_UID)


def watcher_ready(stack, ns, name):
    w = get(stack, "videowatch", name, ns) or {}
    conds = {c["type"]: c for c in w.get("status", {}).get("conditions", [])}
    return conds.get("Ready", {}).get("status") == "True" and w


def test_files_become_one_videojob_each_and_succeed(stack, watch_op, ns, tmp_path):
    vol = hostpath_claim(stack, ns, "videos")
    for d in ("incoming", "out"):
        (vol / d).mkdir()
        os.chown(vol / d, WORKER_UID, WORKER_UID)
    kubectl(stack, "apply", "-f", "-",
            input=json.dumps(watch_manifest(stack, ns, "cam", successfulJobsHistoryLimit=1)))
    wait_for("the watcher Ready", lambda: watcher_ready(stack, ns, "cam"), timeout=120)

    clip = tmp_path / "clip.mp4"
    make_clip(clip, 4)
    copy_slowly(clip, vol / "incoming" / "a.mp4")
    (vol / "incoming" / "notes.txt").write_text("not matched by the glob")
    wait_for("a's VideoJob", lambda: "a.mp4" in jobs_of(stack, ns, "cam"), timeout=60)
    wait_for("a's VideoJob to succeed",
             lambda: phase(jobs_of(stack, ns, "cam")["a.mp4"]) == "Succeeded", timeout=240)
    out = run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
               "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0",
               str(vol / "out" / "a.mp4")]).stdout.strip()
    assert int(out) == 100

    # Not a video: its job fails with FFmpeg's reason; the watcher goes on.
    (vol / "incoming" / "broken.mp4").write_bytes(b"this is not a video file at all\n" * 100)
    os.chown(vol / "incoming" / "broken.mp4", WORKER_UID, WORKER_UID)
    wait_for("broken's VideoJob to fail",
             lambda: phase(jobs_of(stack, ns, "cam").get("broken.mp4", {})) == "Failed",
             timeout=120)
    failed = jobs_of(stack, ns, "cam")["broken.mp4"]
    msgs = " ".join(c.get("message", "") for c in failed["status"].get("conditions", []))
    assert "Invalid data found when processing input" in msgs, failed["status"]

    # The watcher restarted: nothing taken twice.
    kubectl(stack, "-n", ns, "delete", "pod", "-l", "sluice.dev/videowatch=cam")
    wait_for("the watcher Ready again", lambda: watcher_ready(stack, ns, "cam"), timeout=120)
    copy_slowly(clip, vol / "incoming" / "b.mp4")
    wait_for("b's VideoJob to succeed",
             lambda: phase(jobs_of(stack, ns, "cam").get("b.mp4", {})) == "Succeeded",
             timeout=240)
    w = get(stack, "videowatch", "cam", ns)
    assert w["status"]["watcher"]["jobsCreated"] == 3, w["status"]
    assert w["status"]["watcher"]["filesSeen"] == 3, w["status"]
    # History: one succeeded job kept (b's, the newest); a's deleted and not made again.
    wait_for("a's job deleted by the history limit",
             lambda: set(jobs_of(stack, ns, "cam")) == {"b.mp4", "broken.mp4"}, timeout=60)
    st = wait_for("the counts", lambda: (lambda s: s.get("succeeded") == 1 and s.get("failed")
                                         == 1 and s.get("active") == 0 and s)(
        get(stack, "videowatch", "cam", ns)["status"]), timeout=30)
    assert st["watcher"]["jobsCreated"] == 3
    assert (vol / "incoming" / ".sluice" / "cam" / "a.mp4").exists()


def test_missing_folder_is_a_false_condition_until_made(stack, watch_op, ns):
    vol = hostpath_claim(stack, ns, "videos")
    kubectl(stack, "apply", "-f", "-",
            input=json.dumps(watch_manifest(stack, ns, "later", directory="not/yet")))

    def folder(status_want):
        w = get(stack, "videowatch", "later", ns) or {}
        conds = {c["type"]: c for c in w.get("status", {}).get("conditions", [])}
        c = conds.get("FolderReadable", {})
        return c.get("status") == status_want and c

    c = wait_for("FolderReadable False", lambda: folder("False"), timeout=120)
    assert "/videos/not/yet" in c["message"], c
    (vol / "not" / "yet").mkdir(parents=True)
    os.chown(vol / "not", WORKER_UID, WORKER_UID)
    os.chown(vol / "not" / "yet", WORKER_UID, WORKER_UID)
    wait_for("FolderReadable True", lambda: folder("True"), timeout=60)


def test_upload_with_curl_becomes_a_videojob(stack, watch_op, ns, tmp_path):
    vol = hostpath_claim(stack, ns, "videos")
    for d in ("incoming", "out"):
        (vol / d).mkdir()
        os.chown(vol / d, WORKER_UID, WORKER_UID)
    kubectl(stack, "-n", ns, "create", "secret", "generic", "upload",
            "--from-literal=token=s3cret-token")
    port = free_port()
    kubectl(stack, "apply", "-f", "-",
            input=json.dumps(watch_manifest(stack, ns, "up", upload_port=port)))
    w = wait_for("the watcher Ready", lambda: watcher_ready(stack, ns, "up"), timeout=120)
    url = wait_for("the upload URL", lambda: (get(stack, "videowatch", "up", ns)["status"]
                                               .get("watcher", {}).get("uploadURL")), timeout=30)
    assert url.endswith(f":{port}/uploads"), w
    clip = tmp_path / "movie.mp4"
    make_clip(clip, 4)

    bad = run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-T", str(clip), "-H",
               "Authorization: Bearer wrong", url + "/"], check=False).stdout
    assert bad == "401"
    r = run(["curl", "-sS", "-f", "-T", str(clip), "-H", "Authorization: Bearer s3cret-token",
             url + "/"])
    answer = json.loads(r.stdout)
    assert answer["namespace"] == ns
    name = answer["videoJob"]
    wait_for("the uploaded file's job to succeed",
             lambda: phase(get(stack, "vj", name, ns) or {}) == "Succeeded", timeout=240)
    assert (vol / "incoming" / "movie.mp4").stat().st_size == clip.stat().st_size
    assert list(jobs_of(stack, ns, "up")) == ["movie.mp4"]
