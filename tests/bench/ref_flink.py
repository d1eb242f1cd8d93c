"""The Apache Flink side of tests/bench/bench_telemetry_pipeline.py (run by the
PyFlink virtualenv's python that `scripts/deps.sh bench-refs` makes; not a
benchmark itself).

Usage: ref_flink.py QUERY INPUT_DIR OUT.json
  QUERY telemetry: 10 s TUMBLE windows on ts (epoch ms) with a 2 s
        bounded-out-of-orderness watermark, dedupe on (device, ts) (keep the
        first row), per device: COUNT and SUM, MIN, MAX, AVG of temp and hum,
        and their PERCENTILE 0.5/0.95/0.99 where this Flink has that function.
  QUERY hot_items: Nexmark q5-like: HOP windows, 10 s sliding by 2 s, the
        same watermark, COUNT(*) per item.
Flink SQL only (no Python UDF: everything runs in the JVM), streaming mode,
parallelism 2, the filesystem connector's JSON source (bounded: at its end
the watermark reaches +inf and every window fires). The results go to
CSV files (filesystem sink), read back afterwards. OUT.json gets the seconds
and the CPU-seconds of this process tree (the JVM included) from the job's
submission to its end (results committed), and the rows.
"""
import csv
import datetime
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchrefs import tree_cpu_s  # noqa: E402

from pyflink.table import EnvironmentSettings, TableEnvironment  # noqa: E402


def has_percentile(t_env):
    try:
        t_env.sql_query("SELECT PERCENTILE(x, 0.5) FROM (VALUES (1.0)) AS t(x)").explain()
        return True
    except Exception:  # noqa: BLE001 (a Py4J error: no such function)
        return False


def main():
    query, src, out_path = sys.argv[1], sys.argv[2], sys.argv[3]
    t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    conf = t_env.get_config()
    conf.set("parallelism.default", "2")
    conf.set("table.local-time-zone", "UTC")
    conf.set("rest.bind-address", "127.0.0.1")
    conf.set("rest.address", "127.0.0.1")
    cols = ("ts BIGINT, device STRING, temp DOUBLE, hum DOUBLE" if query == "telemetry"
            else "ts BIGINT, item STRING, price DOUBLE")
    t_env.execute_sql(f"""
        CREATE TABLE events ({cols},
            et AS TO_TIMESTAMP_LTZ(ts, 3), pt AS PROCTIME(),
            WATERMARK FOR et AS et - INTERVAL '2' SECOND)
        WITH ('connector' = 'filesystem', 'path' = '{src}', 'format' = 'json')""")
    if query == "telemetry":
        t_env.execute_sql("""
            CREATE TEMPORARY VIEW d AS SELECT ts, device, temp, hum, et FROM (
                SELECT *, ROW_NUMBER() OVER (PARTITION BY device, ts ORDER BY pt) AS rn
                FROM events) WHERE rn = 1""")
        aggs, cols = ["COUNT(*)"], ["c BIGINT"]
        pct = has_percentile(t_env)
        for v in ("temp", "hum"):
            aggs += [f"SUM({v})", f"MIN({v})", f"MAX({v})", f"AVG({v})"]
            cols += [f"{v}_{a} DOUBLE" for a in ("sum", "min", "max", "mean")]
            if pct:
                # An array has no CSV form: its text.
                aggs += [f"CAST(PERCENTILE({v}, ARRAY[0.5, 0.95, 0.99]) AS STRING)"]
                cols += [f"{v}_pct STRING"]
        sql = (f"SELECT CAST(window_start AS STRING), device, {', '.join(aggs)} FROM TABLE("
               "TUMBLE(TABLE d, DESCRIPTOR(et), INTERVAL '10' SECOND)) "
               "GROUP BY window_start, window_end, device")
    else:
        pct = False
        cols = ["c BIGINT"]
        sql = ("SELECT CAST(window_start AS STRING), item, COUNT(*) FROM TABLE("
               "HOP(TABLE events, DESCRIPTOR(et), INTERVAL '2' SECOND, INTERVAL '10' SECOND)) "
               "GROUP BY window_start, window_end, item")
    # The results go to CSV files (the filesystem sink commits them at the
    # end of the bounded input): collecting them row by row through Py4J
    # would cost more than the query.
    sink = Path(out_path).parent / f"flink-out-{query}"
    t_env.execute_sql(f"""
        CREATE TABLE results (ws STRING, k STRING, {', '.join(cols)})
        WITH ('connector' = 'filesystem', 'path' = '{sink}', 'format' = 'csv')""")
    c0, t0 = tree_cpu_s(os.getpid()), time.monotonic()
    t_env.execute_sql(f"INSERT INTO results {sql}").wait()
    dt, cpu = time.monotonic() - t0, tree_cpu_s(os.getpid()) - c0
    out = []
    for f in sink.rglob("*"):
        if not f.is_file() or f.name.startswith("."):
            continue
        with open(f, newline="") as fh:
            for r in csv.reader(fh):
                start = int(datetime.datetime.fromisoformat(r[0])
                            .replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)
                if query == "telemetry":
                    t, h = r[3:7], r[7 + pct:11 + pct]
                    out.append([start, r[1], int(r[2])] +
                               [float(x) for x in (t[0], t[1], t[2], h[0], h[1], h[2])])
                else:
                    out.append([start, r[1], int(r[2])])
    Path(out_path).write_text(json.dumps({"seconds": dt, "cpu_s": cpu, "rows": out,
                                          "percentiles": pct}))


if __name__ == "__main__":
    main()
