#!/usr/bin/env python3
"""bench_telemetry_tls: the telemetry pipeline's events/s over SASL_SSL
against PLAINTEXT (issue 17: at most 15% slower), run by `make bench` when
the stack is up (docs/testing.md, "Fuzzing and benchmarks"; docs/kafka-security.md, "Cost").

1. Starts a Kafka-only stack of its own (benchrefs.kafka_stack: its own
   TMPDIR and env file) whose broker runs the full JIT
   (-XX:TieredStopAtLevel=4; the shared stack's C1-only brokers make Java's
   AES-GCM ~50x slower, a figure of the test stack, not of TLS). PostgreSQL,
   Redis and InfluxDB are the shared stack's.
2. The events of bench_telemetry_pipeline.py's telemetry query (N JSON
   events, 1000 devices, every 100th a redelivery) go to one 2-partition
   topic (kcat, PLAINTEXT). Each run is one `sluice-worker telemetry` with
   every sink (PostgreSQL, Redis, InfluxDB) reading all of it, as a resource
   (and consumer group) of its own, with the same spec but for spec.kafka:
     PLAINTEXT  spec.kafka.bootstrap = the PLAINTEXT listener
     SASL_SSL   the SASL_SSL listener, tls.ca and sasl (SCRAM-SHA-512) from
                Secret references, resolved from SLUICE_SECRET_* variables
                as the operator gives them to a pod.
   Each is timed from its first event read until it has read every event
   (bench_telemetry_pipeline.run_sluice), with the worker's CPU-seconds and
   the broker's over the same span. A warm-up round (both listeners: the
   broker's JIT compiles its TLS path), then ROUNDS rounds, the listeners
   taken in turn (first one, then the other, then the first...).
3. Every run's window rows (from PostgreSQL) must equal the first PLAINTEXT
   run's before a figure is printed.
4. Prints the medians of events/s, events per worker CPU-second and per
   CPU-second of the worker and the broker, and SASL_SSL / PLAINTEXT of
   each: the median of the rounds' ratios (a round's two runs share the
   machine's load of the moment), with the target (events/s >= 0.85).

Usage: tests/bench/bench_telemetry_tls.py [events]  (default 1000000;
BENCH_TELEMETRY_TLS_ROUNDS, default 5; SLUICE_WORKER, default
build/sluice-worker). Needs build/stack.env (or $SLUICE_STACK_ENV) with
postgres, redis and influxdb; prints a line and exits 0 without. Holds
/tmp/sluice-e2e.lock while it loads Kafka and runs workers.
"""
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_telemetry_pipeline as tp  # noqa: E402
from benchrefs import e2e_lock, kafka_stack, load_env  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
ROUNDS = int(os.environ.get("BENCH_TELEMETRY_TLS_ROUNDS", "5"))
TARGET = 0.85  # SASL_SSL events/s at least 85% of PLAINTEXT's
QUERY = "telemetry"
FIGURES = ("eps", "cps", "wcps")  # events/s, per worker CPU-s, per worker+broker CPU-s
CA_REF = {"name": "kafka-ca", "key": "ca.crt"}
USER_REF = {"name": "kafka-user", "key": "username"}
PASSWORD_REF = {"name": "kafka-user", "key": "password"}


def listeners(kenv):
    """{listener: (more of spec.kafka, more environment)}: what the
    PLAINTEXT and SASL_SSL runs differ in, and nothing else."""
    return {
        "PLAINTEXT": ({"bootstrap": kenv["KAFKA_BOOTSTRAP"]}, {}),
        "SASL_SSL": ({"bootstrap": kenv["KAFKA_BOOTSTRAP_SASL_SSL"],
                      "tls": {"ca": CA_REF},
                      "sasl": {"mechanism": "SCRAM-SHA-512", "username": USER_REF,
                               "password": PASSWORD_REF}},
                     # secret_env_name: SLUICE_SECRET_<NAME>_<KEY>, upper-cased, _ for the rest
                     {"SLUICE_SECRET_KAFKA_CA_CA_CRT": Path(kenv["KAFKA_CA_PEM"]).read_text(),
                      "SLUICE_SECRET_KAFKA_USER_USERNAME": kenv["KAFKA_SASL_USER"],
                      "SLUICE_SECRET_KAFKA_USER_PASSWORD": kenv["KAFKA_SASL_PASSWORD"]}),
    }


def broker_pids(kenv):
    pids = []
    for i in range(1, int(kenv["KAFKA_BROKERS"]) + 1):
        p = Path(kenv["SLUICE_STACK_DIR"], "pids", f"kafka{i}.pid")
        pids.append(int(p.read_text()))
    return pids


