"""Video as cameras and recorders make it, through VideoJobs on the real node.

Each input below is made here with the ffmpeg tool (lavfi sources; the
rotated one is re-muxed with a display matrix, the DivX packed bitstream
written by tests/e2e/fixtures/divx_packed.py), put on a hostPath
PersistentVolume, and run through a VideoJob of its own: the operator runs
the split Job, the process workers and the assemble Job as pods on the
stack's kubelet, from the worker image, against the stack's real Kafka,
PostgreSQL and Redis. All the jobs run at once. Then, for each input, the
output must hold:

- exactly the source's frames: the count and every frame's timestamp (from
  the first) equal what a full decode of the source gives (ffprobe
  -show_frames), variable frame rate and dropped frames included;
- a duration within one frame of the source's video;
- every audio track, each in sync (first audio and video timestamps within
  one audio frame of the source's);
- the source's rotation and colour properties.

Segments are 1 s with a keyframe every 12 frames, so every input is cut at
seams, inside open GOPs where it has them.

Needs the whole stack with its node (make stack-up, as root).
"""
import json
import os
import statistics

import pytest

from conftest import ROOT, run
from test_autoscale import WORKER_UID, hostpath_claim, scaler  # noqa: F401 (a fixture)
from test_operator import get, kubectl, wait_for

SRC = ["-f", "lavfi", "-i", "testsrc2=s=160x120:r=25:d=3"]
SINE = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:d=3"]
SINE2 = ["-f", "lavfi", "-i", "sine=frequency=880:sample_rate=44100:d=3"]
GOP = ["-g", "12"]
X264 = ["-c:v", "libx264", "-preset", "ultrafast"]
EVERY_7_OF_10 = ["-vf", "select='lt(mod(n\\,10)\\,7)'", "-fps_mode", "passthrough"]

# name -> the ffmpeg arguments that make it (before the output path).
INPUTS = {
    # MPEG-4 ASP with B-frames in AVI (no pts in the container, open GOPs).
    "mpeg4-bf.avi": [*SRC, *SINE, *GOP, "-c:v", "mpeg4", "-bf", "2", "-q:v", "4",
                     "-c:a", "libmp3lame", "-shortest"],
    "xvid-bf.avi": [*SRC, *SINE, *GOP, "-c:v", "mpeg4", "-bf", "2", "-q:v", "4",
                    "-vtag", "XVID", "-c:a", "libmp3lame", "-shortest"],
    # H.264 with B-frames in AVI: not timed by the container; one segment.
    "h264-bf.avi": [*SRC, *SINE, *GOP, *X264, "-bf", "2", "-pix_fmt", "yuv420p",
                    "-c:a", "libmp3lame", "-shortest"],
    # A capture tool's dropped frames: 3 of every 4 are empty index entries.
    "dropped.avi": [*SRC, *SINE, "-vf", "select='not(mod(n\\,4))'", "-fps_mode",
                    "passthrough", "-c:v", "mpeg4", "-g", "3", "-c:a", "libmp3lame",
                    "-shortest"],
    # Intra-only codecs; PCM audio, which an MP4 cannot carry: AAC, once.
    "mjpeg.avi": [*SRC, *SINE, "-c:v", "mjpeg", "-q:v", "5", "-pix_fmt", "yuvj420p",
                  "-c:a", "pcm_s16le", "-shortest"],
    "cinepak.avi": ["-f", "lavfi", "-i", "testsrc2=s=64x48:r=10:d=3", *SINE, "-c:v",
                    "cinepak", "-g", "6", "-c:a", "pcm_s16le", "-shortest"],
    # Variable frame rate, timestamps kept from the list the filter leaves.
    "vfr.mp4": [*SRC, *SINE, *EVERY_7_OF_10, *GOP, *X264, "-bf", "2", "-pix_fmt", "yuv420p",
                "-c:a", "aac", "-shortest"],
    "vfr.mkv": [*SRC, *SINE, *EVERY_7_OF_10, *GOP, *X264, "-bf", "2", "-pix_fmt", "yuv420p",
                "-c:a", "aac", "-shortest"],
    # Full range and 10-bit.
    "full-range.mp4": [*SRC, *SINE, *GOP, *X264, "-pix_fmt", "yuvj420p", "-color_range",
                       "pc", "-c:a", "aac", "-shortest"],
    "10bit.mkv": [*SRC, *SINE, *GOP, *X264, "-pix_fmt", "yuv420p10le", "-colorspace",
                  "bt709", "-color_primaries", "bt709", "-color_trc", "bt709",
                  "-c:a", "aac", "-shortest"],
    # Interlaced broadcast MPEG-2 in a transport stream, MPEG audio.
    "interlaced.ts": [*SRC, *SINE, *GOP, "-c:v", "mpeg2video", "-flags", "+ilme+ildct",
                      "-top", "1", "-bf", "2", "-q:v", "4", "-c:a", "mp2", "-shortest"],
    # Two audio tracks (AAC and AC-3), and AC-3 alone.
    "two-audio.mp4": [*SRC, *SINE, *SINE2, "-map", "0:v", "-map", "1:a", "-map", "2:a",
                      *GOP, *X264, "-pix_fmt", "yuv420p", "-c:a:0", "aac", "-c:a:1", "ac3",
                      "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fra",
                      "-shortest"],
    "ac3.mp4": [*SRC, *SINE, *GOP, *X264, "-pix_fmt", "yuv420p", "-c:a", "ac3", "-shortest"],
}


