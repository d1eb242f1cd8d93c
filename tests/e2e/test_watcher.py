"""The VideoWatch watcher (`sluice-worker-video watch`) as a host process
against the stack's real API server, on a temporary folder:

- files copied slowly (written in pieces, the watcher scanning between
  them) become exactly one VideoJob each, and only once complete; names the
  glob leaves out, and dot files, none;
- a restarted watcher creates none twice, also for a file whose marker was
  lost (the API's 409 AlreadyExists means taken), and counts on from the
  status it wrote;
- two watchers at once create none twice;
- a missing folder shows in status.watcher.folderError, and the watcher
  takes files once the folder is made;
- uploads with curl: a video is 201 and its VideoJob exists; a wrong token
  401; over maxBytes 413; not a video 415 with FFmpeg's reason; a client
  killed halfway (python socket, half the Content-Length) -- none of these
  leaves a file.

Judged with kubectl, curl and the folder itself. SLUICE_WORKER_VIDEO names
the binary (default build/sluice-worker-video).

Needs: the stack's API server (tests/e2e/stack.sh up), ffmpeg.
"""
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import urllib.error
import urllib.request

import pytest

from conftest import ROOT, run
from test_operator import kubectl, wait_for

WATCHER = pathlib.Path(os.environ.get("SLUICE_WORKER_VIDEO",
                                      ROOT / "build" / "sluice-worker-video"))
TOKEN = "e2e-upload-token"
LABEL = "sluice.dev/videowatch"

pytestmark = pytest.mark.skipif(
    not (ROOT / "crds" / "videowatches.sluice.dev.yaml").exists(), reason="no VideoWatch CRD")


@pytest.fixture(scope="module")
def crds(stack):
    kubectl(stack, "apply", "-f", str(ROOT / "crds" / "videojobs.sluice.dev.yaml"),
            "-f", str(ROOT / "crds" / "videowatches.sluice.dev.yaml"))
    kubectl(stack, "wait", "--for=condition=Established", "--timeout=60s",
            "crd/videowatches.sluice.dev", "crd/videojobs.sluice.dev")


@pytest.fixture
def ns(stack, crds, unique):
    name = f"vwh-{unique}"
    kubectl(stack, "create", "namespace", name)
    yield name
    kubectl(stack, "delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A two-second H.264 MP4, its index (moov) at the end as ffmpeg writes it."""
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
         "-i", "testsrc2=size=320x240:rate=25:duration=2", "-c:v", "libx264",
         "-preset", "veryfast", "-pix_fmt", "yuv420p", str(path)], timeout=120)
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_watch(stack, ns, name, mount, directory="incoming", settle=2, rescan=2,
               upload=None):
    """Creates the VideoWatch in the API server and returns it as the API
    has it (with its uid): the watcher's config file."""
    spec = {
        "volume": {"mountPath": str(mount), "hostPath": {"path": str(mount)}},
        "directory": directory,
        "glob": "*.mp4",
        "settleSeconds": settle,
        "rescanSeconds": rescan,
        "template": {"output": {"uri": f"file://{mount}/out/{{stem}}.mkv"},
                     "kafka": {"bootstrap": stack["KAFKA_BOOTSTRAP"]}},
    }
    if upload is not None:
        spec["upload"] = {"token": {"name": "upload", "key": "token"}, **upload}
    doc = {"apiVersion": "sluice.dev/v1alpha1", "kind": "VideoWatch",
           "metadata": {"name": name, "namespace": ns}, "spec": spec}
    kubectl(stack, "apply", "-f", "-", input=json.dumps(doc))
    return json.loads(kubectl(stack, "get", "videowatch", name, "-n", ns, "-o", "json").stdout)


