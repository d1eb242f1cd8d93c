"""Shared fixtures for the end-to-end tests.

The tests run against the real servers that tests/e2e/stack.sh started; they
read the stack's env file (SLUICE_STACK_ENV, default build/stack.env) and
judge with independent real clients (kcat, psql, redis-cli, curl, kubectl,
Kafka's own Java tools). Nothing here imports or shares code with Sluice.
"""
import errno
import os
import pathlib
import shlex
import subprocess
import uuid

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
STACK_SH = ROOT / "tests" / "e2e" / "stack.sh"


def load_env(path):
    """Returns the variables the env file exports, as bash sees them."""
    out = subprocess.run(
        ["bash", "-c", f"set -a; . {shlex.quote(str(path))}; env -0"],
        check=True, capture_output=True).stdout
    return dict(item.split("=", 1) for item in out.decode().split("\0") if "=" in item)


@pytest.fixture(scope="session")
def stack():
    path = pathlib.Path(os.environ.get("SLUICE_STACK_ENV", ROOT / "build" / "stack.env"))
    if not path.exists():
        pytest.fail(f"no test stack is up ({path} missing): run `make stack-up` first")
    env = load_env(path)
    env["SLUICE_STACK_ENV"] = str(path)
    return env


def stack_sh(stack, *args, check=True):
    """Runs tests/e2e/stack.sh on the stack under test (stop/start a server)."""
    env = {**os.environ, "SLUICE_STACK_ENV": stack["SLUICE_STACK_ENV"]}
    return run([str(STACK_SH), *args], env=env, check=check, timeout=300)


def run(cmd, env=None, input=None, check=True, timeout=120):
    """Runs a client command; on failure the message carries its output."""
    p = subprocess.run(cmd, env=env, input=input, capture_output=True, text=True,
                       timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, cmd))} exited {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


@pytest.fixture
def unique():
    """A short unique suffix so tests never collide on names."""
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def node(stack):
    """The stack's real node (kubelet + containerd, stack-node.sh), Ready,
    with the project's images in containerd."""
    if "SLUICE_NODE" not in stack:
        pytest.fail("the stack has no node: start it with every component, as root "
                    "(make stack-up)")
    env = {**os.environ, "KUBECONFIG": stack["KUBECONFIG"]}
    run(["kubectl", "wait", "--for=condition=Ready", f"node/{stack['SLUICE_NODE']}",
         "--timeout=60s"], env=env, timeout=90)
    return stack["SLUICE_NODE"]


def container_pid(stack, pod):
    """The host PID of a pod's first container, found through containerd
    (the images have no shell to ask from inside)."""
    cid = pod["status"]["containerStatuses"][0]["containerID"].split("://", 1)[1]
    out = run(["ctr", "-a", stack["CONTAINERD_ADDRESS"], "-n", "k8s.io", "tasks", "ls"]).stdout
    for line in out.splitlines():
        cols = line.split()
        if cols and cols[0] == cid:
            return int(cols[1])
    raise AssertionError(f"no task {cid} in containerd:\n{out}")


def assert_locked_down(stack, pod):
    """The pod's container runs as uid and gid 65532 and cannot write its
    root filesystem: seen from the host, through /proc."""
    proc = pathlib.Path("/proc", str(container_pid(stack, pod)))
    status = (proc / "status").read_text()
    ids = {line.split(":")[0]: line.split()[1] for line in status.splitlines()
           if line.startswith(("Uid:", "Gid:"))}
    assert ids == {"Uid": "65532", "Gid": "65532"}, status
    try:
        (proc / "root" / "written-by-test").open("w").close()
    except OSError as e:
        assert e.errno == errno.EROFS, e
    else:
        raise AssertionError("the container's root filesystem is writable")
