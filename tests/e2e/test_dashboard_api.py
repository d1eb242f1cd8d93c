"""sluice-dashboard's JSON API against the stack's real API server, PostgreSQL,
Redis and Kafka, no operator: the tests write what the operator and the
workers would (a resource's status through /status, a TelemetryWindow's
window rows and Redis timelines, a VideoJob's frame rows) and judge the API's
answers with urllib, psql, redis-cli and kcat.

- lists and details come from the dashboard's cache and follow a status
  change; samples of replicas and lag build up;
- a TelemetryWindow's last windows (Redis), history and CSV (PostgreSQL,
  the DSN from its Secret), a VideoJob's per-frame analysis and cuts;
- a DSN's password never shows in an answer or the log;
- an upload is forwarded to the VideoWatch's watcher (a fake one here: the
  real one is tests/e2e/test_videowatch.py's) with the user's token, its
  answer passed back;
- a CSV file posted to a TelemetryWindow is published to its topic by
  `sluice-worker load`, its progress visible.

Run: flock /tmp/sluice-e2e.lock tests/e2e/run.sh -k dashboard_api
(SLUICE_DASHBOARD names another build's binary; the loader is the
sluice-worker beside it.)
"""
import http.server
import json
import os
import pathlib
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

import pytest

from conftest import ROOT, run
from test_operator import create_topic, kubectl, wait_for

DASHBOARD = pathlib.Path(os.environ.get("SLUICE_DASHBOARD", ROOT / "build" / "sluice-dashboard"))
VW_CRD = ROOT / "crds" / "videowatches.sluice.dev.yaml"
GROUP = "sluice.dev/v1alpha1"


# ---- clients ----------------------------------------------------------------

