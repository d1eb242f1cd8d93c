"""VideoJob split and assemble on the real stack (Kafka, PostgreSQL, Redis).

Sources are made here with ffmpeg's lavfi generators (testsrc2 + a sine
tone) in several codecs and containers. `sluice-worker split` must publish
one task per keyframe-aligned segment (read back with kcat), record the plan
in PostgreSQL (psql) and the progress meta in Redis (redis-cli), and publish
nothing new when run again. Until the `process` mode lands, the segment
files are made by the ffmpeg CLI from the plan's pts ranges and marked done
in PostgreSQL and Redis exactly as docs/contracts.md §3 says; `assemble` must then
produce output.uri with the source's frame count and duration (ffprobe,
within one frame) and its audio: every track, copied where the container
carries the codec, else AAC, each in sync and as long as the source's
within one audio frame, with its language and title; and the video's
rotation and colour fields (test_assemble_keeps). Bad inputs must fail with
the job's name and FFmpeg's own message. An http:// source is served by
python's http.server on 127.0.0.1. SLUICE_WORKER names another
sluice-worker to test (an ASan build, an older one).

Needs: SLUICE_STACK_COMPONENTS="kafka postgres redis" tests/e2e/stack.sh up
"""
import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import time

import pytest

from conftest import ROOT, run

WORKER = os.environ.get("SLUICE_WORKER", str(ROOT / "build" / "sluice-worker"))
FPS = 25
SECONDS = 6


def ffmpeg(*args):
    run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args], timeout=300)


def tone(freq, seconds=3, rate=48000):
    return ["-f", "lavfi", "-i", f"sine=frequency={freq}:sample_rate={rate}:duration={seconds}"]


def lavfi_inputs(size="320x240", seconds=SECONDS, rate=FPS, audio=True):
    a = ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}"]
    if audio:
        a += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]
    return a


def ffprobe_streams(path):
    out = run(["ffprobe", "-v", "error", "-count_packets", "-show_entries",
               "stream=index,codec_type,codec_name,nb_read_packets,duration,time_base",
               "-show_entries", "format=duration", "-of", "json", str(path)]).stdout
    return json.loads(out)


def video_info(path):
    """(frames, duration in ms) of the video stream, from the packets' pts."""
    out = run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
               "packet=pts_time,duration_time", "-of", "csv=p=0", str(path)]).stdout
    pts = []
    last_dur = 0.0
    for line in out.split():
        t, d = (line.split(",") + ["N/A"])[:2]
        if t != "N/A":
            pts.append(float(t))
            if float(t) >= max(pts):
                last_dur = float(d) if d not in ("N/A", "") else 0.0
    return len(pts), round((max(pts) + last_dur - min(pts)) * 1000)


def has_audio(path):
    return any(s["codec_type"] == "audio" for s in ffprobe_streams(path)["streams"])


