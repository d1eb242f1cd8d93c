"""Helpers the Python benchmarks share: the stack's environment, plain REST
calls to the API server (kubectl would add ~100 ms a call, more than what
is measured), and running sluice-operator as a process."""
import base64
import concurrent.futures
import http.client
import json
import os
import pathlib
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
# $SLUICE_OPERATOR names another build's binary (make BUILD=build/x ...).
OPERATOR = pathlib.Path(os.environ.get("SLUICE_OPERATOR") or ROOT / "build" / "sluice-operator")


def stack_env_or_skip(name, need=("KUBECONFIG", "KAFKA_BOOTSTRAP", "KAFKA_LIBS")):
    if not all(os.environ.get(k) for k in need):
        print(f"{name}: skipped (no stack: run `make stack-up` first)")
        sys.exit(0)
    if not os.path.exists(os.environ["KUBECONFIG"]):
        # A stack started with SLUICE_STACK_COMPONENTS that leave out the
        # API server still names where its kubeconfig would be.
        print(f"{name}: skipped (the stack has no kube-apiserver)")
        sys.exit(0)
    return {k: os.environ[k] for k in need}


def wait_for(what, fn, timeout, poll=0.5, detail=None):
    """fn() until it returns something true (returned); past timeout s, exits
    naming what, with detail() when given (a log tail)."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}"
                             + (f"\n{detail()}" if detail is not None else ""))
        time.sleep(poll)


def sh(*cmd, input=None, timeout=120):
    p = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)}: {p.stderr.strip()}")
    return p.stdout


def create_topic(env, topic, partitions):
    sh("java", "-Xmx256m", "-Dlog4j.configuration=file:/dev/null", "-cp",
       env["KAFKA_LIBS"] + "/*", "org.apache.kafka.tools.TopicCommand",
       "--bootstrap-server", env["KAFKA_BOOTSTRAP"], "--create", "--topic", topic,
       "--partitions", str(partitions), "--replication-factor", "1")


class Api:
    """GET/POST/DELETE on the API server with the kubeconfig's token."""

    def __init__(self, kubeconfig):
        with open(kubeconfig) as f:
            cfg = yaml.safe_load(f)
        ctx = next(c["context"] for c in cfg["contexts"] if c["name"] == cfg["current-context"])
        cl = next(c["cluster"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])
        user = next(u["user"] for u in cfg["users"] if u["name"] == ctx["user"])
        self.server = cl["server"]
        self.ssl = ssl.create_default_context(
            cadata=base64.b64decode(cl["certificate-authority-data"]).decode())
        self.token = user["token"]

    def call(self, method, path, body=None, content_type="application/json"):
        req = urllib.request.Request(
            self.server + path, method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.token}",
                     "Content-Type": content_type})
        try:
            with urllib.request.urlopen(req, context=self.ssl, timeout=10) as r:
                return json.load(r)
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise SystemExit(f"{method} {path}: {e.code} {e.read()[:300]!r}") from None


class Operator:
    """sluice-operator as a process, scoped to one namespace, leader
    election off where it has it; its log in a temporary directory."""

    def __init__(self, env, namespace, *extra):
        self.workdir = tempfile.mkdtemp(prefix="sluice-bench-op.")
        self.log_path = f"{self.workdir}/operator.log"
        leader = (["--leader-elect=false"]
                  if "--leader-elect" in sh(str(OPERATOR), "--help") else [])
        self.proc = subprocess.Popen(
            [str(OPERATOR), "--kubeconfig", env["KUBECONFIG"], "--namespace", namespace,
             "--metrics-port", "0", "--worker-image", "bench",
             # The node has no such image and must never reach for a registry.
             "--worker-image-pull-policy", "Never",
             "--kafka-bootstrap", env["KAFKA_BOOTSTRAP"], *leader, *extra],
            stdout=subprocess.DEVNULL, stderr=open(self.log_path, "w"))
        self.port = None
        deadline = time.monotonic() + 20
        while self.port is None:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the operator did not start; log: {self.log_path}")
            m = re.search(r'"msg":"http endpoint listening".*?"port":"(\d+)"', self.log())
            self.port = int(m.group(1)) if m else None
            time.sleep(0.1)

    def wait_ready(self, timeout=30):
        """Until /readyz answers 200: every cache listed and watching."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz",
                                            timeout=5) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the operator never became ready; log: {self.log_path}")
            time.sleep(0.1)

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def metrics(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
            return r.read().decode()

    def metric_sum(self, name):
        total = 0.0
        for line in self.metrics().splitlines():
            if line.startswith(name + "{") or line.startswith(name + " "):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def rss_kib(self, field="VmRSS"):
        """VmRSS, or another /proc/PID/status field in KiB: RssAnon (the
        process's own pages), RssFile (mapped files, the shared libraries'
        pages shared with every process that maps them), VmHWM (the peak)."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            return int(re.search(field + r":\s+(\d+)", f.read()).group(1))

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# ---------------------------------------------------------------- at scale
# Additions for bench_operator.py (issue 19): a kube-only side stack of the
# bench's own, kept-alive connections for creating thousands of objects,
# watch streams, and a process's memory and CPU from /proc.

