"""Historical data (issue 17): event times from 1900-01-01 and up to 2262, in RFC 3339 (with
offsets), negative epoch milliseconds and a strptime pattern, go through the telemetry worker
exactly as recent ones do. PostgreSQL rows, InfluxDB points, the Redis timeline and latest hash,
and `export`'s CSV equal the independent reference of test_telemetry.py (Python integers and
floor division, no C code in the loop).

One partition's stream, in this order: a burst starting at 1900-01-01T00:00:00Z (with a
duplicate), a burst crossing 1970-01-01 (-4 s to +4 s, some out of order, one event back in
1900 that is late by then), and a burst at 2262-04-11T23:00:00Z whose last windows only the
idle advance closes.

    flock /tmp/sluice-e2e.lock tests/e2e/run.sh -k telemetry_history
    SLUICE_WORKER=build/<you>/sluice-worker \
        flock /tmp/sluice-e2e.lock tests/e2e/run.sh -k telemetry_history
"""
import datetime
import json
import random

import pytest

from test_telemetry import (check_export, check_rows, create_topic, expected_rows, influx,
                            pg_count, pg_rows, produce, redis, reference, wait_for,
                            workers, write_spec)

assert workers  # the fixture, imported for pytest

# ms since the epoch
T1900 = -2_208_988_800_000           # 1900-01-01T00:00:00Z, the earliest time accepted
T2262 = 9_223_369_200_000            # 2262-04-11T23:00:00Z
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
SIZE_MS, DELAY_MS = 2000, 1000


def history_events(seed):
    """(ts ms, key, values) in stream order; the reference sees the same list."""
    rng = random.Random(seed)
    keys = ["d0", "d1", "d2"]
    events = []

    def burst(start, n, step):
        for i in range(n):
            vals = {"temp": rng.randrange(-400, 400) / 4}
            if i % 3:
                vals["hum"] = rng.randrange(0, 400) / 4
            events.append((start + i * step + rng.randrange(0, 7), keys[i % 3], vals))

    burst(T1900, 40, 150)                       # 1900-01-01T00:00:00Z .. +6 s
    events.insert(5, events[4])                 # a duplicate in 1900
    n1900 = len(events)
    burst(-4000, 40, 200)                       # 1969-12-31T23:59:56Z .. 1970-01-01T00:00:04Z
    for i in range(n1900 + 3, len(events) - 2, 7):  # out of order within the delay
        events[i], events[i + 1] = events[i + 1], events[i]
    events.insert(n1900 + 10, (T1900 + 777, "d1", {"temp": 1.25}))  # late by now
    burst(T2262, 40, 150)                       # 2262-04-11T23:00:00Z .. +6 s
    return events


