"""`sluice-worker load` on a Parquet file, into a real Kafka topic of the stack.

pyarrow (the virtualenv scripts/deps.sh makes) writes the file: several row
groups and pages, dictionary and plain columns, nulls, a timestamp, strings
that need CSV quoting. The loader publishes it; kcat reads the messages
back, and each is compared with the row pyarrow wrote: as a CSV record
(parsed with Python's csv module), and with --as-json as a JSON object. The
file is named without .parquet: the loader goes by its first bytes.
A corrupt file and a nested one are refused, naming the file and column.
"""
import collections
import csv
import io
import json
import os
import re
import subprocess

import pytest

from conftest import ROOT, run

WORKER = os.environ.get("SLUICE_WORKER", str(ROOT / "build" / "sluice-worker"))
ROWS = 600

WRITER = r'''
import datetime, json, sys
import pyarrow as pa, pyarrow.parquet as pq

n, out = int(sys.argv[1]), sys.argv[2]
base = datetime.datetime(2027, 1, 15, 8, 0, tzinfo=datetime.timezone.utc)
ts = [base + datetime.timedelta(milliseconds=250 * i + i % 7) for i in range(n)]
device = [f"d{i % 5}" for i in range(n)]
site = ['north, "A"' if i % 9 == 0 else ("" if i % 11 == 0 else "south") for i in range(n)]
temp = [None if i % 13 == 0 else round(20 + (i % 40) * 0.37, 2) for i in range(n)]
hum = [None if i % 17 == 0 else 30 + i % 50 for i in range(n)]
ok = [i % 3 != 0 for i in range(n)]
table = pa.table({"ts": pa.array(ts, pa.timestamp("ms", tz="UTC")), "device": device,
                  "site": site, "temp": pa.array(temp, pa.float64()),
                  "hum": pa.array(hum, pa.int64()), "ok": ok})
pq.write_table(table, out, row_group_size=250, max_rows_per_page=64, compression="zstd",
               use_dictionary=["device", "site"], write_page_checksum=len(sys.argv) > 3)
def text(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, datetime.datetime):
        return v.strftime("%Y-%m-%dT%H:%M:%S.") + f"{v.microsecond // 1000:03d}Z"
    if isinstance(v, float):  # the shortest text; integers without ".0"
        return str(int(v)) if v == int(v) and abs(v) < 2**53 else repr(v)
    return str(v)
rows = [[text(c) for c in r.values()] for r in table.to_pylist()]
json.dump({"columns": table.column_names, "rows": rows}, sys.stdout)
'''

NESTED = r'''
import sys
import pyarrow as pa, pyarrow.parquet as pq
pq.write_table(pa.table({"id": [1, 2], "tags": [["a"], ["b", "c"]]}), sys.argv[1])
'''


