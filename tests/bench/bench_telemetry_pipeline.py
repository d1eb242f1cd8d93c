#!/usr/bin/env python3
"""End-to-end telemetry benchmark, run by `make bench` when the stack is up.

1. Publishes 1,000,000 JSON events to a fresh 2-partition topic with kcat
   (the shape bench_tw_hot.c parses: 1000 devices, 10,000 events per second
   of event time, every 100th message a redelivery).
2. Starts one `sluice-worker telemetry` with every sink (PostgreSQL, Redis,
   InfluxDB windows), window 10 s, watermark delay 2 s, dedupe, all
   aggregations, and times it from start until it has read every event
   (the sinks keep up or the worker pauses, so this is the rate of
   Kafka in -> sinks out). Its peak RSS (VmHWM) is read from /proc.
   A warm-up run, then three runs, each on a fresh copy of the topic; the
   median one counts.
3. Runs the same windowed aggregation on Apache Spark Structured Streaming
   (pyspark, local[2], the same events as a JSON-lines file source, the same
   window, watermark, dedupe on (device, ts) and aggregations, with the
   `noop` sink and an availableNow trigger), timed from the query's start.
4. Prints events/s, RSS, and the ratios to the issue's targets.

Usage: tests/bench/bench_telemetry_pipeline.py [events]   (needs build/stack.env: kafka,
postgres, redis, influxdb; Spark is skipped when pyspark is not installed:
`pip install pyspark`).
"""
import json
import os
import random
import shlex
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORKER = os.environ.get("SLUICE_WORKER", str(ROOT / "build" / "sluice-worker"))
N = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
BASE_MS = 1_800_000_000_000
RSS_TARGET_MB = 64
RATIO_TARGET = 10
RUNS = 3


def load_env():
    path = Path(os.environ.get("SLUICE_STACK_ENV", ROOT / "build" / "stack.env"))
    env = {}
    if not path.exists():
        return None
    for line in path.read_text().splitlines():
        if line.startswith("export "):
            for part in shlex.split(line[len("export "):]):
                k, _, v = part.partition("=")
                env[k] = v
    return env


def generate(path):
    rng = random.Random(7)
    lines = []
    with open(path, "w") as f:
        for i in range(N):
            if i > 100 and i % 100 == 0:
                line = lines[i - 1 - rng.randrange(100)]
            else:
                line = json.dumps({"ts": BASE_MS + i // 10, "device": f"d-{rng.randrange(1000)}",
                                   "temp": 10 + rng.randrange(120) / 4,
                                   "hum": rng.randrange(100) + 0.5}, separators=(",", ":"))
            lines.append(line)
            key = json.loads(line)["device"]
            f.write(f"{key}\t{line}\n")


def kafka_tool(env, cls, *args):
    subprocess.run(["java", "-Xmx256m", "-Dlog4j.configuration=file:/dev/null", "-cp",
                    env["KAFKA_LIBS"] + "/*", cls, "--bootstrap-server", env["KAFKA_BOOTSTRAP"],
                    *args], check=True, capture_output=True)


def metrics(port):
    out = {}
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
    return out


