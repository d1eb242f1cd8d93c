"""The container images `make images` builds (localhost/sluice-operator and
localhost/sluice-worker at the VERSION tag), run for real with podman: each
answers --version with the checkout's version, runs as a non-root user, and
carries no build tools."""
import shutil

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