def psql(stack, sql):
    return run(["psql", stack["PG_DSN"], "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql]).stdout


def redis(stack, *args):
    return run(["redis-cli", "-h", stack["REDIS_HOST"], "-p", stack["REDIS_PORT"], *args]).stdout


def apply(stack, obj):
    kubectl(stack, "apply", "-f", "-", input=json.dumps(obj))


def patch_status(stack, plural, ns, name, status):
    kubectl(stack, "patch", plural, name, "-n", ns, "--subresource=status", "--type=merge",
            "-p", json.dumps({"status": status}))


class Dashboard:
    """sluice-dashboard as a process for one namespace, on a free port."""

    def __init__(self, stack, ns, workdir, *extra):
        if not DASHBOARD.exists():
            pytest.fail(f"{DASHBOARD} is missing: make build")
        self.log = pathlib.Path(workdir, "dashboard.log")
        port_file = pathlib.Path(workdir, "port")
        self.proc = subprocess.Popen(
            [str(DASHBOARD), "--kubeconfig", stack["KUBECONFIG"], "--namespace", ns,
             "--port", "0", "--port-file", str(port_file), "--sample-interval", "1s",
             "--work-dir", workdir, *extra],
            stdout=subprocess.DEVNULL, stderr=open(self.log, "w"))
        wait_for("the dashboard's port file",
                 lambda: port_file.exists() and port_file.read_text().strip(), timeout=20)
        self.base = f"http://127.0.0.1:{port_file.read_text().strip()}"
        wait_for("the dashboard to be ready", lambda: self.get("/readyz")[0] == 200, timeout=30)

    def request(self, method, path, body=None, headers=None):
        req = urllib.request.Request(self.base + path, data=body, method=method,
                                     headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()
        except OSError as e:  # not listening yet
            return 0, {}, str(e).encode()

    def get(self, path):
        return self.request("GET", path)

    def json(self, path, want=200):
        status, _, body = self.get(path)
        assert status == want, f"GET {path}: {status} {body[:500]!r}"
        return json.loads(body)

    def stop(self):
        self.proc.terminate()
        rc = self.proc.wait(timeout=20)
        return rc

    def logs(self):
        return self.log.read_text()


# ---- fixtures -----------------------------------------------------------------

@pytest.fixture(scope="module")
def env(stack):
    """A namespace with a Secret holding the stack's DSN, the tables a
    TelemetryWindow's and a VideoJob's sinks would have made, and a
    dashboard for the namespace."""
    kubectl(stack, "apply", "-f", str(ROOT / "crds"))
    kubectl(stack, "wait", "--for=condition=Established", "--timeout=60s",
            "crd/telemetrywindows.sluice.dev", "crd/videojobs.sluice.dev")
    u = os.urandom(4).hex()
    ns = f"dash-{u}"
    kubectl(stack, "create", "namespace", ns)
    # The password is one the server never checks (trust): it must only never show.
    dsn = stack["PG_DSN"].replace("postgres@", f"postgres:pw-{u}@", 1)
    kubectl(stack, "-n", ns, "create", "secret", "generic", "pg", f"--from-literal=dsn={dsn}")
    tw_table, frames_table = f"dash_tw_{u}", f"dash_frames_{u}"
    psql(stack, f"""CREATE TABLE {tw_table} (resource text, key text, key_fields text[],
        window_start timestamptz, window_end timestamptz, count bigint, field text,
        value_count bigint, sum float8, min float8, max float8, mean float8, p50 float8,
        p95 float8, p99 float8, PRIMARY KEY (resource, key, window_start, field));
        CREATE TABLE {frames_table} (job text, segment int, frame int, pts_ms bigint,
        mean_luma float8, motion float8, scene_score float8, PRIMARY KEY (job, segment, frame))""")
    with tempfile.TemporaryDirectory(prefix="sluice-dash-") as d:
        dash = Dashboard(stack, ns, d)
        yield {"ns": ns, "u": u, "dash": dash, "tw_table": tw_table,
               "frames_table": frames_table, "password": f"pw-{u}", "dir": d}
        rc = dash.stop()
        logs = dash.logs()
        psql(stack, f"DROP TABLE IF EXISTS {tw_table}, {frames_table}")
        kubectl(stack, "delete", "namespace", ns, "--wait=false", check=False)
        assert f"pw-{u}" not in logs, "a DSN's password is in the dashboard's log"
        assert rc == 0, f"SIGTERM should end the dashboard cleanly:\n{logs[-3000:]}"


def tw(name, env, stack, topic="dash-in", **spec):
    s = {"kafka": {"bootstrap": stack["KAFKA_BOOTSTRAP"], "topic": topic},
         "fields": {"timestamp": "ts", "keys": ["host"], "values": ["temp"]},
         "window": {"size": "1m"},
         "sinks": {"postgres": {"dsn": {"name": "pg", "key": "dsn"}, "table": env["tw_table"]},
                   "redis": {"addr": stack["REDIS_ADDR"],
                             "prefix": f"sluice:{env['ns']}:{name}:"}}}
    s.update(spec)
    return {"apiVersion": GROUP, "kind": "TelemetryWindow",
            "metadata": {"name": name, "namespace": env["ns"]}, "spec": s}


def item(listing, name):
    for it in listing["items"]:
        if it["name"] == name:
            return it
    return None


# ---- tests ----------------------------------------------------------------------

def test_lists_and_details_follow_the_cache(stack, env):
    dash, ns = env["dash"], env["ns"]
    apply(stack, tw("sensors", env, stack))
    apply(stack, {"apiVersion": GROUP, "kind": "VideoJob",
                  "metadata": {"name": "clip", "namespace": ns},
                  "spec": {"source": {"uri": "file:///media/in.mp4"},
                           "output": {"uri": "file:///media/out/clip.mp4"},
                           "kafka": {"bootstrap": stack["KAFKA_BOOTSTRAP"]}}})
    patch_status(stack, "telemetrywindows", ns, "sensors", {
        "phase": "Running", "lag": 42, "replicas": 2, "desiredReplicas": 3,
        "eventsProcessed": 1000, "duplicates": 4, "late": 5, "malformed": 6,
        "windowsEmitted": 7, "lastWatermark": "2026-01-01T00:00:00Z",
        "conditions": [{"type": "Ready", "status": "True", "reason": "Running",
                        "message": "ok", "lastTransitionTime": "2026-01-01T00:00:00Z"}]})
    patch_status(stack, "videojobs", ns, "clip", {
        "phase": "Processing", "progress": "25%", "segmentsDone": 1, "segmentsTotal": 4,
        "lag": 3, "replicas": 1})

    def tw_row():
        it = item(dash.json("/api/v1/telemetrywindows"), "sensors")
        return it if it and it.get("lag") == 42 else None

    row = wait_for("the TelemetryWindow's status in the list", tw_row, timeout=15)
    for k, v in {"phase": "Running", "replicas": 2, "desiredReplicas": 3,
                 "eventsProcessed": 1000, "duplicates": 4, "late": 5, "malformed": 6,
                 "windowsEmitted": 7, "lastWatermark": "2026-01-01T00:00:00Z",
                 "sinks": ["postgres", "redis"], "format": "json"}.items():
        assert row[k] == v, (k, row)
    vj = wait_for("the VideoJob's progress in the list", lambda: (
        lambda it: it if it and it.get("percent") == 25 else None)(
        item(dash.json("/api/v1/videojobs"), "clip")), timeout=15)
    assert vj["segmentsDone"] == 1 and vj["segmentsTotal"] == 4
    assert vj["output"] == "file:///media/out/clip.mp4"

    # The sampler has seen the first replicas before they change (it samples
    # once a second: waiting for it, not for time).
    wait_for("a sample of the first replicas", lambda: 2 in dash.json(
        f"/api/v1/telemetrywindows/{ns}/sensors")["samples"]["replicas"], timeout=15)
    # A status change shows within a poll or two.
    patch_status(stack, "telemetrywindows", ns, "sensors", {"lag": 7, "replicas": 3})
    wait_for("the new lag", lambda: item(dash.json("/api/v1/telemetrywindows"),
                                         "sensors")["lag"] == 7, timeout=10)

    # The detail: conditions, spec, and samples of replicas and lag (one a
    # second), the new replicas among them.
    d = wait_for("a sample of the new replicas", lambda: (
        lambda d: d if 3 in d["samples"]["replicas"] else None)(
        dash.json(f"/api/v1/telemetrywindows/{ns}/sensors")), timeout=15)
    assert d["conditions"][0]["reason"] == "Running"
    assert d["spec"]["kafka"]["topic"] == "dash-in"
    assert len(d["samples"]["t"]) >= 2 and 2 in d["samples"]["replicas"]
    assert len(d["samples"]["t"]) == len(d["samples"]["lag"])
    w = dash.json("/api/v1/workers?limit=5")
    assert {(i["kind"], i["name"]) for i in w["items"]} >= {("TelemetryWindow", "sensors"),
                                                           ("VideoJob", "clip")}
    info = dash.json("/api/v1/info")
    assert info["namespace"] == ns and info["synced"]["telemetrywindows"]

    # Filters and errors.
    assert dash.json("/api/v1/videojobs?namespace=elsewhere")["count"] == 0
    assert dash.get(f"/api/v1/videojobs/{ns}/nope")[0] == 404
    status, headers, _ = dash.request("DELETE", "/api/v1/videojobs")
    assert status == 405 and headers["Allow"] == "GET, HEAD"
    status, headers, body = dash.get("/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b"assets/uPlot.iife.min.js" in body
    status, headers, body = dash.get("/assets/uPlot.iife.min.js")
    assert status == 200 and len(body) > 10000
    assert dash.request("GET", "/", headers={"If-None-Match": headers["ETag"]})[0] == 200
    assert dash.request("GET", "/assets/uPlot.iife.min.js",
                        headers={"If-None-Match": headers["ETag"]})[0] == 304
    # The built-in paths stay.
    assert b"sluice_dashboard_cache_objects" in dash.get("/metrics")[2]


def test_telemetry_results_from_postgres_and_redis(stack, env):
    dash, ns, table = env["dash"], env["ns"], env["tw_table"]
    apply(stack, tw("results", env, stack))
    now = int(time.time()) // 60 * 60
    rows = []
    for host, base in (("d-1", 20.0), ("d-2", 30.0)):
        for i in range(3):
            start = now - (3 - i) * 60
            rows.append(f"('{ns}/results', '{host}', ARRAY['{host}'], to_timestamp({start}), "
                        f"to_timestamp({start + 60}), {i + 1}, 'temp', {i + 1}, {base * (i + 1)}, "
                        f"{base}, {base + i}, {base + i / 2}, NULL, {base + 1}, NULL)")
    psql(stack, f"INSERT INTO {table} VALUES {', '.join(rows)}")
    prefix = f"sluice:{ns}:results:"
    for host in ("d-1", "d-2"):
        for i in range(2):
            start = (now - (2 - i) * 60) * 1000
            w = {"start": start * 1000000, "end": (start + 60000) * 1000000, "count": i + 1,
                 "fields": {"temp": {"count": i + 1, "mean": 21.5 + i}}}
            redis(stack, "ZADD", f"{prefix}{host}:timeline", str(start), json.dumps(w))
    try:
        latest = wait_for("the latest windows", lambda: (
            lambda l: l if len(l["keys"]) == 2 else None)(
            dash.json(f"/api/v1/telemetrywindows/{ns}/results/latest")), timeout=15)
        assert [k["key"] for k in latest["keys"]] == ["d-1", "d-2"]
        assert latest["keys"][0]["keyFields"] == ["d-1"]
        assert [w["fields"]["temp"]["mean"] for w in latest["keys"][1]["windows"]] == [21.5, 22.5]
        one = dash.json(f"/api/v1/telemetrywindows/{ns}/results/latest?keys=1&last=1")
        assert one["truncated"] and len(one["keys"]) == 1 and len(one["keys"][0]["windows"]) == 1

        h = dash.json(f"/api/v1/telemetrywindows/{ns}/results/history?field=temp")
        assert [(s["key"], s["field"]) for s in h["series"]] == [("d-1", "temp"), ("d-2", "temp")]
        s = h["series"][1]
        assert s["t"] == [float(now - 180), float(now - 120), float(now - 60)]
        assert s["count"] == [1, 2, 3] and s["mean"] == [30.0, 30.5, 31.0]
        assert s["p95"] == [31.0] * 3
        h = dash.json(f"/api/v1/telemetrywindows/{ns}/results/history?key=d-1&since={now - 90}")
        assert len(h["series"]) == 1 and h["series"][0]["t"] == [float(now - 60)]

        status, headers, body = dash.get(f"/api/v1/telemetrywindows/{ns}/results/export.csv?last=2")
        assert status == 200, body
        assert headers["Content-Type"].startswith("text/csv")
        assert headers["Content-Disposition"] == \
            f'attachment; filename="{ns}_results_last2.csv"'
        lines = body.decode().splitlines()
        assert lines[0] == ("key,window_start,window_end,field,count,value_count,"
                            "sum,min,max,mean,p50,p95,p99")
        assert len(lines) == 5, lines  # 2 windows x 2 keys
        assert lines[-1].startswith("d-2,") and ",temp,3,3,90,30,32,31,,31," in lines[-1]
        status, _, body = dash.get(f"/api/v1/telemetrywindows/{ns}/results/export.csv?last=0")
        assert status == 400, body

        # A TelemetryWindow without the sinks is told so (409), not a 5xx.
        apply(stack, tw("bare", env, stack, sinks={}))
        wait_for("the bare one", lambda: item(dash.json("/api/v1/telemetrywindows"), "bare"))
        status, _, body = dash.get(f"/api/v1/telemetrywindows/{ns}/bare/latest")
        assert status == 409 and b"no spec.sinks.redis" in body
        status, _, body = dash.get(f"/api/v1/telemetrywindows/{ns}/bare/history")
        assert status == 409 and b"no spec.sinks.postgres" in body
    finally:
        redis(stack, "DEL", f"{prefix}d-1:timeline", f"{prefix}d-2:timeline")


def test_videojob_frames_and_scene_cuts(stack, env):
    dash, ns, table = env["dash"], env["ns"], env["frames_table"]
    apply(stack, {"apiVersion": GROUP, "kind": "VideoJob",
                  "metadata": {"name": "frames", "namespace": ns},
                  "spec": {"source": {"uri": "file:///media/in.mp4"},
                           "output": {"uri": "file:///media/out/frames.mp4"},
                           "kafka": {"bootstrap": stack["KAFKA_BOOTSTRAP"]},
                           "sinks": {"postgres": {"dsn": {"name": "pg", "key": "dsn"},
                                                  "table": table}}}})
    wait_for("the VideoJob", lambda: item(dash.json("/api/v1/videojobs"), "frames"))
    # Before any frame row exists (the table may not either): empty, not an error.
    f = dash.json(f"/api/v1/videojobs/{ns}/frames/frames")
    assert f["frames"] == 0 and f["t"] == []
    rows = []
    for seg in range(2):
        for i in range(50):
            frame = seg * 50 + i
            cut = frame == 30
            rows.append(f"('{ns}/frames', {seg}, {i}, {frame * 40}, {100 + (frame % 7)}, "
                        f"{'NULL' if i == 0 else 2.5}, {'NULL' if i == 0 else (0.9 if cut else 0.01)})")
    psql(stack, f"INSERT INTO {table} VALUES {', '.join(rows)}")
    f = dash.json(f"/api/v1/videojobs/{ns}/frames/frames")
    assert f["job"] == f"{ns}/frames" and f["frames"] == 100 and f["bucketMs"] == 1
    assert len(f["t"]) == 100 and f["t"][:3] == [0, 0.04, 0.08]
    assert f["meanLuma"][:2] == [100, 101] and f["motion"][0] is None
    assert f["cuts"] == {"t": [1.2], "score": [0.9]}
    # More frames than points: averaged in buckets of time, the cut kept.
    f = dash.json(f"/api/v1/videojobs/{ns}/frames/frames?points=10")
    assert f["bucketMs"] > 1 and len(f["t"]) <= 11
    assert max(s for s in f["sceneScore"] if s is not None) == 0.9
    assert f["cuts"]["t"] == [1.2]


def test_a_secret_never_shows(stack, env):
    dash, ns = env["dash"], env["ns"]
    # A DSN with a password, on a port where nothing listens.
    kubectl(stack, "-n", ns, "create", "secret", "generic", "pg-broken",
            f"--from-literal=dsn=postgresql://postgres:{env['password']}@127.0.0.1:1/x")
    apply(stack, tw("broken", env, stack,
                    sinks={"postgres": {"dsn": {"name": "pg-broken", "key": "dsn"}}}))
    wait_for("the TelemetryWindow", lambda: item(dash.json("/api/v1/telemetrywindows"), "broken"))
    status, _, body = dash.get(f"/api/v1/telemetrywindows/{ns}/broken/history")
    assert status == 502 and b"connect" in body, body
    assert env["password"].encode() not in body
    # A Secret that is not there is named, with nothing of any value.
    apply(stack, tw("nosecret", env, stack,
                    sinks={"postgres": {"dsn": {"name": "absent", "key": "dsn"}}}))
    wait_for("the TelemetryWindow", lambda: item(dash.json("/api/v1/telemetrywindows"),
                                                 "nosecret"))
    status, _, body = dash.get(f"/api/v1/telemetrywindows/{ns}/nosecret/history")
    assert status == 502 and f"Secret {ns}/absent".encode() in body, body
    for path in (f"/api/v1/telemetrywindows/{ns}/broken", "/api/v1/telemetrywindows"):
        assert env["password"].encode() not in dash.get(path)[2]


class FakeWatcher(http.server.ThreadingHTTPServer):
    """A watcher's upload endpoint: PUT /uploads/<file> with the bearer
    token, answering as the real one does (workers/video/upload_rules.h)."""

    def __init__(self, token):
        self.token = token
        self.received = {}
        super().__init__(("127.0.0.1", 0), self.Handler)

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def reply(self, status, obj):
            body = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_PUT(self):
            if self.headers.get("Authorization") != f"Bearer {self.server.token}":
                return self.reply(401, {"error": "bad token"})
            n = int(self.headers.get("Content-Length", "0"))
            data = self.rfile.read(n)
            name = urllib.request.unquote(self.path.split("/uploads/", 1)[1])
            self.server.received[name] = data
            self.reply(201, {"videoJob": "cam-x-1234abcd", "namespace": "media", "file": name,
                             "url": "/#/videojobs/media/cam-x-1234abcd"})


def test_upload_is_forwarded_to_the_watcher(stack, env):
    if not VW_CRD.exists():
        pytest.skip("no VideoWatch CRD yet (crds/videowatches.sluice.dev.yaml)")
    kubectl(stack, "wait", "--for=condition=Established", "--timeout=60s",
            "crd/videowatches.sluice.dev")
    dash, ns = env["dash"], env["ns"]
    watcher = FakeWatcher("s3cret")
    threading.Thread(target=watcher.serve_forever, daemon=True).start()
    try:
        apply(stack, {"apiVersion": GROUP, "kind": "VideoWatch",
                      "metadata": {"name": "cam", "namespace": ns},
                      "spec": {"volume": {"mountPath": "/media",
                                          "hostPath": {"path": "/tmp/nothing"}},
                               "upload": {"token": {"name": "upload", "key": "token"}},
                               "template": {"output": {"uri": "file:///media/out/{stem}.mp4"},
                                            "kafka": {"bootstrap": stack["KAFKA_BOOTSTRAP"]}}}})
        wait_for("the VideoWatch", lambda: item(dash.json("/api/v1/videowatches"), "cam"))
        path = f"/api/v1/videowatches/{ns}/cam/upload/clip%20one.mp4"
        data = os.urandom(3 << 20)
        # No upload endpoint reported yet: said so.
        status, _, body = dash.request("PUT", path, data, {"Authorization": "Bearer s3cret"})
        assert status == 409 and b"uploadURL" in body, body
        patch_status(stack, "videowatches", ns, "cam", {"watcher": {
            "uploadURL": f"http://127.0.0.1:{watcher.server_address[1]}/uploads/"}})
        wait_for("the upload URL", lambda: item(dash.json("/api/v1/videowatches"), "cam")
                 .get("uploadURL"))

        status, headers, body = dash.request("PUT", path, data,
                                             {"Authorization": "Bearer s3cret",
                                              "Content-Type": "video/mp4"})
        assert status == 201, body
        assert headers["Content-Type"].startswith("application/json")
        assert json.loads(body) == {"videoJob": "cam-x-1234abcd", "namespace": "media",
                                    "file": "clip one.mp4",
                                    "url": "/#/videojobs/media/cam-x-1234abcd"}
        assert watcher.received["clip one.mp4"] == data
        # The watcher's own refusal comes back as it is.
        status, _, body = dash.request("PUT", path, data, {"Authorization": "Bearer wrong"})
        assert status == 401 and json.loads(body) == {"error": "bad token"}
        # No token at all: the dashboard refuses before reading anything.
        status, headers, body = dash.request("PUT", path, data)
        assert status == 401 and headers.get("WWW-Authenticate") == "Bearer"
        assert dash.get(f"/api/v1/videowatches/{ns}/nope")[0] == 404
    finally:
        watcher.shutdown()
        watcher.server_close()


def test_load_publishes_a_csv_file(stack, env):
    dash, ns, u = env["dash"], env["ns"], env["u"]
    topic = f"dash-load-{u}"
    create_topic(stack, topic, 2)
    apply(stack, tw("load", env, stack, topic=topic))
    wait_for("the TelemetryWindow", lambda: item(dash.json("/api/v1/telemetrywindows"), "load"))
    csv = b"ts,host,temp\n2026-01-01T00:00:00Z,d-1,21.5\n2026-01-01T00:00:01Z,d-2,22\n" \
          b"2026-01-01T00:00:02Z,d-1,\n"
    base = f"/api/v1/telemetrywindows/{ns}/load/load"
    # Only as CSV (a form's text/plain is refused), and only a header that fits.
    assert dash.request("POST", base, csv, {"Content-Type": "text/plain"})[0] == 415
    status, _, body = dash.request("POST", base, b"time,host\n1,2\n", {"Content-Type": "text/csv"})
    assert status == 400 and b'no column \\"ts\\"' in body, body

    status, _, body = dash.request("POST", base, csv, {"Content-Type": "text/csv"})
    assert status == 202, body
    load = json.loads(body)
    assert load["state"] == "running" and load["bytes"] == len(csv)
    done = dash.json(f"{base}/{load['id']}?wait=60")  # a long poll: answered at the end
    assert done["state"] == "succeeded", done
    assert done["rows"] == 3 and done["delivered"] == 3 and done["failed"] == 0
    out = run(["kcat", "-b", stack["KAFKA_BOOTSTRAP"], "-C", "-t", topic, "-e", "-q",
               "-f", "%k %s\n"]).stdout
    got = sorted((json.loads(line.split(" ", 1)[1]) for line in out.splitlines() if line),
                 key=json.dumps)
    assert got == sorted([{"ts": "2026-01-01T00:00:00Z", "host": "d-1", "temp": 21.5},
                          {"ts": "2026-01-01T00:00:01Z", "host": "d-2", "temp": 22},
                          {"ts": "2026-01-01T00:00:02Z", "host": "d-1", "temp": None}],
                         key=json.dumps), out
    # Keyed by the TelemetryWindow's key field.
    assert sorted(line.split(" ", 1)[0] for line in out.splitlines() if line) == \
        ["d-1", "d-1", "d-2"]
    # The file is gone once the loader ended.
    assert not [f for f in os.listdir(env["dir"]) if f.startswith("sluice-load-")]
    assert dash.get(f"{base}/0123456789abcdef")[0] == 404


def test_load_publishes_a_parquet_file(stack, env, tmp_path):
    """The same endpoint takes Parquet (Content-Type application/vnd.apache.parquet):
    its columns are judged as a CSV header would be, its rows published by the loader."""
    from test_load_parquet import venv_python
    py = venv_python()
    if not os.access(py, os.X_OK):
        pytest.skip(f"no pyarrow virtualenv at {py}: scripts/deps.sh pyarrow makes it")
    dash, ns, u = env["dash"], env["ns"], env["u"]
    topic = f"dash-pq-{u}"
    create_topic(stack, topic, 2)
    apply(stack, tw("pq", env, stack, topic=topic))
    wait_for("the TelemetryWindow", lambda: item(dash.json("/api/v1/telemetrywindows"), "pq"))
    good, bad = tmp_path / "good.parquet", tmp_path / "bad.parquet"
    run([py, "-c", "import sys, pyarrow as pa, pyarrow.parquet as pq\n"
         "pq.write_table(pa.table({'ts': ['2026-01-01T00:00:00Z', '2026-01-01T00:00:01Z'],"
         " 'host': ['d-1', 'd-2'], 'temp': [21.5, None]}), sys.argv[1], compression='snappy')\n"
         "pq.write_table(pa.table({'time': [1], 'host': ['x']}), sys.argv[2])",
         str(good), str(bad)])
    base = f"/api/v1/telemetrywindows/{ns}/pq/load"
    pq_type = {"Content-Type": "application/vnd.apache.parquet"}
    status, _, body = dash.request("POST", base, bad.read_bytes(), pq_type)
    assert status == 400 and b'no column \\"ts\\"' in body, body
    status, _, body = dash.request("POST", base, good.read_bytes(), pq_type)
    assert status == 202, body
    load = json.loads(body)
    done = dash.json(f"{base}/{load['id']}?wait=60")  # a long poll: answered at the end
    assert done["state"] == "succeeded" and done["rows"] == 2 and done["delivered"] == 2, done
    out = run(["kcat", "-b", stack["KAFKA_BOOTSTRAP"], "-C", "-t", topic, "-e", "-q",
               "-f", "%k %s\n"]).stdout
    got = sorted((json.loads(line.split(" ", 1)[1]) for line in out.splitlines() if line),
                 key=json.dumps)
    assert got == sorted([{"ts": "2026-01-01T00:00:00Z", "host": "d-1", "temp": 21.5},
                          {"ts": "2026-01-01T00:00:01Z", "host": "d-2", "temp": None}],
                         key=json.dumps), out
