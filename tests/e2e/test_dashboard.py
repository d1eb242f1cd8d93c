"""The dashboard (build/sluice-dashboard) in a real browser: headless Chromium
(Debian's /usr/bin/chromium) driven by playwright-core through
tests/e2e/browser/dashboard.js, against the page the dashboard serves for a
namespace where real resources run on the stack's node:

- the page loads with no console error, uncaught exception or failed request;
- a VideoJob, applied while the page is open, shows with a progress bar that
  advances (never back) to 100% as the real job's segments are processed;
- a TelemetryWindow fed by kcat, with a Redis and a PostgreSQL sink, shows a
  chart whose points grow as its windows close;
- a file uploaded through a VideoWatch's form becomes a VideoJob (skipped
  until crds/videowatches.sluice.dev.yaml exists);
- the Grafana dashboard's metric names are served by a real operator, a
  real telemetry worker and a real video process worker (/metrics).

Each scenario leaves a full-page screenshot in build/artifacts/dashboard/.
The operator runs as a process (as in test_autoscale.py), its workers on the
node's network; the dashboard as a process with --kubeconfig and --namespace.

Needs the whole stack with its node (make stack-up, as root), `make build`
(build/sluice-dashboard), and scripts/deps.sh apt browser (chromium,
playwright-core).
"""
import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest

from conftest import ROOT, container_pid, run
from test_autoscale import POLL, WINDOW, WORKER_UID, hostpath_claim, make_clip, produce, \
    vj_manifest
from test_operator import Operator, create_topic, get, kubectl, wait_for

# SLUICE_DASHBOARD: another build's binary (make BUILD=build/x ...).
DASHBOARD = pathlib.Path(os.environ.get("SLUICE_DASHBOARD", ROOT / "build" / "sluice-dashboard"))
BROWSER = ROOT / "tests" / "e2e" / "browser" / "dashboard.js"
ARTIFACTS = ROOT / "build" / "artifacts" / "dashboard"
VW_CRD = ROOT / "crds" / "videowatches.sluice.dev.yaml"
GRAFANA = ROOT / "helm" / "sluice" / "dashboards" / "sluice.json"
CHROMIUM = "/usr/bin/chromium"

# Families with labels render nothing until their first child exists
# (lib/metrics.h), and these get their first child from a failure only: a
# healthy run does not serve them. test_deploy.py finds them in the source.
ON_FAILURE_ONLY = {"sluice_tw_malformed_total", "sluice_tw_sink_errors_total",
                   "sluice_operator_reconcile_errors_total",
                   "sluice_autoscaler_lag_errors_total", "sluice_vj_segment_failures_total"}


def node_path():
    """playwright-core's node_modules, as scripts/deps.sh browser installed it."""
    out = run(["bash", "-c", f". {ROOT}/scripts/versions.sh; "
               "echo $SLUICE_CACHE/npm/playwright-core-$PLAYWRIGHT_CORE_VERSION/node_modules"]
              ).stdout.strip()
    if not pathlib.Path(out, "playwright-core", "package.json").exists():
        pytest.fail(f"playwright-core is not in {out}: run `scripts/deps.sh browser`")
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def grafana_metric_names():
    """Every metric name the Grafana dashboard's queries use."""
    exprs = [t["expr"] for p in json.loads(GRAFANA.read_text())["panels"]
             for t in p.get("targets", [])]
    return {m for e in exprs for m in re.findall(r"\b((?:sluice|rest_client)_[a-z0-9_]+)\b", e)}


def served_names(text):
    """The metric names of the samples in a /metrics exposition."""
    return {line.split("{")[0].split()[0] for line in text.splitlines()
            if line and not line.startswith("#")}


def assert_served(text, prefixes, what):
    wanted = {n for n in grafana_metric_names() if n.startswith(prefixes)}
    assert wanted, f"the Grafana dashboard uses no {prefixes} metric"
    missing = wanted - served_names(text) - ON_FAILURE_ONLY
    assert not missing, f"{what} does not serve {sorted(missing)}"
    return True


def assert_served_soon(scrape, prefixes, what, timeout=30):
    """assert_served on scrape()'s text, until it passes: a family with
    labels appears with its first update (the telemetry worker's lag, every
    5 s once it has fetched)."""
    wait_for(f"{what} to serve the Grafana dashboard's names",
             lambda: assert_served(scrape(), prefixes, what), timeout=timeout)