STACK_SH = ROOT / "tests" / "e2e" / "stack.sh"


def load_env_file(path):
    """The export lines of a stack's env file as a dict."""
    out = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"export (.*)", line.strip())
            if not m:
                continue
            for k, v in re.findall(r"(\w+)=('[^']*'|\S+)", m.group(1)):
                out[k] = v.strip("'")
    return out


class SideStack:
    """A stack of the caller's own (tests/e2e/stack.sh with its own TMPDIR
    and SLUICE_STACK_ENV, never the shared stack's): `with SideStack(...) as
    env:` starts it, yields its env file as a dict, and stops it by the same
    script on leaving, also on failure. The env file names ports for the
    servers left out too: only components' entries run."""

    def __init__(self, components="kafka etcd kube-apiserver", prefix="sluice-bench-stack-"):
        self.tmp = tempfile.mkdtemp(prefix=prefix)
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("KAFKA", "SLUICE_STACK", "SLUICE_KAFKA", "KUBE"))}
        self.env.update(TMPDIR=self.tmp, SLUICE_STACK_ENV=os.path.join(self.tmp, "stack.env"),
                        SLUICE_STACK_COMPONENTS=components, KAFKA_BROKERS="1")

    def __enter__(self):
        try:
            up = subprocess.run([str(STACK_SH), "up"], env=self.env, capture_output=True,
                                text=True, timeout=600)
        except BaseException:  # a signal while it starts: stop what did
            self.__exit__(None, None, None)
            raise
        if up.returncode != 0:
            self.__exit__(None, None, None)
            raise SystemExit(f"stack.sh up failed:\n{up.stderr[-3000:]}")
        return load_env_file(self.env["SLUICE_STACK_ENV"])

    def __exit__(self, *exc):
        subprocess.run([str(STACK_SH), "down"], env=self.env, capture_output=True, timeout=600)
        shutil.rmtree(self.tmp, ignore_errors=True)
        return False


class Session:
    """Api.call over one kept-alive HTTPS connection (one per thread: a new
    TLS handshake per request would cost more than the request)."""

    def __init__(self, api):
        self.api = api
        self.conn = None

    def _connect(self):
        u = urllib.parse.urlsplit(self.api.server)
        self.conn = http.client.HTTPSConnection(u.hostname, u.port, context=self.api.ssl,
                                                timeout=60)

    def call(self, method, path, body=None, ok_conflict=False):
        """The answer's JSON; None for 404 (and 409 when ok_conflict)."""
        data = None if body is None else json.dumps(body).encode()
        hdrs = {"Authorization": f"Bearer {self.api.token}",
                "Content-Type": "application/json"}
        for attempt in range(3):
            if self.conn is None:
                self._connect()
            try:
                self.conn.request(method, path, body=data, headers=hdrs)
                r = self.conn.getresponse()
                raw = r.read()
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
                continue
            if r.status == 429 or r.status >= 500:  # the API server's back-off
                if attempt == 2:
                    raise SystemExit(f"{method} {path}: {r.status} {raw[:300]!r}")
                time.sleep(float(r.getheader("Retry-After") or 1))
                continue
            if r.status == 404 or (r.status == 409 and ok_conflict):
                return None
            if r.status >= 300:
                raise SystemExit(f"{method} {path}: {r.status} {raw[:300]!r}")
            return json.loads(raw)

    def close(self):
        if self.conn is not None:
            self.conn.close()