def venv_python():
    """The virtualenv's python, as scripts/versions.sh places it."""
    env_py = os.environ.get("SLUICE_PYARROW_PYTHON")
    if env_py:
        return env_py
    return subprocess.run(
        ["bash", "-c", '. scripts/versions.sh && '
                       'printf %s "$SLUICE_CACHE/venv-pyarrow-$PYARROW_VERSION/bin/python"'],
        cwd=ROOT, check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def python():
    py = venv_python()
    if not os.access(py, os.X_OK):
        pytest.skip(f"no pyarrow virtualenv at {py}: scripts/deps.sh pyarrow makes it "
                    "(make test runs it)")
    return py


def kafka_tool(stack, cls, *args):
    return run(["java", "-Xmx256m", "-Dlog4j.configuration=file:/dev/null", "-cp",
                stack["KAFKA_LIBS"] + "/*", cls, "--bootstrap-server",
                stack["KAFKA_BOOTSTRAP"], *args])


def create_topic(stack, topic, partitions):
    kafka_tool(stack, "org.apache.kafka.tools.TopicCommand", "--create", "--topic", topic,
               "--partitions", str(partitions), "--replication-factor", stack["KAFKA_BROKERS"])


def consume_all(stack, topic):
    out = run(["kcat", "-b", stack["KAFKA_BOOTSTRAP"], "-C", "-t", topic, "-o", "beginning",
               "-e", "-q", "-J"]).stdout
    return [json.loads(l) for l in out.splitlines() if l.strip()]


def load(stack, path, topic, *extra, check=True):
    return run([WORKER, "load", "--file", str(path), "--topic", topic, "--bootstrap",
                stack["KAFKA_BOOTSTRAP"], "--progress", "log", *extra], check=check,
               timeout=120)


def finished(p):
    done = [json.loads(l) for l in p.stderr.splitlines() if '"load finished"' in l]
    assert done, p.stderr
    return done[-1]


JSON_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")


def as_json_value(cell):
    """What the loader's --as-json makes of a cell (as of a CSV cell): null
    for an empty one, a number for a JSON number (once trimmed), a string
    otherwise."""
    text = (cell or "").strip(" \t")
    if text == "":
        return None
    return json.loads(text) if JSON_NUMBER.fullmatch(text) else cell


def test_load_publishes_a_parquet_file(stack, python, tmp_path, unique):
    path = tmp_path / "events.data"  # no .parquet: the magic decides
    out = run([python, "-c", WRITER, str(ROWS), str(path)]).stdout
    want = json.loads(out)
    columns, rows = want["columns"], want["rows"]
    assert path.read_bytes()[:4] == b"PAR1" and len(rows) == ROWS

    topic, json_topic = f"pq-load-{unique}", f"pq-loadjson-{unique}"
    create_topic(stack, topic, 2)
    create_topic(stack, json_topic, 1)

    p = load(stack, path, topic, "--key-fields", "device")
    done = finished(p)
    assert (done["rows"], done["delivered"], done["failed"], done["skipped"]) == \
        (str(ROWS), str(ROWS), "0", "0"), p.stderr
    starting = [json.loads(l) for l in p.stderr.splitlines() if '"load starting"' in l]
    assert starting and starting[0]["input"] == "parquet", p.stderr

    got = consume_all(stack, topic)
    assert len(got) == ROWS
    # Each message is the row as a CSV record; a null is an empty cell.
    by_id = {}
    for m in got:
        cells = next(csv.reader(io.StringIO(m["payload"], newline="")))
        assert len(cells) == len(columns), m["payload"]
        assert m["key"] == cells[columns.index("device")]
        by_id[cells[0]] = cells
    assert sorted(by_id) == sorted(r[0] for r in rows)  # every ts once
    for r in rows:
        assert by_id[r[0]] == [c if c is not None else "" for c in r], r
    partitions = collections.defaultdict(set)
    for m in got:
        partitions[m["key"]].add(m["partition"])
    assert len(partitions) == 5 and all(len(s) == 1 for s in partitions.values())

    # --as-json: one object per row, as a CSV row of the same cells gives.
    p = load(stack, path, json_topic, "--as-json")
    assert finished(p)["delivered"] == str(ROWS), p.stderr
    got = [json.loads(m["payload"]) for m in consume_all(stack, json_topic)]
    assert got == [{c: as_json_value(v) for c, v in zip(columns, r)} for r in rows]
    first = got[0]
    assert first["ts"] == "2027-01-15T08:00:00.000Z" and first["device"] == "d0"
    assert first["temp"] is None and first["site"] == 'north, "A"' and first["ok"] == "false"


def test_load_refuses_a_damaged_or_nested_parquet_file(stack, python, tmp_path, unique):
    good = tmp_path / "good.parquet"
    run([python, "-c", WRITER, "50", str(good), "with page checksums"])
    topic = f"pq-bad-{unique}"
    create_topic(stack, topic, 1)

    # Cut short: the footer is gone.
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(good.read_bytes()[:-100])
    p = load(stack, cut, topic, check=False)
    assert p.returncode == 2, p.stderr
    assert f"parquet: {cut}: not a whole Parquet file" in p.stderr, p.stderr

    # Pages damaged (their checksums no longer match): the error names the
    # row group and the column.
    data = bytearray(good.read_bytes())
    for i in range(200, 260):
        data[i] ^= 0x5A
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(bytes(data))
    p = load(stack, bad, topic, check=False)
    assert p.returncode == 1, p.stderr
    assert "cannot read the file" in p.stderr and "row group 0, column" in p.stderr, p.stderr

    nested = tmp_path / "nested.parquet"
    run([python, "-c", NESTED, str(nested)])
    p = load(stack, nested, topic, check=False)
    assert p.returncode == 2 and 'column "tags" is nested' in p.stderr, p.stderr

    # --file - reads Parquet from a standard input that is a file, and
    # says why it cannot from a pipe (the metadata is at the end).
    with open(good, "rb") as f:
        p = subprocess.run([WORKER, "load", "--file", "-", "--topic", topic, "--bootstrap",
                            stack["KAFKA_BOOTSTRAP"], "--progress", "log"], stdin=f,
                           capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and finished(p)["delivered"] == "50", p.stderr
    cat = subprocess.Popen(["cat", str(good)], stdout=subprocess.PIPE)
    p = subprocess.run([WORKER, "load", "--file", "-", "--topic", topic, "--bootstrap",
                        stack["KAFKA_BOOTSTRAP"]], stdin=cat.stdout, capture_output=True,
                       text=True, timeout=60)
    cat.stdout.close()
    cat.wait()
    assert p.returncode == 2 and "this is a Parquet file" in p.stderr, p.stderr