def rfc3339(ms, i):
    """RFC 3339 text of ms; every third with a +02:00 or -05:30 offset."""
    t = EPOCH + datetime.timedelta(milliseconds=ms)
    off = [None, datetime.timedelta(hours=2), -datetime.timedelta(hours=5, minutes=30)][i % 3]
    if off is None:
        return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"
    lt = t.astimezone(datetime.timezone(off))
    sign, o = ("+", off) if off >= datetime.timedelta(0) else ("-", -off)
    hh, mm = divmod(int(o.total_seconds()) // 60, 60)
    frac = f"{lt.microsecond // 1000:03d}"
    return lt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{frac}{sign}{hh:02d}:{mm:02d}"


PATTERN = "%d/%m/%Y %H:%M:%S.%f"


def ts_text(fmt, ms, i):
    if fmt == "rfc3339":
        return rfc3339(ms, i)
    if fmt == "epoch_ms":
        return ms  # a JSON number, negative before 1970
    t = EPOCH + datetime.timedelta(milliseconds=ms)
    return t.strftime("%d/%m/%Y %H:%M:%S.") + f"{t.microsecond // 1000:03d}"


@pytest.mark.parametrize("fmt,slide", [("rfc3339", None), ("epoch_ms", "1s"),
                                       ("strptime", None)])
def test_telemetry_history_matches_the_reference(stack, workers, tmp_path, unique, fmt, slide):
    topic = f"tw-hist-{fmt}-{unique}"
    create_topic(stack, topic, 1)
    events = history_events(17)
    produce(stack, topic, [(k, json.dumps({"ts": ts_text(fmt, ts, i), "device": k, **v}))
                           for i, (ts, k, v) in enumerate(events)])

    name = f"hist-{fmt.replace('_', '')}-{unique}"
    table = f"tw_hist_{fmt}_{unique}"
    resource = f"e2e/{name}"
    spec = write_spec(tmp_path, stack, name, topic, table=table, size="2s", slide=slide,
                      delay="1s", idle="2s", redis_sink=True, influx_sink=True,
                      dlq=f"{topic}.dlq")
    doc = json.loads(spec.read_text())
    doc["spec"]["fields"]["timestampFormat"] = {"rfc3339": "rfc3339", "epoch_ms": "epoch_ms",
                                                "strptime": PATTERN}[fmt]
    spec.write_text(json.dumps(doc))

    slide_ms = 1000 if slide else SIZE_MS
    windows, late, dups, partial = reference(events, SIZE_MS, slide_ms, DELAY_MS)
    assert late and dups == 1  # exercised
    starts = {s for (_, s) in windows}
    assert min(starts) == T1900 - (SIZE_MS - slide_ms) and max(starts) > T2262
    assert {-SIZE_MS, 0} <= starts  # the windows ending and starting at 1970-01-01
    assert not slide or -slide_ms in starts  # hopping: [-1 s, +1 s) spans it
    want = expected_rows(windows, ["temp", "hum"])

    w = workers(stack, spec)
    # PostgreSQL: every window, 1900 and 2262 included (the last ones by the idle advance).
    wait_for(lambda: pg_count(stack, table, resource) >= len(want), 60, f"{len(want)} rows")
    check_rows(pg_rows(stack, table, resource), want, SIZE_MS)
    m = w.metrics()
    assert m["sluice_tw_events_in_total"] == len(events)
    assert m["sluice_tw_duplicates_total"] == dups
    assert m["sluice_tw_late_total"] == len(late)
    assert m["sluice_tw_partial_late_total"] == partial

    # export: every window as CSV (times to the ms, 1900-01-01T00:00:00.000Z first), equal to
    # psql's own answer.
    check_export(stack, spec, tmp_path, table, resource, len(starts))

    # InfluxDB: one point per window (its time is the window start, negative before 1970)
    # and every raw event that was not a duplicate.
    series = wait_for(lambda: (lambda s: s if sum(len(x["values"]) for x in s) >= len(
        {(k, s) for (k, s, _f) in want}) else None)(influx(
            stack, f"SELECT count, temp_sum FROM telemetry_window WHERE resource = "
                   f"'{resource}' GROUP BY device")), 30, "the window points")
    points = {(s["tags"]["device"], v[0]): (v[1], v[2]) for s in series for v in s["values"]}
    assert points == {(k, s): (c, ss) for (k, s, f), (c, _, ss, *_r) in want.items()
                      if f == "temp"}
    raw = influx(stack, f"SELECT temp FROM telemetry_raw WHERE resource = '{resource}'")
    raw_times = sorted(v[0] for s in raw for v in s["values"])
    assert raw_times[0] == min(ts for ts, _, _ in events)
    assert raw_times[-1] == max(ts for ts, _, _ in events)

    # Redis: the timeline of each key holds its windows, scored by start in ms (floored);
    # the latest hash is its newest window, in 2262.
    prefix = f"sluice:e2e:{name}:"
    for k in ("d0", "d1", "d2"):
        out = redis(stack, "ZRANGE", f"{prefix}{k}:timeline", "0", "-1", "WITHSCORES")
        out = out.splitlines()
        got = {int(float(score)): json.loads(member)
               for member, score in zip(out[0::2], out[1::2])}
        mine = {s for (key, s) in windows if key == k}
        assert set(got) == mine, (k, sorted(mine ^ set(got))[:5])
        for s, member in got.items():
            assert member["start"] == s * 1_000_000 and member["count"] == len(windows[(k, s)])
        latest = redis(stack, "HGETALL", f"{prefix}{k}:latest").splitlines()
        latest = dict(zip(latest[0::2], latest[1::2]))
        assert int(latest["start"]) == max(mine) * 1_000_000
        assert int(latest["end"]) == (max(mine) + SIZE_MS) * 1_000_000

    assert w.stop() == 0
