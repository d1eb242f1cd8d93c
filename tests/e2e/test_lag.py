"""Consumer-group lag as Sluice reads it (operator/lag.c) against what
Kafka's own tools report for the same group and topic.

Sluice's numbers come from the integration binary build/tests/lag_it (run
with LAG_IT_JSON=1, it prints the lag it read as one JSON line and leaves
its topic and group in place); Kafka's from the consumer-group tool and the
offset shell that ship in the stack's Kafka jars. Nothing here imports
Sluice code: the binary is driven from outside, like any other.
"""
import json
import os
import re
import subprocess

from conftest import ROOT, run

LAG_IT = os.environ.get("SLUICE_LAG_IT", str(ROOT / "build" / "tests" / "lag_it"))


def kafka_tool(stack, cls, *args):
    return run(["java", "-Xmx256m", "-Dlog4j.configuration=file:/dev/null", "-cp",
                stack["KAFKA_LIBS"] + "/*", cls, *args], timeout=120).stdout


def sluice_lag(stack):
    if "SLUICE_LAG_IT" not in os.environ:
        subprocess.run(["make", "-s", "build/tests/lag_it"], cwd=ROOT, check=True,
                       capture_output=True)
    env = {**os.environ, **stack, "LAG_IT_JSON": "1"}
    out = run([LAG_IT], env=env, timeout=180).stdout
    lines = [line for line in out.splitlines() if line.startswith("LAG_JSON ")]
    assert len(lines) == 1, out
    return json.loads(lines[0][len("LAG_JSON "):])


def describe_group(stack, group):
    """{partition: (current, log_end, lag)} from ConsumerGroupCommand."""
    out = kafka_tool(stack, "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
                     "--bootstrap-server", stack["KAFKA_BOOTSTRAP"], "--describe",
                     "--group", group)
    rows = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 6 and f[0] == group and re.fullmatch(r"\d+", f[2]):
            rows[int(f[2])] = tuple(None if x == "-" else int(x) for x in f[3:6])
    return rows


def offsets(stack, topic, time):
    """{partition: offset} from GetOffsetShell (--time -1 latest, -2 earliest)."""
    out = kafka_tool(stack, "org.apache.kafka.tools.GetOffsetShell", "--bootstrap-server",
                     stack["KAFKA_BOOTSTRAP"], "--topic", topic, "--time", str(time))
    res = {}
    for line in out.splitlines():
        m = re.fullmatch(r"(.+):(\d+):(\d+)", line.strip())
        if m and m.group(1) == topic:
            res[int(m.group(2))] = int(m.group(3))
    return res


def test_lag_agrees_with_kafkas_consumer_group_tool(stack):
    ours = sluice_lag(stack)
    topic, group = ours["topic"], ours["group"]
    parts = {p["partition"]: p for p in ours["partitions"]}

    # Committed partitions: the same current offset, end offset and lag.
    theirs = describe_group(stack, group)
    committed = {p for p, v in parts.items() if v["committed"] >= 0}
    assert committed, ours
    assert set(theirs) == committed, (theirs, ours)
    for p in committed:
        current, log_end, lag = theirs[p]
        assert (current, log_end, lag) == (parts[p]["committed"], parts[p]["end"],
                                           parts[p]["lag"]), (p, theirs[p], parts[p])

    # Every partition: the same end and start offsets; a partition without
    # a commit counts whole (earliest policy), from its start offset.
    ends, starts = offsets(stack, topic, -1), offsets(stack, topic, -2)
    assert set(ends) == set(parts)
    for p, v in parts.items():
        assert v["end"] == ends[p] and v["start"] == starts[p], (p, v, ends[p], starts[p])
        if v["committed"] < 0:
            assert v["lag"] == ends[p] - starts[p]
    assert ours["total_lag"] == sum(v["lag"] for v in parts.values())
