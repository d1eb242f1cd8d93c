"""The VideoJob `process` worker (`sluice-worker process`), driven from outside
on the real stack (Kafka, PostgreSQL, Redis, InfluxDB) and judged with
ffprobe/ffmpeg, kcat, psql, redis-cli and InfluxDB's /query.

The plan and the tasks are made here, independently of `split`: keyframes
from ffprobe's packet list, the job and its segments inserted with psql, one
task per segment published with kcat in the vj_task format. So these tests
hold the process worker to the task contract on its own:

- one job with 1 and with 3 workers: every segment file has exactly its
  frames, starts with a keyframe and lasts its time range; joined with
  ffmpeg's concat demuxer plus the source's audio they give the source's
  frame count and duration (within one frame), and match a single ffmpeg
  run with the same filter graph and encoder at PSNR >= 35 dB; each frame
  row is in PostgreSQL exactly once, the Redis done hash has every segment;
- kill -9 of a worker in the middle of a segment: another finishes the job,
  no segment missing or duplicated, rows counted exactly once;
- poison tasks: a segment that fails maxAttempts times is marked failed
  (PostgreSQL, Redis) and dead-lettered with its reason; a message that is
  not a task is dead-lettered as malformed; the worker goes on.

Every wait is on a condition with a deadline.
"""
import json
import os
import pathlib
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from conftest import ROOT, run

WORKER = os.environ.get("SLUICE_WORKER", str(ROOT / "build" / "sluice-worker"))
FILTERS = "scale=256:-2,hue=s=0.5"
PRESET = "veryfast"
CRF = 23


# ---- clients -------------------------------------------------------------

def psql(stack, sql):
    return run(["psql", "-X", "-v", "ON_ERROR_STOP=1", "-tA", "-F", "\t", "-d", stack["PG_DSN"],
                "-c", sql]).stdout


def redis(stack, *args):
    return run(["redis-cli", "-h", stack["REDIS_HOST"], "-p", stack["REDIS_PORT"], "--raw",
                *args]).stdout


def hgetall(stack, key):
    out = redis(stack, "HGETALL", key).splitlines()
    return dict(zip(out[0::2], out[1::2]))


def influx(stack, q):
    qs = urllib.parse.urlencode({"db": stack["INFLUX_DB"], "q": q})
    with urllib.request.urlopen(f"{stack['INFLUX_URL']}/query?{qs}", timeout=10) as r:
        return json.load(r)["results"][0].get("series", [])


def create_topic(stack, topic, partitions):
    run(["java", "-Xmx256m", "-Dlog4j.configuration=file:/dev/null", "-cp",
         stack["KAFKA_LIBS"] + "/*", "org.apache.kafka.tools.TopicCommand",
         "--bootstrap-server", stack["KAFKA_BOOTSTRAP"], "--create", "--topic", topic,
         "--partitions", str(partitions), "--replication-factor", stack["KAFKA_BROKERS"]])


def produce(stack, topic, records):
    data = "".join(f"{k}\t{v}\n" for k, v in records)
    run(["kcat", "-b", stack["KAFKA_BOOTSTRAP"], "-P", "-t", topic, "-K", "\t"], input=data)


def consume_all(stack, topic):
    out = run(["kcat", "-b", stack["KAFKA_BOOTSTRAP"], "-C", "-t", topic, "-o", "beginning",
               "-e", "-q", "-J"], check=False).stdout
    return [json.loads(l) for l in out.splitlines() if l.strip()]


def headers(msg):
    h = msg.get("headers") or []
    return dict(zip(h[0::2], h[1::2]))


def wait_for(cond, timeout, what, interval=0.25):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = cond()
        except (AssertionError, subprocess.SubprocessError, OSError, ValueError) as e:
            last = e
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


# ---- media ---------------------------------------------------------------

def ffmpeg(*args):
    run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args], timeout=300)


def video_packets(path):
    """[(pts, key)] of the first video stream, sorted by pts, and its time base."""
    out = run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
               "stream=time_base:packet=pts,flags", "-of", "json", str(path)]).stdout
    j = json.loads(out)
    num, den = map(int, j["streams"][0]["time_base"].split("/"))
    pk = sorted((int(p["pts"]), "K" in p["flags"]) for p in j["packets"])
    return pk, (num, den)