def rotation(path):
    """The video stream's display matrix rotation (ffprobe's), or None."""
    out = run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
               "stream_side_data_list", "-of", "json", str(path)]).stdout
    for sd in json.loads(out)["streams"][0].get("side_data_list", []):
        if sd.get("side_data_type") == "Display Matrix":
            return sd["rotation"]
    return None


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """Test videos: name -> (path, output extension)."""
    d = tmp_path_factory.mktemp("src")
    s = {}
    # H.264 in MP4 with B-frames, keyframe every second, AAC audio.
    s["h264"] = d / "h264.mp4"
    ffmpeg(*lavfi_inputs(), "-c:v", "libx264", "-preset", "veryfast", "-bf", "2", "-g", "25",
           "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(s["h264"]))
    # MPEG-4 Part 2 in AVI, MP3 audio.
    s["mpeg4"] = d / "mpeg4.avi"
    ffmpeg(*lavfi_inputs(), "-c:v", "mpeg4", "-q:v", "4", "-g", "25", "-c:a", "libmp3lame",
           "-shortest", str(s["mpeg4"]))
    # VP9 in WebM, Opus audio.
    s["vp9"] = d / "vp9.webm"
    ffmpeg(*lavfi_inputs(), "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8",
           "-g", "25", "-c:a", "libopus", "-shortest", str(s["vp9"]))
    # VP9 + Vorbis in WebM, assembled into Matroska (the non-MP4 path).
    s["vorbis"] = d / "vorbis.webm"
    ffmpeg(*lavfi_inputs(), "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8",
           "-g", "25", "-c:a", "libvorbis", "-shortest", str(s["vorbis"]))
    # Variable frame rate: 7 of every 10 frames kept, their times unchanged.
    s["vfr"] = d / "vfr.mp4"
    ffmpeg(*lavfi_inputs(rate=30), "-vf", "select='lt(mod(n\\,10)\\,7)'", "-fps_mode", "vfr",
           "-c:v", "libx264", "-preset", "veryfast", "-g", "20", "-pix_fmt", "yuv420p",
           "-c:a", "aac", "-shortest", str(s["vfr"]))
    # Odd sizes (4:4:4, since 4:2:0 needs even ones).
    s["odd"] = d / "odd.mp4"
    ffmpeg(*lavfi_inputs(size="321x243"), "-c:v", "libx264", "-preset", "veryfast",
           "-pix_fmt", "yuv444p", "-g", "25", "-c:a", "aac", "-shortest", str(s["odd"]))
    # No audio.
    s["noaudio"] = d / "noaudio.mp4"
    ffmpeg(*lavfi_inputs(audio=False), "-c:v", "libx264", "-preset", "veryfast", "-g", "50",
           "-pix_fmt", "yuv420p", str(s["noaudio"]))
    # What assemble must keep (test_assemble_keeps): short and small.
    small = lavfi_inputs(size="160x120", seconds=3, audio=False)
    x264 = ["-c:v", "libx264", "-preset", "veryfast", "-g", "25"]
    # Two tracks, AAC and AC-3 (other tones), each with its language.
    s["tracks"] = d / "tracks.mp4"
    ffmpeg(*small, *tone(440), *tone(880), "-map", "0:v", "-map", "1:a", "-map", "2:a", *x264,
           "-pix_fmt", "yuv420p", "-c:a:0", "aac", "-c:a:1", "ac3", "-metadata:s:a:0",
           "language=eng", "-metadata:s:a:1", "language=fra", "-shortest", str(s["tracks"]))
    # The same in Matroska with titles too, assembled into Matroska (MP4 keeps no titles).
    s["titles"] = d / "titles.mkv"
    ffmpeg(*small, *tone(440), *tone(880), "-map", "0:v", "-map", "1:a", "-map", "2:a", *x264,
           "-pix_fmt", "yuv420p", "-c:a:0", "aac", "-c:a:1", "ac3", "-metadata:s:a:0",
           "language=eng", "-metadata:s:a:0", "title=Main", "-metadata:s:a:1",
           "language=fra", "-metadata:s:a:1", "title=Commentary", "-shortest",
           str(s["titles"]))
    # AC-3 alone, which MP4 carries.
    s["ac3"] = d / "ac3.mp4"
    ffmpeg(*small, *tone(440), *x264, "-pix_fmt", "yuv420p", "-c:a", "ac3", "-shortest",
           str(s["ac3"]))
    # PCM in AVI (mono, a layout that gives only its channel count): MP4 cannot carry it.
    s["pcm"] = d / "pcm.avi"
    ffmpeg(*small, *tone(440), "-c:v", "mpeg4", "-q:v", "4", "-g", "25", "-c:a", "pcm_s16le",
           "-shortest", str(s["pcm"]))
    # One track copied, one (PCM at 44.1 kHz) re-encoded, in Matroska.
    s["mixed"] = d / "mixed.mkv"
    ffmpeg(*small, *tone(440), *tone(660, rate=44100), "-map", "0:v", "-map", "1:a",
           "-map", "2:a", *x264, "-pix_fmt", "yuv420p", "-c:a:0", "aac", "-c:a:1",
           "pcm_s16le", "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=deu",
           "-shortest", str(s["mixed"]))
    # Rotated: the 5.1 mov muxer writes `rotate` as a display matrix when copying.
    plain = d / "unrotated.mp4"
    ffmpeg(*small, *tone(440), *x264, "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
           str(plain))
    s["rotated"] = d / "rotated.mp4"
    ffmpeg("-i", str(plain), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(s["rotated"]))
    # Full range (yuvj420p), and 10-bit tagged BT.709.
    s["fullrange"] = d / "fullrange.mp4"
    ffmpeg(*small, *x264, "-pix_fmt", "yuvj420p", str(s["fullrange"]))
    s["tenbit"] = d / "tenbit.mp4"
    ffmpeg(*small, *x264, "-pix_fmt", "yuv420p10le", "-color_primaries", "bt709",
           "-color_trc", "bt709", "-colorspace", "bt709", str(s["tenbit"]))
    return s


def job_config(stack, tmp, name, source_uri, output_uri, **spec):
    cfg = {"name": name, "namespace": "e2e", "spec": {
        "source": {"uri": source_uri}, "output": {"uri": output_uri},
        "segmentSeconds": 2,
        "kafka": {"bootstrap": stack["KAFKA_BOOTSTRAP"]},
        "workers": {"maxReplicas": 3},
        "sinks": {"postgres": {"dsn": {"name": "pg", "key": "dsn"}},
                  "redis": {"addr": stack["REDIS_ADDR"]}},
        **spec}}
    path = tmp / f"{name}.json"
    path.write_text(json.dumps(cfg))
    return path


def worker(stack, mode, cfg, check=True):
    env = {**os.environ, "SLUICE_SECRET_PG_DSN": stack["PG_DSN"]}
    return run([str(WORKER), mode, "--config", str(cfg)], env=env, check=check, timeout=300)


def psql(stack, sql):
    return run(["psql", "-X", "-v", "ON_ERROR_STOP=1", "-tA", "-F", "\t", "-d",
                stack["PG_DSN"], "-c", sql]).stdout


def redis(stack, *args):
    return run(["redis-cli", "-h", stack["REDIS_HOST"], "-p", stack["REDIS_PORT"],
                "--raw", *args]).stdout


def hgetall(stack, key):
    items = redis(stack, "HGETALL", key).split("\n")
    return dict(zip(items[0::2], items[1::2]))


def tasks(stack, topic):
    """Every message of topic: (partition, key, value as JSON)."""
    out = run(["kcat", "-b", stack["KAFKA_BOOTSTRAP"], "-C", "-t", topic, "-e", "-q",
               "-f", "%p\t%k\t%s\n"], timeout=60).stdout
    msgs = []
    for line in out.splitlines():
        p, k, v = line.split("\t", 2)
        msgs.append((int(p), k, json.loads(v)))
    return msgs


def make_segments(stack, job, src):
    """What `process` will do, done by the ffmpeg CLI: each planned pts range
    re-encoded on its own (closed GOP, keyframe first), written under a
    temporary name and renamed; then the segment marked done in PostgreSQL
    and Redis as docs/contracts.md §3 says."""
    rows = psql(stack, f"SELECT idx, start_pts, end_pts, frames_expected, output FROM "
                       f"video_segments WHERE job = '{job}' ORDER BY idx").split("\n")
    ns, name = job.split("/")
    rotated = rotation(src) is not None
    for row in filter(None, rows):
        idx, start, end, frames, out = row.split("\t")
        path = pathlib.Path(out[len("file://"):])
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.mp4")
        # -copyts: the filter sees the source's own pts (the plan's units).
        # -noautorotate: process encodes the pixels as stored, unrotated.
        ffmpeg("-noautorotate", "-copyts", "-i", str(src), "-an", "-vf",
               f"trim=start_pts={start}:end_pts={end},setpts=PTS-STARTPTS",
               "-fps_mode", "passthrough", "-c:v", "libx264", "-preset", "veryfast",
               "-bf", "2", "-g", "1000", str(tmp))
        if rotated:
            # Nor does process write a display matrix, which the ffmpeg tool
            # copies: drop it (rotate=0 on a copy), so the output's can
            # only come from the source.
            bare = path.with_name(path.name + ".bare.mp4")
            ffmpeg("-i", str(tmp), "-c", "copy", "-metadata:s:v:0", "rotate=0", str(bare))
            assert rotation(bare) is None
            bare.rename(tmp)
        tmp.rename(path)
        psql(stack, f"UPDATE video_segments SET state = 'done', frames_done = {frames} "
                    f"WHERE job = '{job}' AND idx = {idx}")
        redis(stack, "HSET", f"sluice:vj:{ns}:{name}:done", idx, frames)


def check_split(stack, job, topic, src):
    frames, duration_ms = video_info(src)
    row = psql(stack, f"SELECT segments_total, frames_total, duration_ms, state FROM "
                      f"video_jobs WHERE job = '{job}'").strip().split("\t")
    segments, frames_total, dur = int(row[0]), int(row[1]), int(row[2])
    assert row[3] == "planned"
    assert frames_total == frames
    assert abs(dur - duration_ms) <= 1
    segs = psql(stack, f"SELECT idx, start_pts, end_pts, frames_expected, state FROM "
                       f"video_segments WHERE job = '{job}' ORDER BY idx").split("\n")
    segs = [r.split("\t") for r in segs if r]
    assert len(segs) == segments >= 2
    assert sum(int(r[3]) for r in segs) == frames
    for a, b in zip(segs, segs[1:]):
        assert a[2] == b[1], "segments must be contiguous"
    msgs = tasks(stack, topic)
    assert sorted(int(k) for _, k, _ in msgs) == list(range(segments))
    for p, k, v in msgs:
        assert v["job"] == job and v["segment"] == int(k) and v["segments"] == segments
        assert p == int(k) % 3, "segments spread over the partitions"
    ns, name = job.split("/")
    meta = hgetall(stack, f"sluice:vj:{ns}:{name}:meta")
    assert meta["split_done"] == "1"
    assert int(meta["segments_total"]) == segments
    assert int(meta["frames_total"]) == frames
    return segments, frames, duration_ms


@pytest.mark.parametrize("kind", ["h264", "mpeg4", "vp9", "vorbis", "vfr", "odd", "noaudio"])
def test_split_and_assemble(stack, sources, tmp_path, unique, kind):
    src = sources[kind]
    name = f"{kind}-{unique}"
    job = f"e2e/{name}"
    topic = f"sluice-vj-e2e-{name}"
    ext = "mkv" if kind == "vorbis" else "mp4"
    out = tmp_path / "out" / f"{name}.{ext}"
    out.parent.mkdir()
    cfg = job_config(stack, tmp_path, name, f"file://{src}", f"file://{out}")

    worker(stack, "split", cfg)
    segments, frames, duration_ms = check_split(stack, job, topic, src)

    # A second run publishes nothing and changes nothing.
    before = psql(stack, f"SELECT idx, start_pts, end_pts, frames_expected FROM "
                         f"video_segments WHERE job = '{job}' ORDER BY idx")
    worker(stack, "split", cfg)
    assert len(tasks(stack, topic)) == segments
    assert psql(stack, f"SELECT idx, start_pts, end_pts, frames_expected FROM "
                       f"video_segments WHERE job = '{job}' ORDER BY idx") == before

    # Not every segment done: assemble waits (75) and marks nothing.
    p = worker(stack, "assemble", cfg, check=False)
    assert p.returncode == 75, p.stderr
    assert "not ready" in p.stderr and job in p.stderr
    assert not out.exists()

    make_segments(stack, job, src)
    worker(stack, "assemble", cfg)
    got_frames, got_ms = video_info(out)
    assert got_frames == frames
    assert abs(got_ms - duration_ms) <= 1000 / FPS + 1
    assert has_audio(out) == has_audio(src)
    if ext == "mp4":
        with open(out, "rb") as f:
            head = f.read(1 << 16)
        assert 0 <= head.find(b"moov") < max(head.find(b"mdat"), 1 << 16), "+faststart"
    assert not list(out.parent.glob("*.partial-*"))
    assert psql(stack, f"SELECT state FROM video_jobs WHERE job = '{job}'").strip() == \
        "assembled"
    meta = hgetall(stack, f"sluice:vj:e2e:{name}:meta")
    assert meta["assembled"] == "1" and int(meta["output_frames"]) == frames
    # The output decodes without errors.
    assert run(["ffmpeg", "-v", "error", "-i", str(out), "-f", "null", "-"]).stderr == ""


def probe_keep(path):
    """The streams' codecs, packet counts, tags, disposition and colour
    fields (ffprobe)."""
    out = run(["ffprobe", "-v", "error", "-count_packets", "-show_entries",
               "stream=index,codec_type,codec_name,nb_read_packets,sample_rate,pix_fmt,"
               "color_range,color_space,color_primaries,color_transfer"
               ":stream_tags=language,title:stream_disposition=default", "-of", "json",
               str(path)]).stdout
    return json.loads(out)["streams"]


def audio_timing(path, n):
    """Audio stream n's decoded frames: (first pts, end of the last, the
    largest frame), in seconds."""
    out = run(["ffprobe", "-v", "error", "-select_streams", f"a:{n}", "-show_entries",
               "stream=sample_rate:frame=pts_time,pkt_duration_time,nb_samples", "-of", "json",
               str(path)]).stdout
    j = json.loads(out)
    rate = int(j["streams"][0]["sample_rate"])
    frames = [(float(f["pts_time"]), float(f["pkt_duration_time"]), f["nb_samples"] / rate)
              for f in j["frames"]]
    first = min(t for t, _, _ in frames)
    end = max(t + d for t, d, _ in frames)
    return first, end, max(f for _, _, f in frames)


def first_video_time(path):
    out = run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
               "packet=pts_time", "-of", "csv=p=0", str(path)]).stdout
    return min(float(t) for t in out.split() if t != "N/A")