def http_get(url, timeout=5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return None, ""


def pod_metrics(stack, pod):
    """/metrics of a worker pod on the node's network: its port is in the port
    file the worker writes (SLUICE_METRICS_PORT_FILE, /run/sluice), read from
    the host through the container's root."""
    port_file = pathlib.Path("/proc", str(container_pid(stack, pod)), "root", "run", "sluice",
                             "metrics-port")
    port = port_file.read_text().strip()
    status, body = http_get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200, (status, body)
    return body


def running_pods(stack, ns, selector):
    items = json.loads(kubectl(stack, "get", "pods", "-n", ns, "-l", selector, "-o", "json")
                       .stdout)["items"]
    return [p for p in items if p["metadata"].get("deletionTimestamp") is None and
            p["status"].get("containerStatuses", [{}])[0].get("state", {}).get("running")]


class Browser:
    """tests/e2e/browser/dashboard.js, one scenario a run."""

    def __init__(self, url, dashboard):
        self.url = url
        self.dashboard = dashboard
        self.env = {**os.environ, "NODE_PATH": node_path(), "CHROMIUM": CHROMIUM}
        ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def start(self, scenario, timeout=120, **args):
        cmd = ["node", str(BROWSER), "--url", self.url, "--out", str(ARTIFACTS),
               "--scenario", scenario, "--timeout", str(timeout)]
        for k, v in args.items():
            cmd += [f"--{k}", str(v)]
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=self.env)

    def result(self, proc, timeout):
        try:
            out, err = proc.communicate(timeout=timeout + 60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        if proc.returncode != 0:
            raise AssertionError(f"the browser's scenario failed:\n{err}\n"
                                 f"sluice-dashboard's log (tail):\n{self.dashboard.logs()[-3000:]}")
        return json.loads(out.strip().splitlines()[-1])

    def run(self, scenario, timeout=120, **args):
        return self.result(self.start(scenario, timeout, **args), timeout)


class Dashboard:
    """build/sluice-dashboard as a process, for one namespace."""

    def __init__(self, stack, ns, workdir):
        self.port = None
        self.port_file = pathlib.Path(workdir) / "port"
        self.log = pathlib.Path(workdir) / "dashboard.log"
        # The operator's defaults too (the `operator` fixture's), for the
        # resources that name no store of their own.
        args = [str(DASHBOARD), "--kubeconfig", stack["KUBECONFIG"], "--namespace", ns,
                "--listen-addr", "127.0.0.1", "--port", "0", "--port-file", str(self.port_file),
                "--kafka-bootstrap", stack["KAFKA_BOOTSTRAP"], "--redis-addr", stack["REDIS_ADDR"],
                "--postgres-secret", "pg", "--sample-interval", "1s", "--log-level", "debug"]
        env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                     stderr=open(self.log, "w"), env=env)
        self.url = None

    def ready(self):
        """Listening (its port in the port file) and /readyz 200."""
        assert self.proc.poll() is None, \
            f"sluice-dashboard exited {self.proc.returncode}:\n{self.logs()}"
        if self.url is None:
            text = self.port_file.read_text().strip() if self.port_file.exists() else ""
            if not text:
                return False
            self.port = int(text)
            self.url = f"http://127.0.0.1:{self.port}/"
        return http_get(self.url + "readyz")[0] == 200

    def logs(self):
        return self.log.read_text() if self.log.exists() else ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="module")
def crds(stack):
    """Sluice's CRDs, established: the dashboard is ready only once it lists
    every kind, and the operator reconciles them."""
    for crd in sorted((ROOT / "crds").glob("*.yaml")):
        kubectl(stack, "apply", "-f", str(crd))
    kubectl(stack, "wait", "--for=condition=Established", "--timeout=60s",
            "crd/telemetrywindows.sluice.dev", "crd/videojobs.sluice.dev")
    if VW_CRD.exists():
        kubectl(stack, "wait", "--for=condition=Established", "--timeout=60s",
                "crd/videowatches.sluice.dev")


@pytest.fixture(scope="module")
def operator(stack, node, crds):
    """The operator as test_autoscale's `scaler` runs it (worker image on the
    node, host network, short autoscaling windows), with a lease namespace of
    its own so both modules can run in one session."""
    lease_ns = f"dash-lease-{uuid.uuid4().hex[:8]}"
    kubectl(stack, "create", "namespace", lease_ns)
    # A VideoWatch's watcher pod, on the node's network, reaches the API
    # server at its own address (test_videowatch.py's operator does the same).
    watcher = ["--watcher-api-server", stack["KUBE_APISERVER"].split("://", 1)[1]] \
        if VW_CRD.exists() else []
    with tempfile.TemporaryDirectory(prefix="sluice-dash-op-") as d:
        o = Operator(stack, d, lease_ns, name="dash",
                     extra=[*watcher, "--worker-image", stack["SLUICE_WORKER_IMAGE"],
                            "--worker-image-pull-policy", "Never", "--worker-host-network",
                            "--kafka-bootstrap", stack["KAFKA_BOOTSTRAP"],
                            "--postgres-secret", "pg", "--influx-url", stack["INFLUX_URL"],
                            "--influx-database", stack["INFLUX_DB"],
                            "--polling-interval", POLL, "--stabilization-window", WINDOW,
                            "--cooldown-period", WINDOW])
        o.start()
        yield o
        o.stop()
        kubectl(stack, "delete", "namespace", lease_ns, "--wait=false", check=False)


