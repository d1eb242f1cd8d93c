"""Helpers the Python benchmarks share (not a benchmark itself: make bench runs
tests/bench/bench_*.py only).

- load_env([path]): the stack's env file (path, else $SLUICE_STACK_ENV, else
  build/stack.env) as a dict;
- e2e_lock(): holds /tmp/sluice-e2e.lock ($SLUICE_E2E_LOCK) while a benchmark
  runs workers on the node or loads Kafka heavily (do not run make bench under
  that lock yourself);
- kafka_stack(): a Kafka-only stack of the benchmark's own (tests/e2e/stack.sh
  with its own TMPDIR and env file), the brokers on the full JIT; its env as a
  dict, taken down on leaving;
- tree_cpu_s(pid): utime + stime of a process and all its descendants;
- ref_python(name): the interpreter of a reference's virtualenv, installed
  by `scripts/deps.sh bench-refs` (cached under $SLUICE_CACHE, keyed by
  version) the first time; a failed install raises, it is never a skip;
- pyarrow_python(): the same for `scripts/deps.sh pyarrow`.
"""
import contextlib
import fcntl
import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCK = os.environ.get("SLUICE_E2E_LOCK", "/tmp/sluice-e2e.lock")


def load_env(path=None):
    path = Path(path or os.environ.get("SLUICE_STACK_ENV", ROOT / "build" / "stack.env"))
    env = {}
    if not path.exists():
        return None
    for line in path.read_text().splitlines():
        if line.startswith("export "):
            for part in shlex.split(line[len("export "):]):
                k, _, v = part.partition("=")
                env[k] = v
    return env


@contextlib.contextmanager
def e2e_lock():
    with open(LOCK, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# The stack's brokers run C1 only by default (quick to start), where Java's
# AES-GCM is never compiled to its intrinsics and TLS moves ~20 MB/s: a TLS
# figure needs the full JIT.
FULL_JIT = "-XX:TieredStopAtLevel=4"


@contextlib.contextmanager
def kafka_stack(jvm_opts=FULL_JIT, brokers=1):
    """Starts a Kafka-only stack of the caller's own (its own TMPDIR and
    SLUICE_STACK_ENV, never the shared stack's), yields its env file as a
    dict, and takes it down on leaving. Raises when it does not start. Only
    its KAFKA_* entries (and SLUICE_STACK_DIR) name servers that run: the
    file names ports for the others too.
    $SLUICE_BENCH_KAFKA_ENV (a stack's env file) uses that stack instead,
    as it is, and leaves it up: for repeated runs while developing."""
    given = os.environ.get("SLUICE_BENCH_KAFKA_ENV")
    if given:
        yield load_env(given)
        return
    tmp = tempfile.mkdtemp(prefix="sluice-bench-kafka-")
    senv = {k: v for k, v in os.environ.items()
            if not k.startswith(("KAFKA", "SLUICE_STACK", "SLUICE_KAFKA"))}
    senv.update(TMPDIR=tmp, SLUICE_STACK_ENV=os.path.join(tmp, "stack.env"),
                SLUICE_STACK_COMPONENTS="kafka", KAFKA_BROKERS=str(brokers),
                SLUICE_KAFKA_JVM_OPTS=jvm_opts)
    stack = str(ROOT / "tests" / "e2e" / "stack.sh")
    try:
        up = subprocess.run([stack, "up"], env=senv, capture_output=True, text=True,
                            timeout=300)
        if up.returncode != 0:
            raise RuntimeError(f"kafka_stack: stack.sh up failed: {up.stderr[-2000:]}")
        yield load_env(senv["SLUICE_STACK_ENV"])
    finally:
        subprocess.run([stack, "down"], env=senv, capture_output=True, timeout=300)
        shutil.rmtree(tmp, ignore_errors=True)


def _stat(pid):
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(f[1]), int(f[11]) + int(f[12])  # ppid, utime + stime (ticks)


def tree_cpu_s(pid):
    """utime + stime, in seconds, of pid and every live descendant."""
    parent, ticks = {}, {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                parent[int(d)], ticks[int(d)] = _stat(d)
            except (OSError, IndexError, ValueError):
                pass
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += ticks.get(p, 0)
        todo.extend(c for c, pp in parent.items() if pp == p)
    return total / os.sysconf("SC_CLK_TCK")


def _versions():
    out = subprocess.run(["bash", "-c", f'. "{ROOT}/scripts/versions.sh"; '
                          'printf "%s\\n" "$SLUICE_CACHE" "$PYSPARK_VERSION" '
                          '"$APACHE_FLINK_VERSION" "$PYARROW_VERSION"'],
                         check=True, capture_output=True, text=True).stdout.split("\n")
    return dict(zip(("cache", "spark", "flink", "pyarrow"), out))


def _ensure(part, python):
    if not Path(python).exists() or not (Path(python).parents[1] / ".complete").exists():
        subprocess.run([str(ROOT / "scripts" / "deps.sh"), part], check=True)
    return python


def ref_python(name):
    """name: 'spark' or 'flink'."""
    v = _versions()
    return _ensure("bench-refs",
                   f"{v['cache']}/venv-bench-refs-{name}-{v[name]}/bin/python")


def pyarrow_python():
    v = _versions()
    return _ensure("pyarrow", f"{v['cache']}/venv-pyarrow-{v['pyarrow']}/bin/python")