def cpu_s(pid):
    """User + system CPU seconds of pid so far (all its threads)."""
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def vm_hwm_mb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_sluice(env, tmp, topic, events_file):
    name = topic
    spec = {"apiVersion": "sluice.dev/v1alpha1", "kind": "TelemetryWindow",
            "metadata": {"name": name, "namespace": "bench"},
            "spec": {"kafka": {"bootstrap": env["KAFKA_BOOTSTRAP"], "topic": topic},
                     "fields": {"timestamp": "ts", "timestampFormat": "epoch_ms",
                                "keys": ["device"], "values": ["temp", "hum"]},
                     "window": {"size": "10s", "watermarkDelay": "2s"},
                     "sinks": {"postgres": {"dsn": {"name": "pg", "key": "dsn"},
                                            "table": "bench_windows"},
                               "redis": {"addr": env["REDIS_ADDR"]},
                               "influxdb": {"url": env["INFLUX_URL"],
                                            "database": env["INFLUX_DB"]}}}}
    path = Path(tmp) / "spec.json"
    path.write_text(json.dumps(spec))
    wenv = {**os.environ, "SLUICE_SECRET_PG_DSN": env["PG_DSN"],
            "SLUICE_STATUS_REDIS": env["REDIS_ADDR"]}
    log = open(Path(tmp) / "worker.log", "w")
    t0 = time.monotonic()
    p = subprocess.Popen([WORKER, "telemetry", "--config", str(path), "--metrics-port", "0",
                          "--log-level", "info"], stdout=subprocess.DEVNULL, stderr=log,
                         env=wenv)
    port = None
    try:
        # The worker logs its endpoint's port (--metrics-port 0: any free one).
        deadline = time.monotonic() + 30
        while port is None and time.monotonic() < deadline and p.poll() is None:
            for line in (Path(tmp) / "worker.log").read_text().splitlines():
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if rec.get("msg") == "http endpoint listening":
                    port = int(rec["port"])
            time.sleep(0.05)
        assert port, "no metrics port"
        deadline = time.monotonic() + 900
        seen, first = 0, None
        while time.monotonic() < deadline:
            try:
                seen = metrics(port).get("sluice_tw_events_in_total", 0)
            except OSError:
                pass
            if seen > 0 and first is None:
                # The group join (the broker's initial rebalance delay, 3 s)
                # is start-up, not throughput.
                first = (time.monotonic(), seen, cpu_s(p.pid))
            if seen >= N:
                break
            if p.poll() is not None:
                raise RuntimeError(f"worker exited {p.returncode}")
            # The worker syncs its counters every 20 ms: the run's ends
            # are each known to about that.
            time.sleep(0.02)
        t_end = time.monotonic()
        dt = t_end - first[0]
        startup = first[0] - t0
        counted = N - first[1]
        rss = vm_hwm_mb(p.pid)
        cpu = cpu_s(p.pid) - first[2]
        m = metrics(port)
    finally:
        p.terminate()
        p.wait(timeout=60)
        log.close()
    return counted / dt, counted / max(cpu, 1e-9), startup, rss, m


def run_spark(tmp, events_file):
    try:
        import pyspark  # noqa: F401
        from pyspark.sql import SparkSession, functions as F
        from pyspark.sql.types import (DoubleType, LongType, StringType, StructField,
                                       StructType)
    except ImportError:
        return None
    src = Path(tmp) / "spark-in"
    src.mkdir()
    with open(events_file) as f, open(src / "events.json", "w") as out:
        for line in f:
            out.write(line.split("\t", 1)[1])
    # Loopback only: Spark would otherwise bind its driver to the host's
    # first non-loopback address.
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    spark = (SparkSession.builder.master("local[2]").appName("sluice-bench")
             .config("spark.driver.bindAddress", "127.0.0.1")
             .config("spark.driver.host", "127.0.0.1")
             .config("spark.sql.shuffle.partitions", "2")
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.driver.memory", "1g").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    schema = StructType([StructField("ts", LongType()), StructField("device", StringType()),
                         StructField("temp", DoubleType()), StructField("hum", DoubleType())])
    df = (spark.readStream.schema(schema).json(str(src))
          .withColumn("event_time", (F.col("ts") / 1000).cast("timestamp"))
          .withWatermark("event_time", "2 seconds"))
    if hasattr(df, "dropDuplicatesWithinWatermark"):
        df = df.dropDuplicatesWithinWatermark(["device", "ts"])
    else:
        df = df.dropDuplicates(["device", "ts", "event_time"])
    aggs = [F.count(F.lit(1)).alias("count")]
    for v in ("temp", "hum"):
        aggs += [F.sum(v), F.min(v), F.max(v), F.avg(v),
                 F.percentile_approx(v, [0.5, 0.95, 0.99], 1000)]
    out = df.groupBy(F.window("event_time", "10 seconds"), "device").agg(*aggs)
    jvm = spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()
    c0 = cpu_s(jvm)
    t0 = time.monotonic()
    q = (out.writeStream.format("noop").outputMode("append")
         .option("checkpointLocation", str(Path(tmp) / "spark-ck"))
         .trigger(availableNow=True).start())
    q.awaitTermination()
    dt = time.monotonic() - t0
    cpu = cpu_s(jvm) - c0
    spark.stop()
    return dt, cpu