def create_all(api, posts, workers=16, rate=0.0):
    """POSTs every (path, body) of posts on `workers` kept-alive connections
    at once, or, with rate > 0, post i no sooner than i / rate seconds after
    the first (a steady arrival rate); returns [(t_start, t_end)] in posts'
    order (time.monotonic)."""
    local = threading.local()
    sessions = []
    lock = threading.Lock()
    start = time.monotonic()

    def one(ipb):
        i, pb = ipb
        s = getattr(local, "s", None)
        if s is None:
            s = local.s = Session(api)
            with lock:
                sessions.append(s)
        if rate > 0:
            time.sleep(max(0.0, start + i / rate - time.monotonic()))  # clock: pacing
        t0 = time.monotonic()
        s.call("POST", pb[0], pb[1])
        return t0, time.monotonic()

    try:
        with concurrent.futures.ThreadPoolExecutor(workers) as ex:
            return list(ex.map(one, enumerate(posts)))
    finally:
        for s in sessions:
            s.close()


def count_listed(api, path, page=500):
    """How many objects path (a collection, maybe with ?labelSelector=)
    lists, read page by page (remainingItemCount is not given with a
    selector)."""
    sep = "&" if "?" in path else "?"
    n, cont = 0, ""
    while True:
        r = api.call("GET", f"{path}{sep}limit={page}"
                     + (f"&continue={urllib.parse.quote(cont)}" if cont else ""))
        n += len(r["items"])
        cont = r["metadata"].get("continue")
        if not cont:
            return n


class Watch:
    """A watch stream on a collection in a thread of its own: on_event(type,
    object, time.monotonic()) for each event from the collection's current
    resourceVersion on; stop() ends it."""

    def __init__(self, api, path, on_event):
        self.api, self.path, self.on_event = api, path, on_event
        self.rv = api.call("GET", f"{path}?limit=1")["metadata"]["resourceVersion"]
        self.conn = None
        self.stopped = False
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        u = urllib.parse.urlsplit(self.api.server)
        while not self.stopped:
            try:
                self.conn = http.client.HTTPSConnection(u.hostname, u.port,
                                                        context=self.api.ssl, timeout=3600)
                self.conn.request("GET", f"{self.path}?watch=1&resourceVersion={self.rv}"
                                  "&timeoutSeconds=3000",
                                  headers={"Authorization": f"Bearer {self.api.token}"})
                r = self.conn.getresponse()
                if r.status != 200:
                    raise OSError(f"watch {self.path}: {r.status}")
                while True:
                    line = r.readline()
                    if not line:
                        break
                    ev = json.loads(line)
                    if ev["type"] == "ERROR":
                        raise OSError(f"watch {self.path}: {ev['object'].get('message')}")
                    self.rv = ev["object"]["metadata"]["resourceVersion"]
                    self.on_event(ev["type"], ev["object"], time.monotonic())
            except (OSError, http.client.HTTPException, ValueError) as e:
                if not self.stopped:
                    self.error = str(e)
                    return
            finally:
                self.conn.close()

    def stop(self):
        self.stopped = True
        if self.conn is not None and self.conn.sock is not None:
            try:
                self.conn.sock.shutdown(2)
            except OSError:
                pass
        self.thread.join(timeout=10)


def proc_mem_kib(pid):
    """VmRSS, RssAnon, RssFile, VmHWM (/proc/PID/status) and Pss, Pss_Anon,
    Pss_File (/proc/PID/smaps_rollup: the shared library pages divided by
    the processes that map them), in KiB, and Threads."""
    with open(f"/proc/{pid}/status") as f:
        st = f.read()
    out = {k: int(re.search(k + r":\s+(\d+)", st).group(1))
           for k in ("VmRSS", "RssAnon", "RssFile", "VmHWM", "Threads")}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        sr = f.read()
    for k in ("Pss", "Pss_Anon", "Pss_File"):
        m = re.search(r"^" + k + r":\s+(\d+)", sr, re.M)
        out[k] = int(m.group(1)) if m else 0
    return out


def proc_cpu_s(pid):
    """utime + stime of pid, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