def stream_info(path, sel="v:0"):
    """(frames counted by decoding, duration in s) of a stream."""
    out = run(["ffprobe", "-v", "error", "-select_streams", sel, "-count_frames",
               "-show_entries", "stream=nb_read_frames,duration,codec_name", "-of", "json",
               str(path)]).stdout
    s = json.loads(out)["streams"]
    return s[0] if s else None


def make_source(path, seconds, size, rate=25, gop=25):
    """H.264 with B-frames in MP4, a keyframe every gop frames, sine audio."""
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=s={size}:r={rate}:d={seconds}", "-f", "lavfi",
           "-i", f"sine=f=440:d={seconds}", "-c:v", "libx264", "-preset", "ultrafast",
           "-x264-params", f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=2",
           "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path))


def plan(path, seconds_per_segment):
    """Keyframe-aligned segments of about seconds_per_segment, as split plans
    them: [(start_pts, end_pts, frames)], the last ending one past the last
    pts."""
    pk, tb = video_packets(path)
    per = seconds_per_segment * tb[1] / tb[0]
    starts = []
    for pts, key in pk:
        if key and (not starts or pts - starts[-1] >= per):
            starts.append(pts)
    ends = starts[1:] + [pk[-1][0] + 1]
    segs = [(s, e, sum(1 for p, _ in pk if s <= p < e)) for s, e in zip(starts, ends)]
    return segs, tb, len(pk)


class Job:
    """A VideoJob's spec file, its plan in PostgreSQL and its topic."""

    def __init__(self, stack, tmp, unique, source, seconds_per_segment=2, max_attempts=3,
                 partitions=3, plan_here=True):
        self.stack = stack
        self.ns, self.name = "e2e", f"vp-{unique}"
        self.job = f"{self.ns}/{self.name}"
        self.topic = f"sluice-vj-{self.ns}-{self.name}"
        self.dlq = self.topic + ".dlq"
        self.source = source
        self.out = tmp / "out.mp4"
        self.segdir = tmp / ".out.mp4.segments"
        self.segdir.mkdir()
        self.segs, self.tb, self.frames_total = plan(source, seconds_per_segment)
        self.spec = tmp / "vj.json"
        self.spec.write_text(json.dumps({
            "name": self.name, "namespace": self.ns,
            "spec": {
                "source": {"uri": f"file://{source}"}, "output": {"uri": f"file://{self.out}"},
                "segmentSeconds": seconds_per_segment, "maxAttempts": max_attempts,
                "filters": FILTERS, "encoder": {"codec": "libx264", "crf": CRF,
                                                "preset": PRESET},
                "kafka": {"bootstrap": stack["KAFKA_BOOTSTRAP"]},
                "workers": {"maxReplicas": partitions},
                "sinks": {"postgres": {"dsn": {"name": "pg", "key": "dsn"}},
                          "redis": {"addr": stack["REDIS_ADDR"]},
                          "influxdb": {"url": stack["INFLUX_URL"],
                                       "database": stack["INFLUX_DB"]}}}}))
        if plan_here:
            create_topic(stack, self.topic, partitions)
        self.prefix = f"sluice:vj:{self.ns}:{self.name}:"

    def split(self):
        """`sluice-worker split` plans and publishes; the plan it recorded
        replaces the one made here (it must agree on the frames)."""
        mode(self.stack, "split", self)
        rows = psql(self.stack, f"SELECT start_pts, end_pts, frames_expected FROM "
                                f"video_segments WHERE job = '{self.job}' ORDER BY idx")
        self.segs = [tuple(map(int, l.split("\t"))) for l in rows.splitlines()]
        assert sum(n for _, _, n in self.segs) == self.frames_total
        # Split puts segments beside the output; this test reads them there.
        self.segdir = self.out.parent / f".{self.out.name}.segments"

    def seg_path(self, i):
        return self.segdir / f"seg-{i:05d}.mp4"

    def task(self, i, source=None):
        s, e, n = self.segs[i]
        ms = lambda pts: round((pts - self.segs[0][0]) * 1000 * self.tb[0] / self.tb[1])
        return {"v": 1, "job": self.job, "source": f"file://{source or self.source}",
                "segment": i, "segments": len(self.segs), "stream": 0,
                "time_base": list(self.tb), "start_pts": s, "end_pts": e,
                "start_ms": ms(s), "end_ms": ms(e), "frames": n,
                "output": f"file://{self.seg_path(i)}"}

    def record_plan(self):
        """The rows split would record (the worker created the schema)."""
        dur = round((self.segs[-1][1] - self.segs[0][0]) * 1000 * self.tb[0] / self.tb[1])
        psql(self.stack, f"INSERT INTO video_jobs (job, source, output, stream, tb_num, "
                         f"tb_den, segments_total, frames_total, duration_ms) VALUES "
                         f"('{self.job}', 'file://{self.source}', 'file://{self.out}', 0, "
                         f"{self.tb[0]}, {self.tb[1]}, {len(self.segs)}, {self.frames_total}, "
                         f"{dur})")
        for i, (s, e, n) in enumerate(self.segs):
            t = self.task(i)
            psql(self.stack, f"INSERT INTO video_segments (job, idx, start_pts, end_pts, "
                             f"start_ms, end_ms, frames_expected, output) VALUES "
                             f"('{self.job}', {i}, {s}, {e}, {t['start_ms']}, {t['end_ms']}, "
                             f"{n}, '{t['output']}')")

    def publish(self, tasks=None):
        tasks = tasks if tasks is not None else [self.task(i) for i in range(len(self.segs))]
        produce(self.stack, self.topic, [(t["segment"], json.dumps(t)) for t in tasks])

    def done(self):
        return hgetall(self.stack, self.prefix + "done")

    def wait_done(self, timeout):
        wait_for(lambda: len(self.done()) == len(self.segs), timeout, "every segment done")

    def rows(self):
        return psql(self.stack, f"SELECT count(*), count(DISTINCT (segment, frame)) FROM "
                                f"video_frames WHERE job = '{self.job}'").split()


