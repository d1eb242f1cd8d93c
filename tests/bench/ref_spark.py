"""The Spark Structured Streaming side of tests/bench/bench_telemetry_pipeline.py
(run by the pyspark virtualenv's python that `scripts/deps.sh bench-refs` makes;
not a benchmark itself).

Usage: ref_spark.py QUERY INPUT_DIR OUT.json
  QUERY telemetry: the TelemetryWindow's query: 10 s tumbling windows on ts
        (epoch ms), watermark 2 s, dedupe on (device, ts), per device: count and
        sum, min, max, mean, p50, p95, p99 of temp and hum.
  QUERY hot_items: Nexmark q5-like: 10 s windows hopping by 2 s, watermark 2 s,
        bids counted per item; the item(s) with the most bids in each window.
INPUT_DIR holds JSON lines. local[2], a file source read in one micro-batch
and the micro-batches that follow until the watermark has closed every window
(processAllAvailable), results into the memory sink. OUT.json gets the seconds
and the CPU-seconds of this process tree (the JVM included) from the query's
start to its end, and the result rows.
"""
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchrefs import tree_cpu_s  # noqa: E402

from pyspark.sql import SparkSession, functions as F  # noqa: E402
from pyspark.sql.types import (DoubleType, LongType, StringType, StructField,  # noqa: E402
                               StructType)


def main():
    query, src, out_path = sys.argv[1], sys.argv[2], sys.argv[3]
    # Loopback only: Spark would otherwise bind its driver to the host's
    # first non-loopback address.
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    spark = (SparkSession.builder.master("local[2]").appName("sluice-bench")
             .config("spark.driver.bindAddress", "127.0.0.1")
             .config("spark.driver.host", "127.0.0.1")
             .config("spark.sql.shuffle.partitions", "2")
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.driver.memory", "1g").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    if query == "telemetry":
        schema = StructType([StructField("ts", LongType()), StructField("device", StringType()),
                             StructField("temp", DoubleType()), StructField("hum", DoubleType())])
    else:
        schema = StructType([StructField("ts", LongType()), StructField("item", StringType()),
                             StructField("price", DoubleType())])
    df = (spark.readStream.schema(schema).json(src)
          .withColumn("event_time", F.timestamp_millis("ts"))
          .withWatermark("event_time", "2 seconds"))
    if query == "telemetry":
        df = df.dropDuplicatesWithinWatermark(["device", "ts"])
        aggs = [F.count(F.lit(1)).alias("count")]
        for v in ("temp", "hum"):
            aggs += [F.sum(v).alias(f"{v}_sum"), F.min(v).alias(f"{v}_min"),
                     F.max(v).alias(f"{v}_max"), F.avg(v).alias(f"{v}_mean"),
                     F.percentile_approx(v, [0.5, 0.95, 0.99], 1000).alias(f"{v}_pct")]
        res = df.groupBy(F.window("event_time", "10 seconds").alias("w"), "device").agg(*aggs)
    else:
        # The max per window is a second aggregation over the counts, which
        # Structured Streaming refuses in append mode before Spark 4's
        # chained stateful operators; the counts stream out, the max is
        # taken over the (small) result, as Sluice's is over its sink rows.
        res = df.groupBy(F.window("event_time", "10 seconds", "2 seconds").alias("w"),
                         "item").agg(F.count(F.lit(1)).alias("count"))
    c0, t0 = tree_cpu_s(os.getpid()), time.monotonic()
    q = (res.writeStream.format("memory").queryName("out").outputMode("append")
         .option("checkpointLocation", str(Path(out_path).parent / f"spark-ck-{query}")).start())
    q.processAllAvailable()
    rows = spark.sql("SELECT * FROM out").collect()
    dt, cpu = time.monotonic() - t0, tree_cpu_s(os.getpid()) - c0
    q.stop()
    spark.stop()
    out = []
    for r in rows:
        start = int(r["w"]["start"].replace(tzinfo=__import__("datetime").timezone.utc)
                    .timestamp() * 1000)
        if query == "telemetry":
            out.append([start, r["device"], r["count"], r["temp_sum"], r["temp_min"],
                        r["temp_max"], r["hum_sum"], r["hum_min"], r["hum_max"]])
        else:
            out.append([start, r["item"], r["count"]])
    Path(out_path).write_text(json.dumps({"seconds": dt, "cpu_s": cpu, "rows": out}))


if __name__ == "__main__":
    main()