def rotated(vol, out):
    """A phone's rotated video: vfr.mp4 with a display matrix."""
    ffmpeg("-i", str(vol / "vfr.mp4"), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(out))


def divx_packed(vol, out):
    """DivX 5's packed bitstream, which ffmpeg cannot write: a script repacks
    an MPEG-4 stream with one B-frame between references."""
    es = vol / "packed.m4v"
    ffmpeg(*SRC, *GOP, "-c:v", "mpeg4", "-bf", "1", "-q:v", "4", "-f", "m4v", str(es))
    run(["python3", str(ROOT / "tests/e2e/fixtures/divx_packed.py"), str(es), str(out), "25"])
    es.unlink()


def corrupt(vol, out):
    """A recording damaged in the middle: 4 KiB of the media data of
    vfr.mp4's second second overwritten. The decoder skips or conceals
    what it cannot read; the job goes on."""
    data = bytearray((vol / "vfr.mp4").read_bytes())
    mdat = data.find(b"mdat")
    at = mdat + (len(data) - mdat) // 2
    data[at:at + 4096] = bytes((i * 37 + 11) % 256 for i in range(4096))
    out.write_bytes(bytes(data))


# name -> how it is made from the inputs above.
DERIVED = {"rotated.mp4": rotated, "divx-packed.avi": divx_packed, "corrupt.mp4": corrupt}


def ffmpeg(*args):
    run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args], timeout=300)


def frame_times(path):
    """The video frames of a full decode, in presentation order: their times
    in seconds. A frame ffprobe gives no time (the last picture of a
    container without pts) follows its predecessor by the step before."""
    out = run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
               "frame=best_effort_timestamp_time", "-of", "csv=p=0", str(path)]).stdout
    t = []
    for line in out.split():
        v = line.split(",")[0]  # frames with side data get a trailing field
        if v:
            t.append(t[-1] + (t[-1] - t[-2]) if v == "N/A" else float(v))
    return t


def video_span(path):
    """Seconds from the first video packet's time to the end of the last."""
    out = run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
               "packet=pts_time,duration_time", "-of", "csv=p=0", str(path)]).stdout
    pk = [[float(x) for x in line.split(",")[:2]] for line in out.split()]
    return max(t + d for t, d in pk) - min(t for t, _ in pk)


def same_codec(a, b):
    # MP4 names MPEG-1 layer II and III audio by one object type: ffprobe
    # calls a copied mp2 track mp3 there.
    return a == b or {a, b} == {"mp2", "mp3"}


def streams(path):
    out = run(["ffprobe", "-v", "error", "-show_entries",
               "stream=index,codec_type,codec_name,start_time,duration,sample_rate,pix_fmt,"
               "color_range,color_space,color_primaries,color_transfer:stream_tags=language"
               ":stream_side_data=rotation", "-of", "json", str(path)]).stdout
    return json.loads(out)["streams"]


