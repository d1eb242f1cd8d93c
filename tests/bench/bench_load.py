#!/usr/bin/env python3
"""The loader's Parquet reader against its CSV reader, run by `make bench`.

The same N rows (ts int64, device string, temp and hum double: the telemetry
bench's shape) are written by pyarrow (the virtualenv `scripts/deps.sh pyarrow`
makes) as CSV and as Parquet (snappy, pyarrow's defaults otherwise), and each
is published by `sluice-worker load --key-fields device --as-json` to a fresh
2-partition topic on the stack's Kafka. Prints rows/s of each (wall time of the
load process, which returns once Kafka has acknowledged every message, and its
CPU-seconds), checks each topic holds N messages, and the ratio Parquet/CSV.
The better of two runs of each counts.

Usage: tests/bench/bench_load.py [rows]   (needs build/stack.env with kafka)
"""
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchrefs import ROOT, e2e_lock, load_env, pyarrow_python  # noqa: E402

WORKER = os.environ.get("SLUICE_WORKER", str(ROOT / "build" / "sluice-worker"))
N = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
RUNS = 2

WRITE = r"""
import sys, random
import pyarrow as pa, pyarrow.csv as pc, pyarrow.parquet as pq
n, csv_path, pq_path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
rng = random.Random(7)
t = pa.table({
    "ts": pa.array([1800000000000 + i // 10 for i in range(n)], pa.int64()),
    "device": pa.array([f"d-{rng.randrange(1000)}" for _ in range(n)], pa.string()),
    "temp": pa.array([10 + rng.randrange(120) / 4 for _ in range(n)], pa.float64()),
    "hum": pa.array([rng.randrange(100) + 0.5 for _ in range(n)], pa.float64()),
})
pc.write_csv(t, csv_path, pc.WriteOptions(quoting_style="none"))
pq.write_table(t, pq_path, compression="snappy")
"""


def end_offsets(env, topic):
    out = subprocess.run(["kcat", "-b", env["KAFKA_BOOTSTRAP"], "-Q", "-t", f"{topic}:0:-1",
                          "-t", f"{topic}:1:-1"], check=True, capture_output=True, text=True)
    # "topic [p] offset N"
    return sum(int(line.rsplit(" ", 1)[1]) for line in out.stdout.splitlines()
               if " offset " in line)


def create_topic(env, topic):
    subprocess.run(["java", "-Xmx256m", "-Dlog4j.configuration=file:/dev/null", "-cp",
                    env["KAFKA_LIBS"] + "/*", "org.apache.kafka.tools.TopicCommand",
                    "--bootstrap-server", env["KAFKA_BOOTSTRAP"], "--create", "--topic", topic,
                    "--partitions", "2", "--replication-factor",
                    env.get("KAFKA_BROKERS", "1")], check=True, capture_output=True)


def load(env, path, topic):
    create_topic(env, topic)
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    subprocess.run([WORKER, "load", "--file", str(path), "--topic", topic, "--bootstrap",
                    env["KAFKA_BOOTSTRAP"], "--key-fields", "device", "--as-json",
                    "--log-level", "warn"], check=True)
    dt = time.monotonic() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    got = end_offsets(env, topic)
    if got != N:
        raise SystemExit(f"bench_load: topic {topic} holds {got} messages, wanted {N}")
    return dt, cpu


def main():
    env = load_env()
    if env is None or "KAFKA_BOOTSTRAP" not in env:
        print("bench_load: skipped (no stack: SLUICE_STACK_COMPONENTS=kafka tests/e2e/stack.sh up)")
        return 0
    py = pyarrow_python()
    with tempfile.TemporaryDirectory() as tmp:
        csv, pq = Path(tmp) / "rows.csv", Path(tmp) / "rows.parquet"
        subprocess.run([py, "-c", WRITE, str(N), str(csv), str(pq)], check=True)
        best = {}
        with e2e_lock():
            for r in range(RUNS):
                for kind, path in (("csv", csv), ("parquet", pq)):
                    dt, cpu = load(env, path, f"bench-load-{os.getpid()}-{kind}-{r}")
                    if kind not in best or dt < best[kind][0]:
                        best[kind] = (dt, cpu)
        for kind, path in (("csv", csv), ("parquet", pq)):
            dt, cpu = best[kind]
            print(f"load {kind:8s} ({path.stat().st_size / 1e6:.1f} MB): {N} rows in {dt:.2f} s: "
                  f"{N / dt:.0f} rows/s, {N / max(cpu, 1e-9):.0f} rows per CPU-second "
                  f"(best of {RUNS}; Kafka in, 2 partitions, --as-json)")
        c, p = best["csv"], best["parquet"]
        print(f"parquet / csv: {c[0] / p[0]:.2f} in rows/s, {c[1] / max(p[1], 1e-9):.2f} in rows "
              f"per CPU-second")
    return 0


if __name__ == "__main__":
    sys.exit(main())