class Watcher:
    """sluice-worker-video watch as a host process (--kubeconfig)."""

    def __init__(self, stack, obj, workdir, tag="w"):
        self.stack = stack
        self.config = pathlib.Path(workdir) / f"{tag}-config.json"
        self.config.write_text(json.dumps(obj))
        self.log = pathlib.Path(workdir) / f"{tag}.log"
        self.proc = None
        self.port = None

    def start(self):
        assert WATCHER.exists(), f"{WATCHER} is not built"
        env = {**os.environ, "SLUICE_UPLOAD_TOKEN": TOKEN}
        env.pop("POD_IP", None)
        self.proc = subprocess.Popen(
            [str(WATCHER), "watch", "--config", str(self.config), "--kubeconfig",
             self.stack["KUBECONFIG"], "--metrics-port", "0", "--log-level", "debug"],
            stdout=subprocess.DEVNULL, stderr=open(self.log, "w"), env=env)
        self.port = wait_for("the watcher's endpoint", self._port, timeout=15)
        wait_for("the watcher's first scan", lambda: self.http("/readyz")[0] == 200,
                 timeout=30)
        return self

    def _port(self):
        assert self.proc.poll() is None, f"watcher exited {self.proc.returncode}:\n{self.logs()}"
        m = re.search(r'"msg":"http endpoint listening".*?"port":"(\d+)"', self.logs())
        return int(m.group(1)) if m else None

    def http(self, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def metric(self, name):
        m = re.search(rf"^{re.escape(name)} (\S+)$", self.http("/metrics")[1], re.M)
        return float(m.group(1)) if m else 0.0

    def scans(self):
        return self.metric("sluice_watch_scans_total")

    def wait_scans(self, n=1):
        """Waits until the watcher has listed the folder n more times."""
        start = self.scans()
        wait_for(f"{n} more scans", lambda: self.scans() >= start + n, timeout=30)

    def logs(self):
        return self.log.read_text() if self.log.exists() else ""

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            assert self.proc.wait(timeout=30) == 0, self.logs()
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise


@pytest.fixture
def watchers():
    started = []
    yield started
    for w in started:
        w.stop()


def jobs_of(stack, ns, watch):
    out = kubectl(stack, "get", "videojobs", "-n", ns, "-l", f"{LABEL}={watch}",
                  "-o", "json").stdout
    return json.loads(out)["items"]


def files_of(stack, ns, watch):
    """The source file of each of the watch's VideoJobs, sorted (repeats kept)."""
    return sorted(j["metadata"]["annotations"]["sluice.dev/source-file"]
                  for j in jobs_of(stack, ns, watch))


def watcher_status(stack, ns, watch):
    obj = json.loads(kubectl(stack, "get", "videowatch", watch, "-n", ns, "-o", "json").stdout)
    return obj.get("status", {}).get("watcher", {})


def copy_slowly(src, dst, watcher, pieces=4):
    """Writes src to dst in pieces; after each the watcher scans the folder
    at least once, and no job may exist for the partial file then."""
    data = pathlib.Path(src).read_bytes()
    step = len(data) // pieces + 1
    with open(dst, "wb") as f:
        for i in range(0, len(data), step):
            f.write(data[i:i + step])
            f.flush()
            watcher.wait_scans(1)


def test_files_copied_slowly_become_one_videojob_each(stack, ns, clip, tmp_path, watchers):
    mount = tmp_path / "vol"
    folder = mount / "incoming"
    folder.mkdir(parents=True)
    w = Watcher(stack, make_watch(stack, ns, "cam", mount, settle=3, rescan=5), tmp_path)
    watchers.append(w.start())
    (folder / "notes.txt").write_text("not for the watch\n")
    (folder / ".hidden.mp4").write_bytes(clip.read_bytes())
    names = ["a.mp4", "b.mp4", "c.mp4"]
    for n in names:
        copy_slowly(clip, folder / n, w)
        # Still being written a moment ago: not taken yet.
        assert n not in files_of(stack, ns, "cam"), f"{n} taken while being written"
    wait_for("a job per file", lambda: files_of(stack, ns, "cam") == names, timeout=60)
    # Each job names its file and the folder's volume; its marker holds its name.
    for job in jobs_of(stack, ns, "cam"):
        f = job["metadata"]["annotations"]["sluice.dev/source-file"]
        assert job["spec"]["source"]["uri"] == f"file://{folder}/{f}"
        assert job["spec"]["volume"]["mountPath"] == str(mount)
        assert job["metadata"]["ownerReferences"][0]["kind"] == "VideoWatch"
        marker = folder / ".sluice" / "cam" / f
        assert marker.read_text() == job["metadata"]["name"]
    # Nothing more on later scans (inotify is quiet now: rescans alone).
    w.wait_scans(2)
    assert files_of(stack, ns, "cam") == names
    st = wait_for("the status", lambda: (lambda s: s if s.get("jobsCreated") == 3 else None)(
        watcher_status(stack, ns, "cam")), timeout=30)
    assert st["filesSeen"] == 3 and st["filesRejected"] == 0
    assert st["folderError"] == ""
    assert st["lastFile"] in names and st["lastJob"].startswith("cam-")
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", st["lastScanTime"])
    assert st["uploadURL"] == ""
    assert w.metric("sluice_watch_jobs_created_total") == 3


def test_restarted_watcher_creates_none_twice(stack, ns, clip, tmp_path, watchers):
    mount = tmp_path / "vol"
    folder = mount / "incoming"
    folder.mkdir(parents=True)
    obj = make_watch(stack, ns, "cam", mount, settle=1, rescan=1)
    w = Watcher(stack, obj, tmp_path, "first").start()
    watchers.append(w)
    for n in ["a.mp4", "b.mp4"]:
        shutil.copy(clip, folder / n)
    wait_for("two jobs", lambda: files_of(stack, ns, "cam") == ["a.mp4", "b.mp4"], timeout=60)
    wait_for("jobsCreated 2", lambda: watcher_status(stack, ns, "cam").get("jobsCreated") == 2,
             timeout=30)
    w.stop()
    # A crash between the job and its marker: the marker of b is lost.
    (folder / ".sluice" / "cam" / "b.mp4").unlink()
    w2 = Watcher(stack, obj, tmp_path, "second").start()
    watchers.append(w2)
    wait_for("b's marker again", (folder / ".sluice" / "cam" / "b.mp4").exists, timeout=30)
    w2.wait_scans(3)
    assert files_of(stack, ns, "cam") == ["a.mp4", "b.mp4"]
    assert w2.metric("sluice_watch_jobs_created_total") == 0
    # Counts go on from the status the first one wrote.
    st = watcher_status(stack, ns, "cam")
    assert st["jobsCreated"] == 2, st
    # A new file after the restart is taken as ever.
    shutil.copy(clip, folder / "c.mp4")
    wait_for("c's job", lambda: files_of(stack, ns, "cam") == ["a.mp4", "b.mp4", "c.mp4"],
             timeout=60)
    wait_for("jobsCreated 3", lambda: watcher_status(stack, ns, "cam").get("jobsCreated") == 3,
             timeout=30)


def test_two_watchers_at_once_create_none_twice(stack, ns, clip, tmp_path, watchers):
    mount = tmp_path / "vol"
    folder = mount / "incoming"
    folder.mkdir(parents=True)
    obj = make_watch(stack, ns, "cam", mount, settle=0, rescan=1)
    one = Watcher(stack, obj, tmp_path, "one").start()
    two = Watcher(stack, obj, tmp_path, "two").start()
    watchers.extend([one, two])
    names = [f"f{i}.mp4" for i in range(8)]
    for n in names:
        # Whole at once (written aside, renamed in): both may take it at once.
        tmp = folder / f".part-{n}"
        shutil.copy(clip, tmp)
        tmp.rename(folder / n)
    wait_for("a job per file", lambda: files_of(stack, ns, "cam") == names, timeout=60)
    one.wait_scans(2)
    two.wait_scans(2)
    assert files_of(stack, ns, "cam") == names
    created = (one.metric("sluice_watch_jobs_created_total") +
               two.metric("sluice_watch_jobs_created_total"))
    assert created == len(names)
    assert sorted(os.listdir(folder / ".sluice" / "cam")) == names


def test_missing_folder_is_reported_then_watched(stack, ns, clip, tmp_path, watchers):
    mount = tmp_path / "vol"
    mount.mkdir()
    folder = mount / "incoming"
    w = Watcher(stack, make_watch(stack, ns, "cam", mount, settle=1, rescan=1), tmp_path)
    watchers.append(w.start())
    st = wait_for("folderError", lambda: watcher_status(stack, ns, "cam").get("folderError"),
                  timeout=30)
    assert st == f"{folder}: No such file or directory"
    assert w.metric("sluice_watch_folder_ok") == 0
    folder.mkdir()
    shutil.copy(clip, folder / "late.mp4")
    wait_for("late's job", lambda: files_of(stack, ns, "cam") == ["late.mp4"], timeout=60)
    wait_for("folderError cleared",
             lambda: watcher_status(stack, ns, "cam").get("folderError") == "", timeout=30)
    assert w.metric("sluice_watch_folder_ok") == 1


def curl_put(url, path, token=TOKEN, name=""):
    """curl -T as a user would (Expect: 100-continue for big bodies);
    returns (status, body)."""
    args = ["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "-T", str(path)]
    if token is not None:
        args += ["-H", f"Authorization: Bearer {token}"]
    p = run([*args, f"{url}/{name}"], check=False, timeout=60)
    body, _, code = p.stdout.rpartition("\n")
    return int(code), body


def leftovers(folder):
    """Everything in the folder but the markers' .sluice."""
    return sorted(f for f in os.listdir(folder) if f != ".sluice")


def test_uploads(stack, ns, clip, tmp_path, watchers):
    mount = tmp_path / "vol"
    folder = mount / "incoming"
    folder.mkdir(parents=True)
    port = free_port()
    obj = make_watch(stack, ns, "up", mount, settle=30, rescan=1,
                     upload={"port": port, "maxBytes": 1 << 20})
    w = Watcher(stack, obj, tmp_path)
    watchers.append(w.start())
    url = f"http://127.0.0.1:{port}/uploads"
    wait_for("uploadURL", lambda: watcher_status(stack, ns, "up").get("uploadURL") == url,
             timeout=30)

    # A video: 201, its job at once (no settle wait), the file in place.
    code, body = curl_put(url, clip)
    assert code == 201, body
    reply = json.loads(body)
    assert reply["file"] == "clip.mp4" and reply["namespace"] == ns
    assert reply["url"] == f"/apis/sluice.dev/v1alpha1/namespaces/{ns}/videojobs/{reply['videoJob']}"
    job = json.loads(kubectl(stack, "get", "videojob", reply["videoJob"], "-n", ns,
                             "-o", "json").stdout)
    assert job["metadata"]["annotations"]["sluice.dev/source-file"] == "clip.mp4"
    assert (folder / "clip.mp4").read_bytes() == clip.read_bytes()
    assert leftovers(folder) == ["clip.mp4"]
    # Again: the name is taken.
    code, body = curl_put(url, clip)
    assert code == 409, body

    # A wrong token, none: 401, nothing stored.
    code, body = curl_put(url, clip, token="wrong", name="x.mp4")
    assert code == 401, body
    code, body = curl_put(url, clip, token=None, name="x.mp4")
    assert code == 401, body

    # Over maxBytes (1 MiB): 413, by Content-Length before the body, and
    # streamed (chunked, no length) once it grows past.
    big = tmp_path / "big.mp4"
    big.write_bytes(clip.read_bytes() + os.urandom((1 << 20) + 1))
    code, body = curl_put(url, big)
    assert code == 413 and "spec.upload.maxBytes" in body, body
    p = run(["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "-H",
             f"Authorization: Bearer {TOKEN}", "-H", "Transfer-Encoding: chunked",
             "--data-binary", f"@{big}", "-X", "PUT", f"{url}/chunked.mp4"], check=False)
    assert p.stdout.rpartition("\n")[2] == "413", p.stdout + p.stderr

    # Not a video: 415 with FFmpeg's reason.
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 1000)
    code, body = curl_put(url, text)
    assert code == 415, body
    assert "Invalid data found when processing input" in body

    # A name outside the glob: 400 naming it.
    code, body = curl_put(url, clip, name="clip.mov")
    assert code == 400 and '"*.mp4"' in body, body

    # A client killed halfway: half the Content-Length sent, then gone.
    data = clip.read_bytes()
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(f"PUT /uploads/half.mp4 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
              f"Content-Length: {len(data)}\r\n\r\n".encode())
    s.sendall(data[:len(data) // 2])
    wait_for("the partial upload", lambda: any(f.startswith(".upload-half.mp4-")
                                               for f in os.listdir(folder)), timeout=10)
    s.close()
    wait_for("the partial upload gone", lambda: leftovers(folder) == ["clip.mp4"], timeout=30)

    # One job in all, for the one video.
    assert files_of(stack, ns, "up") == ["clip.mp4"]
    wait_for("the counts", lambda: watcher_status(stack, ns, "up").get("jobsCreated") == 1,
             timeout=30)
    metrics = w.http("/metrics")[1]
    for result, n in [("ok", 1), ("exists", 1), ("unauthorized", 2), ("too_large", 2),
                      ("not_video", 1), ("bad_request", 1), ("aborted", 1)]:
        assert f'sluice_watch_uploads_total{{result="{result}"}} {n}' in metrics, metrics