def mode(stack, name, job, check=True):
    """A one-shot mode (split, assemble) run to its end."""
    env = {**os.environ, "SLUICE_SECRET_PG_DSN": stack["PG_DSN"]}
    return run([WORKER, name, "--config", str(job.spec)], env=env, check=check, timeout=300)


class Worker:
    """One sluice-worker process; its JSON log lines are collected."""

    def __init__(self, stack, job, *flags):
        env = {**os.environ, "SLUICE_SECRET_PG_DSN": stack["PG_DSN"]}
        self.p = subprocess.Popen(
            [WORKER, "process", "--config", str(job.spec), "--metrics-port", "0",
             "--session-timeout", "6s", "--retry-max", "2s", "--decoder-threads", "1",
             "--encoder-threads", "1", "--filter-threads", "1", *flags],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        self.lines = []
        self.port = None
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()
        wait_for(lambda: self.port or self.p.poll() is not None, 20, "the worker's endpoint")
        assert self.port, f"worker exited early: {self.lines}"

    def _read(self):
        for line in self.p.stderr:
            try:
                rec = json.loads(line)
            except ValueError:
                rec = {"msg": line.rstrip()}
            self.lines.append(rec)
            if rec.get("msg") == "http endpoint listening":
                self.port = int(rec["port"])

    def get(self, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def wait_ready(self, timeout=30):
        wait_for(lambda: self.get("/readyz")[0] == 200, timeout, "/readyz")

    def metrics(self):
        out = {}
        for line in self.get("/metrics")[1].splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
        return out

    def logged(self, msg):
        return [l for l in self.lines if l.get("msg") == msg]

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        rc = self.p.wait(timeout=60)
        self._t.join(timeout=5)
        return rc

    def kill(self):
        self.p.kill()
        self.p.wait(timeout=10)

    def drain(self):
        """Waits until the log reader has read everything the (stopped)
        process wrote."""
        self._t.join(timeout=10)
        assert not self._t.is_alive(), "the worker's log did not end"


@pytest.fixture
def workers():
    started = []

    def start(*args):
        w = Worker(*args)
        started.append(w)
        return w
    yield start
    for w in started:
        if w.p.poll() is None:
            w.kill()


# ---- checks --------------------------------------------------------------

def check_segments(job, killed_pid=None):
    """Each segment file: exactly its frames, a keyframe first, its duration;
    no temporary file left behind (but a killed worker's: kill -9 gives it
    no chance to remove it, and it never had the final name)."""
    for i, (s, e, n) in enumerate(job.segs):
        path = job.seg_path(i)
        assert path.exists(), f"segment {i} missing"
        pk, tb = video_packets(path)
        assert len(pk) == n, f"segment {i}: {len(pk)} frames, want {n}"
        first = run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                     "packet=flags", "-read_intervals", "%+#1", "-of", "csv=p=0",
                     str(path)]).stdout.strip()
        assert first.startswith("K"), f"segment {i} does not start with a keyframe"
        want = (e - s) * job.tb[0] / job.tb[1]
        got = float(stream_info(path)["duration"])
        if i + 1 < len(job.segs):
            assert abs(got - want) < 0.002, f"segment {i} lasts {got}s, want {want}s"
        else:
            # The last one ends one tick past its last frame's start: that
            # frame keeps its own duration (1/25 s).
            assert abs(got - (want + 0.04)) < 0.002, f"last segment lasts {got}s"
    leftovers = [p.name for p in job.segdir.iterdir() if p.name.startswith(".")
                 and not (killed_pid and f".{killed_pid}-" in p.name)]
    assert not leftovers, f"temporary files left: {leftovers}"