def assembled_line(stderr):
    for line in stderr.splitlines():
        if line.startswith("{") and json.loads(line).get("msg") == "assembled":
            return json.loads(line)
    raise AssertionError(f"no \"assembled\" log line in {stderr}")


# kind -> (output extension, the output's audio codecs in order, the log's "audio")
KEEPS = {
    "tracks": ("mp4", ["aac", "ac3"], "2 copied"),
    "titles": ("mkv", ["aac", "ac3"], "2 copied"),
    "ac3": ("mp4", ["ac3"], "1 copied"),
    "pcm": ("mp4", ["aac"], "1 aac"),
    "mixed": ("mp4", ["aac", "aac"], "1 copied, 1 aac"),
    "rotated": ("mp4", ["aac"], "1 copied"),
    "fullrange": ("mp4", [], "none"),
    "tenbit": ("mp4", [], "none"),
}


@pytest.mark.parametrize("kind", list(KEEPS))
def test_assemble_keeps(stack, sources, tmp_path, unique, kind):
    """Every audio track, in source order, copied where the container
    carries its codec and re-encoded to AAC where not, each with its
    language, title and default flag, in sync with the video and as long as
    the source's (within one audio frame); the video's rotation and colour
    fields as the source has them."""
    src = sources[kind]
    ext, codecs, audio_log = KEEPS[kind]
    name = f"keep-{kind}-{unique}"
    job = f"e2e/{name}"
    out = tmp_path / f"{name}.{ext}"
    cfg = job_config(stack, tmp_path, name, f"file://{src}", f"file://{out}")
    worker(stack, "split", cfg)
    make_segments(stack, job, src)
    p = worker(stack, "assemble", cfg)
    assert video_info(out)[0] == video_info(src)[0]
    assert run(["ffmpeg", "-v", "error", "-i", str(out), "-f", "null", "-"]).stderr == ""

    s_in, s_out = probe_keep(src), probe_keep(out)
    a_in = [s for s in s_in if s["codec_type"] == "audio"]
    a_out = [s for s in s_out if s["codec_type"] == "audio"]
    assert [s["codec_name"] for s in a_out] == codecs
    assert len(a_in) == len(a_out)
    v_in, v_out = first_video_time(src), first_video_time(out)
    for n, (i, o) in enumerate(zip(a_in, a_out)):
        assert o["sample_rate"] == i["sample_rate"], n
        if o["codec_name"] == i["codec_name"]:
            # Copied: every packet (none lost before the first video frame).
            assert o["nb_read_packets"] == i["nb_read_packets"], n
        assert o["tags"].get("language", "und") == i.get("tags", {}).get("language", "und")
        if ext == "mkv":
            assert o["tags"].get("title") == i.get("tags", {}).get("title")
        # (A source with no default track at all, AVI, lets the muxer choose.)
        if any(s["disposition"]["default"] for s in a_in):
            assert o["disposition"]["default"] == i["disposition"]["default"], n
        first_in, end_in, frame_in = audio_timing(src, n)
        first_out, end_out, frame_out = audio_timing(out, n)
        frame = max(frame_in, frame_out) + 0.001  # ffprobe prints 6 decimals
        # In sync: the audio starts where it did relative to the video...
        assert abs((first_out - v_out) - (first_in - v_in)) <= frame, (n, first_in, first_out)
        # ...and lasts as long.
        assert abs((end_out - first_out) - (end_in - first_in)) <= frame, (n, end_in, end_out)

    video = ("pix_fmt", "color_range", "color_space", "color_primaries", "color_transfer")
    vi = next(s for s in s_in if s["codec_type"] == "video")
    vo = next(s for s in s_out if s["codec_type"] == "video")
    assert {k: vo.get(k) for k in video} == {k: vi.get(k) for k in video}
    assert rotation(out) == rotation(src)
    if kind == "rotated":
        assert rotation(src) in (90, -90)
    if kind == "fullrange":
        assert (vo["pix_fmt"], vo["color_range"]) == ("yuvj420p", "pc")
    if kind == "tenbit":
        assert vo["pix_fmt"] == "yuv420p10le" and vo["color_primaries"] == "bt709"
    # The log says what happened to each track.
    assert assembled_line(p.stderr)["audio"] == audio_log


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# http.server answers whole files only; demuxers seek (an MP4's index is at
# its end), so the test server adds single Range requests.
RANGE_SERVER = r"""
import http.server, os, re, sys
class H(http.server.SimpleHTTPRequestHandler):
    def send_head(self):
        m = re.match(r"bytes=(\d+)-(\d*)$", self.headers.get("Range", ""))
        path = self.translate_path(self.path)
        if not m or not os.path.isfile(path):
            return super().send_head()
        size = os.path.getsize(path)
        start = int(m.group(1))
        end = min(int(m.group(2)) if m.group(2) else size - 1, size - 1)
        if start >= size:
            self.send_error(416)
            return None
        f = open(path, "rb")
        f.seek(start)
        self.send_response(206)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        self.range_left = end - start + 1
        return f
    def copyfile(self, src, dst):
        left = getattr(self, "range_left", None)
        if left is None:
            return super().copyfile(src, dst)
        while left > 0:
            b = src.read(min(65536, left))
            if not b:
                break
            dst.write(b)
            left -= len(b)
os.chdir(sys.argv[2])
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def test_http_source(stack, sources, tmp_path, unique):
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", RANGE_SERVER, str(port),
                               str(sources["h264"].parent)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        name = f"http-{unique}"
        out = tmp_path / f"{name}.mp4"
        cfg = job_config(stack, tmp_path, name, f"http://127.0.0.1:{port}/h264.mp4",
                         f"file://{out}")
        worker(stack, "split", cfg)
        segments, frames, duration_ms = check_split(stack, f"e2e/{name}",
                                                    f"sluice-vj-e2e-{name}", sources["h264"])
        make_segments(stack, f"e2e/{name}", sources["h264"])
        worker(stack, "assemble", cfg)
        assert video_info(out)[0] == frames
        assert has_audio(out)
    finally:
        server.terminate()
        server.wait(timeout=10)


def bad_inputs(d, sources):
    """name -> (source URI, what stderr must say besides the job's name)."""
    cases = {}
    # MP4 with its index at the end, cut in half: no moov atom.
    full = d / "tail-index.mp4"
    ffmpeg(*lavfi_inputs(), "-c:v", "libx264", "-preset", "veryfast", "-c:a", "aac",
           "-shortest", str(full))
    cut = d / "truncated.mp4"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    cases["truncated"] = (f"file://{cut}", "Invalid data found when processing input")
    # MP4 with its index at the front, cut in half: fewer frames than indexed.
    fast = d / "fast.mp4"
    ffmpeg(*lavfi_inputs(), "-c:v", "libx264", "-preset", "veryfast", "-c:a", "aac",
           "-movflags", "+faststart", "-shortest", str(fast))
    cut2 = d / "truncated-fast.mp4"
    cut2.write_bytes(fast.read_bytes()[: fast.stat().st_size // 2])
    cases["truncfast"] = (f"file://{cut2}", "truncated")
    # Not a video at all.
    text = d / "notes.mp4"
    text.write_text("this is not a video\n" * 100)
    cases["notvideo"] = (f"file://{text}", "Invalid data found when processing input")
    # Audio only.
    audio = d / "tone.m4a"
    ffmpeg("-f", "lavfi", "-i", "sine=duration=2", "-c:a", "aac", str(audio))
    cases["audioonly"] = (f"file://{audio}", "no video stream: Stream not found")
    # A file that is not there.
    cases["missing"] = (f"file://{d}/nothing-here.mp4", "No such file or directory")
    # Nobody listening.
    cases["unreachable"] = (f"http://127.0.0.1:{free_port()}/x.mp4", "Connection refused")
    # An AVI whose video FourCC names no codec FFmpeg knows.
    avi = sources["mpeg4"].read_bytes()
    odd = d / "unknown-codec.avi"
    data = avi.replace(b"FMP4", b"QQQQ").replace(b"XVID", b"QQQQ")
    assert data != avi
    odd.write_bytes(data)
    cases["codec"] = (f"file://{odd}", "unsupported codec")
    return cases


def test_bad_inputs(stack, sources, tmp_path, unique):
    d = tmp_path / "bad"
    d.mkdir()
    for case, (uri, want) in bad_inputs(d, sources).items():
        name = f"bad-{case}-{unique}"
        cfg = job_config(stack, tmp_path, name, uri, f"file://{tmp_path}/{name}-out.mp4")
        p = worker(stack, "split", cfg, check=False)
        assert p.returncode == 1, f"{case}: {p.stdout}{p.stderr}"
        assert f"split e2e/{name}: " in p.stderr, f"{case}: {p.stderr}"
        assert want in p.stderr, f"{case}: want {want!r} in {p.stderr}"
        # Nothing recorded or published; the reason is there for the operator.
        assert psql(stack, f"SELECT count(*) FROM video_jobs WHERE job = 'e2e/{name}'"
                    ).strip() in ("0", "")
        meta = hgetall(stack, f"sluice:vj:e2e:{name}:meta")
        assert want in meta.get("failed", ""), f"{case}: {meta}"
    # The source fixed, the same job splits and the reason is gone.
    name = f"bad-missing-{unique}"
    shutil.copy(sources["h264"], d / "nothing-here.mp4")
    cfg = job_config(stack, tmp_path, name, f"file://{d}/nothing-here.mp4",
                     f"file://{tmp_path}/{name}-out.mp4")
    worker(stack, "split", cfg)
    meta = hgetall(stack, f"sluice:vj:e2e:{name}:meta")
    assert meta["split_done"] == "1" and "failed" not in meta


def test_bad_config_names_the_field(stack, tmp_path):
    cfg = tmp_path / "bad.json"
    cfg.write_text(json.dumps({"name": "x", "spec": {
        "source": {"uri": "file:///a.mp4"}, "output": {"uri": "file:///b.mp4"},
        "kafka": {"bootstrap": "k:1"}, "segmentSeconds": 0}}))
    p = worker(stack, "split", cfg, check=False)
    assert p.returncode == 2
    assert "spec.segmentSeconds: 0 is out of range 1..60" in p.stderr


def test_assemble_fails_loudly(stack, sources, tmp_path, unique):
    """A segment that lost frames, then one that is missing: assemble fails,
    names the problem, leaves no output (not even a partial one) and marks
    the job failed in PostgreSQL and Redis."""
    src = sources["h264"]
    name = f"short-{unique}"
    job = f"e2e/{name}"
    out = tmp_path / f"{name}.mp4"
    cfg = job_config(stack, tmp_path, name, f"file://{src}", f"file://{out}")
    worker(stack, "split", cfg)
    make_segments(stack, job, src)
    seg1 = pathlib.Path(psql(stack, f"SELECT output FROM video_segments WHERE job = '{job}' "
                                    f"AND idx = 1").strip()[len("file://"):])
    short = seg1.with_name("short.mp4")
    ffmpeg("-i", str(seg1), "-frames:v", "10", "-c", "copy", str(short))
    short.rename(seg1)

    p = worker(stack, "assemble", cfg, check=False)
    assert p.returncode == 1, p.stderr
    assert f"assemble {job}: segment 1: its file has 10 frames, its worker encoded" in p.stderr
    assert not out.exists() and not list(tmp_path.glob("*.partial-*"))
    assert psql(stack, f"SELECT state FROM video_jobs WHERE job = '{job}'").strip() == "failed"
    assert "its worker encoded" in hgetall(stack, f"sluice:vj:e2e:{name}:meta")["failed"]

    seg1.unlink()
    p = worker(stack, "assemble", cfg, check=False)
    assert p.returncode == 1
    assert "segment 1 (" in p.stderr and "No such file or directory" in p.stderr
    assert not out.exists()


def test_same_name_other_source(stack, sources, tmp_path, unique):
    """A live job's plan never changes; a VideoJob deleted (its Redis keys
    gone, as the operator's finalizer does) and created again under the same
    name with another source gets a new plan."""
    name = f"again-{unique}"
    job = f"e2e/{name}"
    out = f"file://{tmp_path}/{name}.mp4"
    worker(stack, "split", job_config(stack, tmp_path, name, f"file://{sources['h264']}", out))
    other = job_config(stack, tmp_path, name, f"file://{sources['noaudio']}", out)
    p = worker(stack, "split", other, check=False)
    assert p.returncode == 1 and "a different plan is recorded" in p.stderr
    redis(stack, "DEL", *(f"sluice:vj:e2e:{name}:{k}" for k in ("meta", "done", "failed")))
    worker(stack, "split", other)
    assert psql(stack, f"SELECT source FROM video_jobs WHERE job = '{job}'").strip() == \
        f"file://{sources['noaudio']}"
    frames, _ = video_info(sources["noaudio"])
    assert int(psql(stack, f"SELECT sum(frames_expected) FROM video_segments "
                           f"WHERE job = '{job}'")) == frames


def test_split_resumes_after_a_crash(stack, sources, tmp_path, unique):
    """A split that recorded its plan but died before split_done: the rerun
    publishes again the segments not yet done, and only those."""
    name = f"resume-{unique}"
    job = f"e2e/{name}"
    topic = f"sluice-vj-e2e-{name}"
    cfg = job_config(stack, tmp_path, name, f"file://{sources['h264']}",
                     f"file://{tmp_path}/{name}.mp4")
    worker(stack, "split", cfg)
    segments = len(tasks(stack, topic))
    psql(stack, f"UPDATE video_segments SET state = 'done' WHERE job = '{job}' AND idx = 0")
    redis(stack, "HDEL", f"sluice:vj:e2e:{name}:meta", "split_done")
    worker(stack, "split", cfg)
    keys = sorted(int(k) for _, k, _ in tasks(stack, topic))
    assert keys == sorted(list(range(segments)) + list(range(1, segments)))
    assert hgetall(stack, f"sluice:vj:e2e:{name}:meta")["split_done"] == "1"
