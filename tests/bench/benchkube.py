"""Helpers the Python benchmarks share: the stack's environment, plain REST
calls to the API server (kubectl would add ~100 ms a call, more than what
is measured), and running sluice-operator as a process."""
import base64
import json
import os
import pathlib
import re
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
OPERATOR = ROOT / "build" / "sluice-operator"


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
