"""stack.sh under bad conditions: a port already taken, a server that dies at
start, a missing tool, a second `up`. Each gives one clear message naming the
cause (and the log to read) and leaves no process behind.

These start small stacks of their own (etcd + Redis), in a temporary
directory, with their own env file, beside the stack under test."""
import os
import pathlib
import socket
import subprocess

import pytest

from conftest import STACK_SH


@pytest.fixture
def own(tmp_path):
    env = {**os.environ,
           "TMPDIR": str(tmp_path),
           "SLUICE_STACK_ENV": str(tmp_path / "stack.env"),
           "SLUICE_STACK_COMPONENTS": "etcd redis",
           "SLUICE_STACK_TIMEOUT": "20"}
    yield tmp_path, env
    subprocess.run([str(STACK_SH), "down"], env=env, capture_output=True, timeout=120)


def stack(env, *args):
    return subprocess.run([str(STACK_SH), *args], env=env, capture_output=True, text=True,
                          timeout=300)


def leftovers(tmp_path, *also):
    """Processes whose command line mentions the test's temporary directory
    (or one of `also`: Redis rewrites its title to 'redis-server ADDR')."""
    out = subprocess.run(["ps", "-ww", "-eo", "pid=,args="], capture_output=True,
                         text=True).stdout
    marks = [str(tmp_path), *also]
    return [l for l in out.splitlines() if any(m in l for m in marks) and "ps -ww" not in l]


def test_port_already_taken(own):
    tmp_path, env = own
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        p = stack({**env, "SLUICE_REDIS_PORT": str(port)}, "up")
    assert p.returncode != 0
    assert f"port {port} (SLUICE_REDIS_PORT) is already in use" in p.stderr
    assert not (tmp_path / "stack.env").exists()
    assert leftovers(tmp_path) == []


def test_server_that_dies_at_start(own):
    tmp_path, env = own
    fake = tmp_path / "fakebin"
    fake.mkdir()
    (fake / "redis-server").write_text("#!/bin/sh\necho 'FATAL: cannot start (injected)' >&2\nexit 1\n")
    (fake / "redis-server").chmod(0o755)
    p = stack({**env, "PATH": f"{fake}:{env['PATH']}"}, "up")
    assert p.returncode != 0
    assert "redis exited during start-up" in p.stderr
    assert "redis.log" in p.stderr                      # names the log to read
    assert "FATAL: cannot start (injected)" in p.stderr  # and shows its tail
    assert "etcd ready" in p.stderr                      # etcd had started ...
    assert leftovers(tmp_path) == []                     # ... and was stopped


def test_missing_tool(own):
    tmp_path, env = own
    # A PATH with every tool of the real one except kcat.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for d in env["PATH"].split(":"):
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            target = os.path.join(d, name)
            if name != "kcat" and os.access(target, os.X_OK) and not (bindir / name).exists():
                (bindir / name).symlink_to(target)
    p = stack({**env, "PATH": str(bindir)}, "up")
    assert p.returncode != 0
    assert "'kcat' not found" in p.stderr
    assert leftovers(tmp_path) == []


def test_second_up_is_refused_and_down_leaves_nothing(own):
    tmp_path, env = own
    p = stack(env, "up")
    assert p.returncode == 0, p.stderr
    assert "etcd ready" in p.stderr and "redis ready" in p.stderr
    redis = "redis-server " + next(l.split("'")[1] for l in
                                   (tmp_path / "stack.env").read_text().splitlines()
                                   if l.startswith("export REDIS_ADDR="))
    assert len(leftovers(tmp_path, redis)) == 2  # etcd and redis
    again = stack(env, "up")
    assert again.returncode != 0 and "a stack is already up" in again.stderr
    st = stack(env, "status")
    assert st.returncode == 0 and st.stdout.count("ready") == 2
    assert stack(env, "down").returncode == 0
    assert leftovers(tmp_path, redis) == []
    assert stack(env, "status").returncode == 3