@pytest.fixture(scope="module")
def ns(stack):
    """One namespace for the module: the dashboard shows it alone."""
    name = f"dash-{uuid.uuid4().hex[:8]}"
    kubectl(stack, "create", "namespace", name)
    kubectl(stack, "-n", name, "create", "secret", "generic", "pg",
            f"--from-literal=dsn={stack['PG_DSN']}")
    yield name
    kubectl(stack, "delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="module")
def videos(stack, ns):
    """The claim `videos` (a hostPath volume on the node) with out/ for outputs."""
    vol = hostpath_claim(stack, ns, "videos")
    (vol / "out").mkdir()
    os.chown(vol / "out", WORKER_UID, WORKER_UID)
    return vol


@pytest.fixture(scope="module")
def dashboard(stack, ns, crds):
    if not os.access(DASHBOARD, os.X_OK):
        pytest.fail(f"{DASHBOARD} is not built: run `make build`")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run `scripts/deps.sh apt` (Debian's chromium)")
    with tempfile.TemporaryDirectory(prefix="sluice-dash-") as d:
        dash = Dashboard(stack, ns, d)
        try:
            wait_for("sluice-dashboard's /readyz", dash.ready, timeout=30)
            yield dash
        finally:
            dash.stop()


@pytest.fixture(scope="module")
def browser(dashboard):
    return Browser(dashboard.url, dashboard)


def test_page_loads_without_console_errors(browser, dashboard):
    r = browser.run("load", timeout=30)
    assert r["ok"] and r["title"], r
    assert (ARTIFACTS / "load.png").stat().st_size > 0
    # The JSON API beside the page answers too.
    status, _ = http_get(dashboard.url + "api/v1/videojobs")
    assert status == 200


def test_videojob_progress_bar_advances_to_100(stack, operator, ns, videos, browser):
    """The page is open before the VideoJob exists: it appears, and its bar
    follows the real job's segments to 100% without a reload. Meanwhile the
    process worker's /metrics serves the Grafana dashboard's video names."""
    # 12 s of 720p in 2 s segments, encoded slowly by one process worker: a
    # few seconds a segment, so the page (which polls every 2 s) shows the
    # steps between 0 and 100.
    make_clip(videos / "in.mp4", 12, size="1280x720")
    timeout = 300
    proc = browser.start("videojob", timeout=timeout, id=f"{ns}/clip")
    kubectl(stack, "apply", "-f", "-",
            input=json.dumps(vj_manifest(stack, "clip", ns, "clip.mp4", preset="medium")))

    def scrape():
        """("metrics", text) from a process worker, ("ended", None) once the
        browser's scenario ended without one, None while neither."""
        for pod in running_pods(stack, ns, "sluice.dev/videojob=clip,"
                                "app.kubernetes.io/component=process"):
            try:
                return "metrics", pod_metrics(stack, pod)
            except OSError:
                pass  # not listening yet
        return ("ended", None) if proc.poll() is not None else None

    _, scraped = wait_for("a process worker's /metrics (or the browser's end)", scrape,
                          timeout=timeout, interval=0.2)
    r = browser.result(proc, timeout)
    seen = r["progress"]
    assert seen[-1] == 100, seen
    assert any(0 < v < 100 for v in seen), f"no progress seen between 0 and 100: {seen}"
    st = wait_for("the VideoJob Succeeded", lambda: (get(stack, "vj", "clip", ns) or {}).get(
        "status", {}).get("phase") == "Succeeded", timeout=60)
    assert st
    assert scraped is not None, "the process worker's /metrics was never read"
    assert_served(scraped, ("sluice_vj_",), "a process worker")


def test_telemetrywindow_chart_grows_as_windows_close(stack, operator, ns, browser):
    """kcat feeds the topic with events at the wall clock's time; each 2 s
    window that closes adds a point to the chart, read from the Redis and
    PostgreSQL sinks. Meanwhile the telemetry worker's and the operator's
    /metrics serve the Grafana dashboard's names."""
    topic = f"sensors-{ns}"
    create_topic(stack, topic, 1)
    tw = {"apiVersion": "sluice.dev/v1alpha1", "kind": "TelemetryWindow",
          "metadata": {"name": "sensors", "namespace": ns},
          "spec": {"kafka": {"bootstrap": stack["KAFKA_BOOTSTRAP"], "topic": topic},
                   "fields": {"timestamp": "ts", "timestampFormat": "epoch_ms",
                              "keys": ["host"], "values": ["temp"]},
                   "window": {"size": "2s", "watermarkDelay": "500ms", "idleTimeout": "1s"},
                   "sinks": {"redis": {"addr": f"{stack['REDIS_HOST']}:{stack['REDIS_PORT']}"},
                             "postgres": {"dsn": {"name": "pg", "key": "dsn"},
                                          "table": "dash_windows"}},
                   "workers": {"minReplicas": 1, "maxReplicas": 1}}}
    kubectl(stack, "apply", "-f", "-", input=json.dumps(tw))
    stop = threading.Event()
    errors = []

    def feed():
        # Half a second of events (one per 10 ms over 4 hosts) every half second.
        while not stop.is_set():
            try:
                produce(stack, topic, 50, int(time.time() * 1000), hosts=4)
            except AssertionError as e:
                errors.append(e)
                return
            stop.wait(0.5)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        r = browser.run("telemetry", timeout=180, id=f"{ns}/sensors", min=2)
        first, then = r["points"]
        assert then > first >= 2, r
        (pod,) = wait_for("one running telemetry worker", lambda: running_pods(
            stack, ns, "sluice.dev/telemetrywindow=sensors") or None, timeout=30)
        assert_served_soon(lambda: pod_metrics(stack, pod), ("sluice_tw_",), "a telemetry worker")
    finally:
        stop.set()
        feeder.join(timeout=30)
    assert not errors, errors
    rows = run(["psql", stack["PG_DSN"], "-Atc",
                f"SELECT count(*) FROM dash_windows WHERE resource = '{ns}/sensors'"]).stdout
    assert int(rows) > 0
    assert_served_soon(operator.metrics,
                       ("sluice_operator_", "sluice_autoscaler_", "sluice_leader", "rest_client_"),
                       "the operator")


@pytest.mark.skipif(not VW_CRD.exists(),
                    reason="no VideoWatch yet (crds/videowatches.sluice.dev.yaml is absent)")
def test_upload_through_the_videowatch_form_becomes_a_job(stack, operator, ns, videos, browser):
    """A VideoWatch with an upload endpoint: the page's form for it sends a
    clip (through the dashboard, to the watcher pod), and a VideoJob made from
    it appears on the page and succeeds."""
    (videos / "inbox").mkdir()
    os.chown(videos / "inbox", WORKER_UID, WORKER_UID)
    token = uuid.uuid4().hex
    kubectl(stack, "-n", ns, "create", "secret", "generic", "upload",
            f"--from-literal=token={token}")
    template = vj_manifest(stack, "unused", ns, "{stem}.mp4")["spec"]
    del template["source"], template["volume"]
    vw = {"apiVersion": "sluice.dev/v1alpha1", "kind": "VideoWatch",
          "metadata": {"name": "inbox", "namespace": ns},
          "spec": {"volume": {"mountPath": "/videos",
                              "persistentVolumeClaim": {"claimName": "videos"}},
                   "directory": "inbox", "glob": "*.mp4", "settleSeconds": 1,
                   "rescanSeconds": 2,
                   # On the node's network: a port of the node no one else has.
                   "upload": {"token": {"name": "upload", "key": "token"},
                              "port": free_port()},
                   "template": template}}
    kubectl(stack, "apply", "-f", "-", input=json.dumps(vw))
    with tempfile.TemporaryDirectory(prefix="sluice-dash-up-") as d:
        clip = pathlib.Path(d) / "uploaded.mp4"
        make_clip(clip, 4)
        clip_size = clip.stat().st_size
        r = browser.run("upload", timeout=180, id=f"{ns}/inbox", file=clip, token=token)
    job_ns, job = r["job"].split("/", 1)
    assert job_ns == ns, r
    vj = get(stack, "vj", job, ns)
    assert vj["metadata"]["labels"]["sluice.dev/videowatch"] == "inbox", vj["metadata"]
    assert vj["metadata"]["annotations"]["sluice.dev/source-file"] == "uploaded.mp4"
    wait_for("the uploaded clip's VideoJob Succeeded", lambda: (get(stack, "vj", job, ns) or {})
             .get("status", {}).get("phase") == "Succeeded", timeout=240)
    assert (videos / "inbox" / "uploaded.mp4").stat().st_size == clip_size
    assert (videos / "out" / "uploaded.mp4").stat().st_size > 0
