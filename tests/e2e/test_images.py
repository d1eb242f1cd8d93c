"""The container images `make images` builds (localhost/sluice-operator and
localhost/sluice-worker at the VERSION tag), run for real with podman: each
answers --version with the checkout's version, runs as a non-root user, and
carries no build tools; the worker image processes a VideoJob's segments."""
import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import ROOT, run

VERSION = (ROOT / "VERSION").read_text().strip()
# This sandbox refuses podman's default rlimits; a normal host needs none of these.
PODMAN_RUN = ["podman", "--runtime", "runc", "run", "--rm", "--cgroup-manager=cgroupfs",
              "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"]

pytestmark = pytest.mark.skipif(shutil.which("podman") is None,
                                reason="podman is missing (make deps installs it)")


def image(name):
    ref = f"localhost/sluice-{name}:{VERSION}"
    if run(["podman", "image", "exists", ref], check=False).returncode != 0:
        pytest.fail(f"{ref} is not built: run `make images`")
    return ref


@pytest.mark.parametrize("name", ["operator", "worker"])
def test_image_answers_version(name):
    out = run([*PODMAN_RUN, image(name), "--version"]).stdout
    assert out.startswith(f"sluice-{name} {VERSION} ")


@pytest.mark.parametrize("name", ["operator", "worker"])
def test_image_runs_as_non_root_without_build_tools(name):
    ref = image(name)
    assert run([*PODMAN_RUN, "--entrypoint", "id", ref, "-u"]).stdout.strip() == "65532"
    tools = run([*PODMAN_RUN, "--entrypoint", "sh", ref, "-c",
                 "for t in gcc cc make pkg-config apt-get; do command -v $t; done; true"]
                ).stdout.split()
    assert [t for t in tools if not t.endswith("apt-get")] == []


def test_operator_image_has_every_library_it_links():
    out = run([*PODMAN_RUN, "--entrypoint", "ldd", image("operator"),
               "/usr/local/bin/sluice-operator"]).stdout
    assert "not found" not in out


def test_worker_image_has_every_library_it_links():
    out = run([*PODMAN_RUN, "--entrypoint", "ldd", image("worker"),
               "/usr/local/bin/sluice-worker"]).stdout
    assert "not found" not in out


def test_worker_image_processes_segments(stack, unique):
    """The worker image's `process` mode, run by podman on the host network
    (everything listens on 127.0.0.1), takes the tasks `split` published and
    writes the segment files and the per-frame rows."""
    work = pathlib.Path(tempfile.mkdtemp(prefix="sluice-image-"))
    work.chmod(0o777)  # the image runs as user 65532
    try:
        src, out = work / "in.mp4", work / "out" / "out.mp4"
        run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
             "testsrc2=size=320x240:rate=25:duration=4", "-f", "lavfi", "-i",
             "sine=frequency=440:duration=4", "-c:v", "libx264", "-preset", "ultrafast",
             "-g", "25", "-c:a", "aac", "-shortest", str(src)])
        out.parent.mkdir()
        out.parent.chmod(0o777)
        ns = f"img-{unique}"
        cfg = work / "vj.json"
        cfg.write_text(json.dumps({"name": "clip", "namespace": ns, "spec": {
            "source": {"uri": f"file://{src}"}, "output": {"uri": f"file://{out}"},
            "segmentSeconds": 2, "encoder": {"codec": "libx264", "preset": "ultrafast"},
            "kafka": {"bootstrap": stack["KAFKA_BOOTSTRAP"]},
            "sinks": {"postgres": {"dsn": {"name": "pg", "key": "dsn"}},
                      "redis": {"addr": stack["REDIS_ADDR"]}}}}))
        cfg.chmod(0o644)
        env = {**os.environ, "SLUICE_SECRET_PG_DSN": stack["PG_DSN"]}
        run([str(ROOT / "build" / "sluice-worker"), "split", "--config", str(cfg)], env=env)

        name = f"sluice-process-{unique}"
        proc = subprocess.Popen(
            [*PODMAN_RUN, "--name", name, "--network", "host", "-v", f"{work}:{work}",
             "-e", f"SLUICE_SECRET_PG_DSN={stack['PG_DSN']}", "-e", "SLUICE_METRICS_PORT=0",
             image("worker"), "process", "--config", str(cfg)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.time() + 120
            done = ""
            while time.time() < deadline and proc.poll() is None:
                done = run(["psql", stack["PG_DSN"], "-Atc",
                            f"SELECT count(*) FILTER (WHERE state = 'done') || '/' || count(*) "
                            f"FROM video_segments WHERE job = '{ns}/clip'"]).stdout.strip()
                if done == "2/2":
                    break
                time.sleep(0.5)
        finally:
            run(["podman", "stop", "-t", "10", name], check=False)
            output = proc.communicate(timeout=60)[0]
        assert done == "2/2", f"segments done: {done}\n{output[-3000:]}"
        segments = sorted((out.parent / ".out.mp4.segments").glob("seg-*.mp4"))
        assert len(segments) == 2
        frames = run(["psql", stack["PG_DSN"], "-Atc",
                      f"SELECT count(*) FROM video_frames WHERE job = '{ns}/clip'"]).stdout
        assert int(frames) == 100
    finally:
        shutil.rmtree(work, ignore_errors=True)