def assemble_here(job, tmp):
    """Concatenates the segments without re-encoding and adds the source's
    audio (as assemble does), with the ffmpeg tool."""
    lst = tmp / "list.txt"
    lst.write_text("".join(f"file '{job.seg_path(i)}'\n" for i in range(len(job.segs))))
    ffmpeg("-f", "concat", "-safe", "0", "-i", str(lst), "-i", str(job.source), "-map", "0:v",
           "-map", "1:a", "-c", "copy", "-movflags", "+faststart", str(job.out))
    return job.out


def psnr(a, b):
    """Average PSNR (dB) of b against a, with ffmpeg's psnr filter."""
    p = subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-i", str(b), "-i", str(a),
                        "-lavfi", "[0:v][1:v]psnr", "-f", "null", "-"],
                       capture_output=True, text=True, timeout=300)
    m = re.search(r"PSNR .*average:([0-9.]+|inf)", p.stderr)
    assert m, p.stderr[-2000:]
    return float("inf") if m.group(1) == "inf" else float(m.group(1))


def check_output(job, tmp, out=None):
    out = out or assemble_here(job, tmp)
    src_v, out_v = stream_info(job.source), stream_info(out)
    assert int(out_v["nb_read_frames"]) == int(src_v["nb_read_frames"]) == job.frames_total
    assert abs(float(out_v["duration"]) - float(src_v["duration"])) <= 1 / 25 + 1e-3
    audio = stream_info(out, "a:0")
    assert audio is not None and audio["codec_name"] == "aac", "audio not kept"
    # One ffmpeg process, same graph and encoder settings.
    ref = tmp / "reference.mp4"
    ffmpeg("-i", str(job.source), "-vf", FILTERS, "-c:v", "libx264", "-preset", PRESET,
           "-crf", str(CRF), "-an", str(ref))
    score = psnr(ref, out)
    assert score >= 35, f"PSNR {score} dB against a single ffmpeg run"
    return score


def check_rows(job):
    total, distinct = map(int, job.rows())
    assert total == distinct == job.frames_total
    done = job.done()
    assert sorted(map(int, done)) == list(range(len(job.segs)))
    assert sum(map(int, done.values())) == job.frames_total
    states = psql(job.stack, f"SELECT state, count(*), sum(frames_done) FROM video_segments "
                             f"WHERE job = '{job.job}' GROUP BY state").split()
    assert states == ["done", str(len(job.segs)), str(job.frames_total)], states
    # Analysis values are sane: testsrc2 is neither black nor white, and
    # motion/scene are NULL only on each segment's first frame.
    lo, hi, nulls = psql(job.stack, f"SELECT min(mean_luma), max(mean_luma), "
                                    f"count(*) FILTER (WHERE motion IS NULL) FROM video_frames "
                                    f"WHERE job = '{job.job}'").split()
    assert 20 < float(lo) <= float(hi) < 235
    assert int(nulls) == len(job.segs)


# ---- tests ---------------------------------------------------------------