def main():
    env = load_env()
    need = ("KAFKA_BOOTSTRAP", "PG_DSN", "REDIS_ADDR", "INFLUX_URL", "INFLUX_DB")
    if env is None or any(k not in env for k in need):
        print("bench_telemetry_pipeline: skipped (no stack: SLUICE_STACK_COMPONENTS=\"kafka postgres redis "
              "influxdb\" tests/e2e/stack.sh up)")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        events = Path(tmp) / "events.tsv"
        generate(events)
        runs = []
        for r in range(-1, RUNS):
            # A fresh topic (and so a fresh consumer group) per run.
            topic = f"bench-{os.getpid()}-{r + 1}"
            kafka_tool(env, "org.apache.kafka.tools.TopicCommand", "--create", "--topic", topic,
                       "--partitions", "2", "--replication-factor",
                       env.get("KAFKA_BROKERS", "1"))
            with open(events) as f:
                subprocess.run(["kcat", "-b", env["KAFKA_BOOTSTRAP"], "-P", "-t", topic, "-K",
                                "\t", "-X", "linger.ms=50", "-X", "batch.num.messages=10000"],
                               stdin=f, check=True)
            run = run_sluice(env, tmp, topic, events)
            if r < 0:
                # A stack just started serves its first run slower (the
                # broker's JVM has not compiled its fetch path yet).
                print(f"warm-up run (not counted): {run[0]:.0f} events/s")
            else:
                runs.append(run)
        # The median run: a run lasts under two seconds, so one that meets
        # a moment of this machine's varying speed would decide alone.
        eps, cps, startup, _, m = sorted(runs, key=lambda x: x[0])[RUNS // 2]
        rss = max(x[3] for x in runs)
        print(f"end to end (Kafka in; PostgreSQL, Redis, InfluxDB out), one worker, {N} events, "
              f"median of {RUNS} runs: "
              f"{eps:.0f} events/s from the first event read (start-up and group join "
              f"{startup:.1f} s), {cps:.0f} events per CPU-second of the worker; windows {m.get('sluice_tw_windows_emitted_total', 0):.0f}, "
              f"duplicates {m.get('sluice_tw_duplicates_total', 0):.0f}, fetcher wake-ups "
              f"{m.get('sluice_tw_fetch_wakeups_total', 0):.0f}; the runs: "
              + ", ".join(f"{x[0]:.0f}" for x in runs) + " events/s")
        print(f"worker peak RSS (VmHWM), the highest of the runs: {rss:.1f} MB; target under "
              f"{RSS_TARGET_MB} MB: ratio {rss / RSS_TARGET_MB:.2f}")
        spark = run_spark(tmp, events)
        if spark is None:
            print("spark: skipped (pyspark is not installed: pip install pyspark)")
        else:
            sdt, scpu = spark
            seps, scps = N / sdt, N / max(scpu, 1e-9)
            print(f"spark structured streaming (local[2], file source, same window, watermark, "
                  f"dedupe, aggregations, noop sink): {N} events in {sdt:.2f} s: {seps:.0f} "
                  f"events/s, {scps:.0f} events per CPU-second of its JVM")
            print(f"sluice / spark: {eps / seps:.2f} in events/s, {cps / scps:.2f} in events "
                  f"per CPU-second (target at least {RATIO_TARGET}; on a loaded machine the "
                  f"CPU-second figure is the fairer one)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