@pytest.fixture(scope="module")
def matrix(stack, scaler):  # noqa: F811 (the imported fixture)
    """Every input through its own VideoJob, all at once. Returns name ->
    (source, output, the VideoJob's status)."""
    ns = f"vin-{os.getpid()}"
    kubectl(stack, "create", "namespace", ns)
    kubectl(stack, "-n", ns, "create", "secret", "generic", "pg",
            f"--from-literal=dsn={stack['PG_DSN']}")
    vol = hostpath_claim(stack, ns, "videos")
    (vol / "out").mkdir()
    os.chown(vol / "out", WORKER_UID, WORKER_UID)
    for name, args in INPUTS.items():
        ffmpeg(*args, str(vol / name))
    for name, make in DERIVED.items():
        make(vol, vol / name)
    names = [*INPUTS, *DERIVED]
    jobs = {}
    for i, name in enumerate(names):
        os.chown(vol / name, WORKER_UID, WORKER_UID)
        ext = "mkv" if name.endswith(".mkv") else "mp4"
        job = f"in{i}"
        jobs[name] = (job, vol / name, vol / "out" / f"{job}.{ext}")
        vj = {"apiVersion": "sluice.dev/v1alpha1", "kind": "VideoJob",
              "metadata": {"name": job, "namespace": ns},
              "spec": {"source": {"uri": f"file:///videos/{name}"},
                       "output": {"uri": f"file:///videos/out/{job}.{ext}"},
                       "volume": {"mountPath": "/videos",
                                  "persistentVolumeClaim": {"claimName": "videos"}},
                       "segmentSeconds": 1,
                       "encoder": {"codec": "libx264", "preset": "ultrafast", "crf": 23},
                       "kafka": {"bootstrap": stack["KAFKA_BOOTSTRAP"]},
                       "workers": {"minReplicas": 1, "maxReplicas": 1, "lagThreshold": 1}}}
        kubectl(stack, "apply", "-f", "-", input=json.dumps(vj))

    def phase(job):
        return (get(stack, "vj", job, ns) or {}).get("status", {}).get("phase")

    wait_for("every VideoJob to finish",
             lambda: all(phase(j) in ("Succeeded", "Failed") for j, _, _ in jobs.values()),
             timeout=600, interval=1)
    yield {name: (src, out, get(stack, "vj", job, ns)["status"])
           for name, (job, src, out) in jobs.items()}
    kubectl(stack, "delete", "namespace", ns, "--wait=false", check=False)


@pytest.mark.parametrize("name", [*INPUTS, *DERIVED])
def test_input_through_a_videojob(matrix, name):
    src, out, status = matrix[name]
    assert status["phase"] == "Succeeded", status

    # Every frame, at its time.
    want, got = frame_times(src), frame_times(out)
    assert len(got) == len(want), f"{len(got)} frames; the source has {len(want)}"
    steps = [b - a for a, b in zip(want, want[1:])]
    for i, (w, g) in enumerate(zip(want, got)):
        assert abs((g - got[0]) - (w - want[0])) <= 0.002, \
            f"frame {i} at {g - got[0]:.4f} s; the source has it at {w - want[0]:.4f} s"

    s_streams, o_streams = streams(src), streams(out)
    s_video = [s for s in s_streams if s["codec_type"] == "video"][0]
    o_video = [s for s in o_streams if s["codec_type"] == "video"][0]
    # The duration within one frame: the source's video lasts to the end of
    # its last frame, a typical step after it.
    step = statistics.median(steps)
    want_s = want[-1] - want[0] + step
    got_s = video_span(out)
    assert abs(got_s - want_s) <= step + 0.001, \
        f"the video lasts {got_s} s, the source's {want_s} s"

    # Every audio track, in sync.
    s_audio = [s for s in s_streams if s["codec_type"] == "audio"]
    o_audio = [s for s in o_streams if s["codec_type"] == "audio"]
    assert len(o_audio) == len(s_audio)
    for sa, oa in zip(s_audio, o_audio):
        if sa["codec_name"].startswith("pcm_"):
            assert oa["codec_name"] == "aac"
        else:
            assert same_codec(oa["codec_name"], sa["codec_name"])
        assert oa.get("tags", {}).get("language", "und") == \
            sa.get("tags", {}).get("language", "und")
        frame = 1152 / int(sa["sample_rate"])  # the longest of AAC's, MP3's, AC-3's
        # Against the first frame a full decode shows (an AVI's video stream
        # starts at its first dts; a decoder with a B-frame delay shows it later).
        lead_src = float(sa["start_time"]) - want[0]
        lead_out = float(oa["start_time"]) - got[0]
        assert abs(lead_out - lead_src) <= frame + 0.001, (sa, oa)

    # Rotation and colour kept.
    def rotation(st):
        return [d["rotation"] for d in st.get("side_data_list", []) if "rotation" in d]

    assert rotation(o_video) == rotation(s_video)
    for k in ("color_range", "color_space", "color_primaries", "color_transfer"):
        want_k = s_video.get(k, "unknown")
        if want_k == "unknown" or (k, want_k) == ("color_range", "tv"):
            continue  # limited range is what an H.264 stream that says nothing has
        assert o_video.get(k) == want_k, k
    if "10" in s_video["pix_fmt"]:
        assert "10" in o_video["pix_fmt"]