def bench(env, kenv, tmp):
    tsv, _ = tp.generate(QUERY, tmp)
    brokers = broker_pids(kenv)
    kinds = listeners(kenv)
    runs = {k: [] for k in kinds}
    topic = f"bench-tls-{os.getpid()}"
    with e2e_lock():
        tp.publish(env, topic, tsv, tmp, QUERY)
        for r in range(ROUNDS + 1):
            order = list(kinds) if r % 2 == 0 else list(reversed(kinds))
            for name in order:
                kafka, secrets = kinds[name]
                # One topic, read by every run (a consumer group of its own each).
                run = tp.run_sluice(env, tmp, topic, QUERY, kafka=kafka, secrets=secrets,
                                    watch=brokers,
                                    name=f"{topic}-{name.lower().replace('_', '-')}-{r}")
                run["wcps"] = run["events"] / max(run["cpu"] + run["watch_cpu"], 1e-9)
                run["round"] = r
                print(f"  {'warm-up' if r == 0 else f'round {r}'} {name:<9} "
                      f"{run['eps']:>10,.0f} events/s  {run['cps']:>10,.0f} per worker CPU-s  "
                      f"{run['wcps']:>10,.0f} per worker+broker CPU-s", flush=True)
                runs[name].append(run)
    # The answers first: every run's rows against the first PLAINTEXT run's.
    base = tp.sluice_rows(env, QUERY, runs["PLAINTEXT"][0]["resource"])
    diff = None
    for name, rs in runs.items():
        for run in rs:
            d = tp.compare(QUERY, name, tp.sluice_rows(env, QUERY, run["resource"]), base)
            diff = diff or (d and f"{name} round {run['round']}: {d}")
    for rs in runs.values():
        for run in rs:
            tp.psql(env, f"DELETE FROM {tp.QUERIES[QUERY]['table']} "
                         f"WHERE resource = '{run['resource']}'")
    if diff is not None:
        print(f"bench_telemetry_tls: ANSWERS DIFFER, no ratio: {diff}")
        return 1
    rows = sum(not r[1].startswith(tp.FLUSH_KEY) for r in base)
    print(f"bench_telemetry_tls: one sluice-worker telemetry (PostgreSQL, Redis, InfluxDB out), "
          f"{N} events on 2 partitions, 1 broker on the full JIT, {ROUNDS} rounds after a "
          f"warm-up; every run's {rows} window rows agree")
    counted = {name: [x for x in rs if x["round"] > 0] for name, rs in runs.items()}
    for name, rs in counted.items():
        m = {k: statistics.median(x[k] for x in rs) for k in FIGURES + ("startup",)}
        print(f"  {name:<9} {m['eps']:>10,.0f} events/s  {m['cps']:>10,.0f} events per worker "
              f"CPU-second  {m['wcps']:>10,.0f} per worker+broker CPU-second  (medians; "
              f"start-up to the first event, group join included: {m['startup']:.2f} s)")
    # Each round's two runs are minutes apart at most and share the
    # machine's load of the moment: the ratio is taken within each round,
    # and the median of those counts.
    ratios = {k: sorted(s[k] / p[k] for s, p in zip(counted["SASL_SSL"], counted["PLAINTEXT"]))
              for k in FIGURES}
    ratio = {k: statistics.median(v) for k, v in ratios.items()}
    print(f"  SASL_SSL / PLAINTEXT, the median of the rounds' ratios: {ratio['eps']:.2f} in "
          f"events/s (target >= {TARGET:.2f}, at most {(1 - TARGET) * 100:.0f}% slower: "
          f"{'met' if ratio['eps'] >= TARGET else 'MISSED'}; the rounds "
          f"{ratios['eps'][0]:.2f} to {ratios['eps'][-1]:.2f}), {ratio['cps']:.2f} per worker "
          f"CPU-second, {ratio['wcps']:.2f} per worker+broker CPU-second")
    return 0


def main():
    env = load_env()
    need = ("PG_DSN", "REDIS_ADDR", "INFLUX_URL", "INFLUX_DB")
    if env is None or any(k not in env for k in need):
        print("bench_telemetry_tls: skipped (no stack with postgres, redis and influxdb: "
              "make stack-up)")
        return 0
    tp.N = N
    with tempfile.TemporaryDirectory() as tmp, kafka_stack() as kenv:
        # Kafka (and its tools) from the stack of our own, the rest from the
        # shared one (a Kafka-only stack's env file names the other servers'
        # ports too, though it started none).
        kafka = {k: v for k, v in kenv.items() if k.startswith("KAFKA")}
        return bench({**env, **kafka}, kenv, tmp)


if __name__ == "__main__":
    sys.exit(main())