@pytest.mark.parametrize("nworkers", [1, 3])
def test_job_end_to_end(stack, tmp_path, unique, workers, nworkers):
    src = tmp_path / "source.mp4"
    make_source(src, seconds=8, size="320x180")
    job = Job(stack, tmp_path, unique, src)
    ws = [workers(stack, job) for _ in range(nworkers)]
    for w in ws:
        w.wait_ready()
    job.record_plan()
    job.publish()
    job.wait_done(180)
    check_segments(job)
    check_rows(job)
    check_output(job, tmp_path)
    # Throughput points, one per segment (at least: a redelivery adds one).
    series = influx(stack, f"SELECT count(frames) FROM sluice_vj_segments WHERE "
                           f"job = '{job.job}'")
    assert series and series[0]["values"][0][1] >= len(job.segs)
    m = {}
    for w in ws:
        for k, v in w.metrics().items():
            m[k] = m.get(k, 0) + v
    assert m['sluice_vj_segments_total{result="done"}'] == len(job.segs)
    assert m["sluice_vj_frames_total"] == job.frames_total
    # A redelivered task of a finished segment is skipped, not redone.
    job.publish([job.task(0)])
    wait_for(lambda: sum(w.metrics().get('sluice_vj_segments_total{result="skipped"}', 0)
                         for w in ws) == 1, 60, "the redelivery skipped")
    assert list(map(int, job.rows())) == [job.frames_total] * 2
    if nworkers == 3:
        # The work was shared.
        busy = [w for w in ws if w.metrics()['sluice_vj_segments_total{result="done"}'] > 0]
        assert len(busy) >= 2
    for w in ws:
        assert w.stop() == 0


def test_kill_mid_segment(stack, tmp_path, unique, workers):
    """kill -9 while a segment is being encoded: the task is redelivered to
    the other worker, the job completes, nothing is missing or doubled."""
    src = tmp_path / "source.mp4"
    make_source(src, seconds=8, size="1280x720")
    job = Job(stack, tmp_path, unique, src, partitions=2)
    a = workers(stack, job)
    a.wait_ready()
    job.record_plan()
    job.publish()
    wait_for(lambda: a.logged("segment started"), 60, "a segment to start")
    # Freeze the worker, then kill it only if PostgreSQL shows a segment it
    # has started and not finished: a timed sleep alone can land between
    # two segments on a fast machine, and then nothing is retried.
    def in_flight():
        a.p.send_signal(signal.SIGSTOP)
        n = 0
        try:
            n = int(psql(stack, f"SELECT count(*) FROM video_segments WHERE job = "
                                f"'{job.job}' AND attempts >= 1 AND state = 'pending'"))
        finally:
            if n == 0:
                a.p.send_signal(signal.SIGCONT)
        return n > 0
    wait_for(in_flight, 60, "a segment in flight", interval=0.05)
    a.kill()
    b = workers(stack, job)
    job.wait_done(300)
    check_segments(job, killed_pid=a.p.pid)
    check_rows(job)
    attempts = psql(stack, f"SELECT max(attempts) FROM video_segments "
                           f"WHERE job = '{job.job}'").strip()
    assert int(attempts) >= 2, "the killed segment was not retried"
    assert b.stop() == 0


def test_poison_and_malformed_tasks(stack, tmp_path, unique, workers):
    src = tmp_path / "source.mp4"
    make_source(src, seconds=4, size="160x96")
    job = Job(stack, tmp_path, unique, src, max_attempts=2, partitions=1)
    w = workers(stack, job)
    w.wait_ready()
    job.record_plan()
    # Segment 0 points at a file that does not exist: it fails twice, then
    # is failed and dead-lettered; a message that is no task is malformed;
    # segment 1 is fine and still gets done after them.
    produce(stack, job.topic, [("x", "this is not a task")])
    job.publish([job.task(0, source=tmp_path / "missing.mp4"), job.task(1)])
    wait_for(lambda: len(consume_all(stack, job.dlq)) == 2, 90, "two dead letters")
    wait_for(lambda: "1" in job.done(), 60, "segment 1 done")
    dl = {headers(m)["sluice-kind"]: m for m in consume_all(stack, job.dlq)}
    assert set(dl) == {"malformed", "failed"}
    reason = headers(dl["failed"])["sluice-reason"]
    assert "segment 0" in reason and "No such file or directory" in reason, reason
    assert headers(dl["failed"])["sluice-resource"] == job.job
    assert json.loads(dl["failed"]["payload"])["segment"] == 0
    failed = hgetall(stack, job.prefix + "failed")
    assert "No such file or directory" in failed["0"]
    row = psql(stack, f"SELECT state, attempts, reason FROM video_segments WHERE "
                      f"job = '{job.job}' AND idx = 0").strip().split("\t")
    assert row[0] == "failed" and row[1] == "2" and "No such file" in row[2], row
    assert not (job.segdir / "seg-00000.mp4").exists()
    # The job cannot succeed any more: it says why.
    meta = hgetall(stack, job.prefix + "meta")
    assert meta["failed"].startswith("segment 0 failed: "), meta
    assert psql(stack, f"SELECT state FROM video_jobs WHERE job = '{job.job}'").strip() == \
        "failed"

    m = w.metrics()
    assert m['sluice_vj_segments_total{result="failed"}'] == 1
    assert m['sluice_vj_segments_total{result="malformed"}'] == 1
    assert m['sluice_vj_segment_failures_total{kind="source"}'] == 2
    assert w.stop() == 0


