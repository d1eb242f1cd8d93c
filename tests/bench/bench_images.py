#!/usr/bin/env python3
"""bench_images: the container images' sizes against the issue's targets
(sluice-operator <= 40 MB, sluice-worker <= 250 MB, in podman's units:
MB = 10^6 bytes, `podman image inspect --format {{.Size}}`).

Builds the images first with scripts/images.sh (`make images`), which does
nothing when they are up to date with the checkout, so that the figures are
this checkout's. For each image prints its size, the ratio to its target,
how many shared objects it carries and the largest files. Prints a line and
exits 0 when podman is missing. Run by `make bench`.
"""
import os
import pathlib
import shutil
import subprocess
import sys
import tarfile
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
VERSION = (ROOT / "VERSION").read_text().strip()
TARGET_MB = {"operator": 40, "worker": 250}
LIBDIR = "usr/lib/x86_64-linux-gnu/"


def files_of(ref):
    """[(size, path)] of the regular files in the image, from `podman export`."""
    cid = subprocess.run(["podman", "create", ref], check=True, capture_output=True,
                         text=True).stdout.strip()
    try:
        with tempfile.TemporaryFile() as f:
            subprocess.run(["podman", "export", cid], stdout=f, check=True, timeout=300)
            f.seek(0)
            with tarfile.open(fileobj=f) as tar:
                return [(m.size, m.name.removeprefix("./").removeprefix("/"))
                        for m in tar if m.isfile()]
    finally:
        subprocess.run(["podman", "rm", cid], capture_output=True)


def main():
    if shutil.which("podman") is None:
        print("bench_images: skipped: no images (podman is missing: make deps installs it)")
        return 0
    r = subprocess.run([str(ROOT / "scripts" / "images.sh")], capture_output=True, text=True,
                       env={**os.environ, "SLUICE_IMAGES": "operator worker"})
    if r.returncode != 0:
        print(f"bench_images: `make images` failed:\n{r.stderr.strip()}")
        return 1
    for name, target in TARGET_MB.items():
        ref = f"localhost/sluice-{name}:{VERSION}"
        size = int(subprocess.run(["podman", "image", "inspect", "--format", "{{.Size}}", ref],
                                  check=True, capture_output=True, text=True).stdout.strip())
        files = files_of(ref)
        libs = [f for f in files if f[1].startswith(LIBDIR)]
        print(f"sluice-{name} image: {size / 1e6:.1f} MB, {size / 1e6 / target:.2f} of the "
              f"{target} MB target; {len(libs)} shared objects, "
              f"{sum(s for s, _ in libs) / 1e6:.1f} MB")
        top = ", ".join(f"{p.rsplit('/', 1)[-1]} {s / 1e6:.1f}"
                        for s, p in sorted(files, reverse=True)[:5])
        print(f"  largest files (MB): {top}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
