"""The container images `make images` builds (localhost/sluice-operator and
localhost/sluice-worker at the VERSION tag), run for real with podman: each is
within its size target, holds exactly its binaries and the shared objects they
load (FROM scratch: no shell, no package manager, no build tools), answers
--version and --help as the non-root user 65532, and the worker's video modes
start its sibling sluice-worker-video; the worker image processes a VideoJob's
segments."""
import functools
import json
import os
import pathlib
import re
import shutil
import subprocess
import tarfile
import tempfile
import time

import pytest

from conftest import ROOT, run

VERSION = (ROOT / "VERSION").read_text().strip()
# This sandbox refuses podman's default rlimits; a normal host needs none of these.
PODMAN_RUN = ["podman", "--runtime", "runc", "run", "--rm", "--cgroup-manager=cgroupfs",
              "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"]
# The targets, in podman's units (MB = 10^6 bytes, as `podman images` shows).
SIZE_TARGET_MB = {"operator": 40, "worker": 250}
BINARIES = {"operator": ["sluice-operator"],
            "worker": ["sluice-worker", "sluice-worker-video", "sluice-dashboard"]}
LIBDIR = "usr/lib/x86_64-linux-gnu/"
# Loaded by the loader itself or by dlopen, so not in the binaries' ldd lists.
EXTRA_LIBS = {"ld-linux-x86-64.so.2", "libgcc_s.so.1"}

pytestmark = pytest.mark.skipif(shutil.which("podman") is None,
                                reason="podman is missing (make deps installs it)")


def image(name):
    ref = f"localhost/sluice-{name}:{VERSION}"
    if run(["podman", "image", "exists", ref], check=False).returncode != 0:
        pytest.fail(f"{ref} is not built: run `make images`")
    return ref


@functools.lru_cache(maxsize=None)
def image_fs(name):
    """The image's file system from `podman export`: ({path: TarInfo}, {path:
    bytes} of the files under etc/)."""
    ref = image(name)
    cid = run(["podman", "create", ref]).stdout.strip()
    try:
        with tempfile.TemporaryFile() as f:
            subprocess.run(["podman", "export", cid], stdout=f, check=True, timeout=120)
            f.seek(0)
            members, etc = {}, {}
            with tarfile.open(fileobj=f) as tar:
                for m in tar:
                    path = m.name.removeprefix("./").removeprefix("/")
                    members[path] = m
                    if path.startswith("etc/") and m.isfile():
                        etc[path] = tar.extractfile(m).read()
            return members, etc
    finally:
        run(["podman", "rm", cid], check=False)


def loaded_objects(name, binary):
    """The shared objects the image's own dynamic loader resolves for a
    binary (ldd's output, with no ldd in the image: LD_TRACE_LOADED_OBJECTS)."""
    out = run([*PODMAN_RUN, "-e", "LD_TRACE_LOADED_OBJECTS=1", "--entrypoint",
               f"/usr/local/bin/{binary}", image(name)]).stdout
    assert "not found" not in out, out
    return re.findall(r"^\s*(\S+) => (\S+)", out, re.M)


@pytest.mark.parametrize("name", ["operator", "worker"])
def test_image_is_within_its_size_target(name):
    size = int(run(["podman", "image", "inspect", "--format", "{{.Size}}", image(name)]
                   ).stdout.strip())
    assert size <= SIZE_TARGET_MB[name] * 10**6, \
        f"sluice-{name}: {size / 1e6:.1f} MB, target {SIZE_TARGET_MB[name]} MB"


@pytest.mark.parametrize("name", ["operator", "worker"])
def test_image_answers_version(name):
    out = run([*PODMAN_RUN, image(name), "--version"]).stdout
    assert out.startswith(f"sluice-{name} {VERSION} ")


@pytest.mark.parametrize("name,binary", [("operator", "sluice-operator"),
                                         ("worker", "sluice-worker"),
                                         ("worker", "sluice-worker-video"),
                                         ("worker", "sluice-dashboard")])
def test_every_binary_starts_in_its_image(name, binary):
    out = run([*PODMAN_RUN, "--entrypoint", f"/usr/local/bin/{binary}", image(name),
               "--help"]).stdout
    assert out.startswith("Usage: ")


def test_worker_image_video_modes_run_sluice_worker_video():
    """sluice-worker execs its sibling for split, process, assemble and
    watch: the message about the missing --config comes from
    sluice-worker-video."""
    for mode in ("split", "process", "assemble", "watch"):
        p = run([*PODMAN_RUN, image("worker"), mode], check=False)
        assert p.returncode != 0
        assert "cannot be started" not in p.stderr, p.stderr
        assert "--config" in p.stderr, p.stderr


@pytest.mark.parametrize("name", ["operator", "worker"])
def test_image_runs_as_non_root(name):
    ref = image(name)
    user = run(["podman", "image", "inspect", "--format", "{{.Config.User}}", ref]).stdout
    assert user.strip() == "65532:65532"
    files, etc = image_fs(name)
    assert any(line.startswith("sluice:x:65532:65532:")
               for line in etc["etc/passwd"].decode().splitlines())
    assert "sluice:x:65532:" in etc["etc/group"].decode().splitlines()
    for b in BINARIES[name]:
        m = files[f"usr/local/bin/{b}"]
        assert m.uid == 0 and m.mode & 0o7777 == 0o755, (b, m.uid, oct(m.mode))


@pytest.mark.parametrize("name", ["operator", "worker"])
def test_image_holds_its_binaries_and_what_they_load_only(name):
    files, _ = image_fs(name)
    for tool in ("bin/sh", "usr/bin/sh", "bin/bash", "usr/bin/apt-get", "usr/bin/dpkg",
                 "usr/bin/gcc", "usr/bin/cc", "usr/bin/make", "usr/bin/pkg-config",
                 "usr/bin/ldd"):
        assert tool not in files, tool
    assert sorted(p for p in files if p.startswith("usr/local/bin/") and files[p].isfile()) == \
        sorted(f"usr/local/bin/{b}" for b in BINARIES[name])
    loaded = set()
    for b in BINARIES[name]:
        for soname, path in loaded_objects(name, b):
            assert path == f"/lib/x86_64-linux-gnu/{soname}" or \
                path == f"/usr/lib/x86_64-linux-gnu/{soname}", (soname, path)
            loaded.add(soname)
    shipped = {p[len(LIBDIR):] for p in files if p.startswith(LIBDIR) and files[p].isfile()}
    assert shipped == loaded | EXTRA_LIBS, \
        f"shipped, not loaded: {sorted(shipped - loaded - EXTRA_LIBS)}; " \
        f"loaded, not shipped: {sorted(loaded | EXTRA_LIBS - shipped)}"
    # TLS: the CA bundle where libcurl, GnuTLS, librdkafka and OpenSSL look.
    assert files["etc/ssl/certs/ca-certificates.crt"].size > 100_000
    assert files["usr/lib/ssl/cert.pem"].linkname == "/etc/ssl/certs/ca-certificates.crt"


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