@pytest.mark.parametrize("nworkers,kill", [(1, False), (3, False), (2, True)],
                         ids=["1-worker", "3-workers", "kill-9"])
def test_split_process_assemble(stack, tmp_path, unique, workers, nworkers, kill):
    """The whole data plane with its own modes: split plans and publishes,
    `process` workers (one of them killed with SIGKILL mid-segment in the
    kill-9 case) encode, assemble joins the segments with the source's
    audio. The output matches the source and a single ffmpeg run."""
    src = tmp_path / "source.mp4"
    make_source(src, seconds=8, size="1280x720" if kill else "320x180")
    job = Job(stack, tmp_path, unique, src, partitions=3, plan_here=False)
    job.split()
    ws = [workers(stack, job) for _ in range(nworkers)]
    killed_segs = set()
    victim = None
    if kill:
        def unfinished(segs):
            """Those of segs whose rows are not committed: a segment started
            twice (its partition moved on a rebalance) may be done already."""
            if not segs:
                return set()
            done = psql(stack, f"SELECT idx FROM video_segments WHERE job = '{job.job}' "
                               f"AND state = 'done' AND idx IN ({','.join(segs)})")
            return set(segs) - set(done.split())

        def in_flight(w):
            started = {l["segment"] for l in w.logged("segment started")}
            return unfinished(started - {l["segment"] for l in w.logged("segment done")})

        def stopped_mid_segment():
            """A worker in the middle of a segment (the group decides who is
            given the partitions), stopped (SIGSTOP) so that it is still in
            the middle when it is killed; None when none is."""
            for w in ws:
                if in_flight(w):
                    w.p.send_signal(signal.SIGSTOP)
                    if in_flight(w):  # its rows are not committed, and now cannot be
                        return w
                    w.p.send_signal(signal.SIGCONT)
            return None

        # Segments take a fraction of a second here: a kill timed from the
        # log alone could land after a segment's rows were committed (its
        # redelivery is then skipped, not retried).
        victim = wait_for(stopped_mid_segment, 60, "a segment in flight", interval=0.05)
        killed_segs = in_flight(victim)
        victim.kill()
        victim.drain()  # every line the process wrote before it died
        assert killed_segs and not killed_segs & {l["segment"] for l in
                                                  victim.logged("segment done")}
    job.wait_done(300)
    check_segments(job, killed_pid=victim.p.pid if victim else None)
    check_rows(job)
    mode(stack, "assemble", job)
    assert hgetall(stack, job.prefix + "meta")["assembled"] == "1"
    score = check_output(job, tmp_path, out=job.out)
    print(f"PSNR against one ffmpeg run: {score:.2f} dB")
    if killed_segs:
        idx = ",".join(sorted(killed_segs))
        attempts = psql(stack, f"SELECT min(attempts) FROM video_segments "
                               f"WHERE job = '{job.job}' AND idx IN ({idx})").strip()
        assert int(attempts) >= 2, f"the killed segment(s) {idx} were not retried"
    for w in ws:
        if w is not victim:
            assert w.stop() == 0


def test_sigterm_abandons_the_segment(stack, tmp_path, unique, workers):
    """SIGTERM mid-segment: the worker stops promptly and cleanly (exit 0),
    leaves no temporary or partial file and commits nothing for the segment;
    a new worker then does every segment."""
    src = tmp_path / "source.mp4"
    make_source(src, seconds=6, size="1280x720")
    job = Job(stack, tmp_path, unique, src, partitions=1)
    a = workers(stack, job)
    a.wait_ready()
    job.record_plan()
    job.publish()
    wait_for(lambda: a.logged("segment started"), 60, "a segment to start")
    started = time.time()
    assert a.stop() == 0
    assert time.time() - started < 15
    assert a.logged("segment abandoned: stopping") or a.logged("segment done")
    assert not [p.name for p in job.segdir.iterdir() if p.name.startswith(".")]
    done_before = len(job.done())
    assert done_before < len(job.segs)
    workers(stack, job)
    job.wait_done(300)
    check_segments(job)
    check_rows(job)
