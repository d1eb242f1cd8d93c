#!/usr/bin/env python3
"""bench_dashboard: how fast sluice-dashboard answers the page's data
requests with 1,000 resources (issue target: under 50 ms).

Creates BENCH_DASHBOARD_RESOURCES resources (default 1000: half VideoJobs,
half TelemetryWindows, each with a status as the operator writes it; no
operator runs) in a namespace of the stack's API server, starts
sluice-dashboard for it, waits until its API lists them all, then times
BENCH_DASHBOARD_ROUNDS rounds of what the page polls every 2 s: the three
lists, /workers, /info, and one resource's detail of each kind, over one
kept-alive connection as a browser's. Prints p50 and p95 per request and
for a whole overview poll, and deletes the namespace.

The reference, in the same run: the same two collections listed straight
from the API server (what a page without the dashboard's cache would ask
for, over one kept-alive TLS connection), and the ratio of the dashboard's
overview poll to it.

Needs a stack with the Kubernetes API (make stack-up); prints a line and
exits 0 when there is none. Exits 1 when a figure cannot be computed. Run by
`make bench` (SLUICE_DASHBOARD names the binary; default
build/sluice-dashboard).
"""
import concurrent.futures
import http.client
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from benchkube import ROOT, Api, stack_env_or_skip

N = int(os.environ.get("BENCH_DASHBOARD_RESOURCES", "1000"))
ROUNDS = int(os.environ.get("BENCH_DASHBOARD_ROUNDS", "200"))
TARGET_MS = 50
DASHBOARD = pathlib.Path(os.environ.get("SLUICE_DASHBOARD", ROOT / "build" / "sluice-dashboard"))
GROUP = "/apis/sluice.dev/v1alpha1/namespaces"


def resource(i, ns, bootstrap):
    if i % 2 == 0:
        name = f"vj-{i:04d}"
        obj = {"apiVersion": "sluice.dev/v1alpha1", "kind": "VideoJob",
               "metadata": {"name": name, "namespace": ns},
               "spec": {"source": {"uri": f"file:///media/in/{name}.mp4"},
                        "output": {"uri": f"file:///media/out/{name}.mp4"},
                        "kafka": {"bootstrap": bootstrap}}}
        status = {"phase": "Processing", "progress": "40%", "segmentsDone": 40,
                  "segmentsTotal": 100, "framesDone": 4800, "framesTotal": 12000,
                  "lag": i % 17, "replicas": 2, "desiredReplicas": 3,
                  "topic": f"sluice-vj-{ns}-{name}", "startTime": "2026-01-01T00:00:00Z"}
        return "videojobs", name, obj, status
    name = f"tw-{i:04d}"
    obj = {"apiVersion": "sluice.dev/v1alpha1", "kind": "TelemetryWindow",
           "metadata": {"name": name, "namespace": ns},
           "spec": {"kafka": {"bootstrap": bootstrap, "topic": f"in-{i}"},
                    "fields": {"timestamp": "ts", "keys": ["host", "site"],
                               "values": ["temp", "load"]},
                    "window": {"size": "1m"}, "workers": {"minReplicas": 0}}}
    status = {"phase": "Running", "lag": i * 3, "lagSeconds": i % 60, "replicas": 1,
              "desiredReplicas": 1, "eventsProcessed": i * 1000, "duplicates": i % 7,
              "late": i % 5, "malformed": i % 3, "windowsEmitted": i * 10,
              "lastWatermark": "2026-01-01T00:00:00Z",
              "conditions": [{"type": "Ready", "status": "True", "reason": "Running",
                              "message": "workers ready",
                              "lastTransitionTime": "2026-01-01T00:00:00Z"}]}
    return "telemetrywindows", name, obj, status


def create_all(api, ns, bootstrap):
    def one(i):
        plural, name, obj, status = resource(i, ns, bootstrap)
        api.call("POST", f"{GROUP}/{ns}/{plural}", obj)
        api.call("PATCH", f"{GROUP}/{ns}/{plural}/{name}/status", {"status": status},
                 "application/merge-patch+json")

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(N)))


class Dashboard:
    def __init__(self, kubeconfig, ns, workdir):
        port_file = pathlib.Path(workdir, "port")
        self.log_path = pathlib.Path(workdir, "dashboard.log")
        self.proc = subprocess.Popen(
            [str(DASHBOARD), "--kubeconfig", kubeconfig, "--namespace", ns, "--port", "0",
             "--port-file", str(port_file), "--log-level", "warn"],
            stdout=subprocess.DEVNULL, stderr=open(self.log_path, "w"))
        deadline = time.monotonic() + 20
        while not (port_file.exists() and port_file.read_text().strip()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the dashboard did not start; log: {self.log_path}")
            time.sleep(0.05)
        self.port = int(port_file.read_text())
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def get(self, path):
        """(status, body, seconds) over the kept connection."""
        t = time.perf_counter()
        self.conn.request("GET", path)
        r = self.conn.getresponse()
        body = r.read()
        return r.status, body, time.perf_counter() - t

    def stop(self):
        self.conn.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def api_list_times(api, ns, rounds):
    """ms per round of listing both collections from the API server."""
    host, port = api.server.split("://", 1)[1].rsplit(":", 1)
    conn = http.client.HTTPSConnection(host, int(port), context=api.ssl, timeout=30)
    out = []
    try:
        for _ in range(rounds):
            t = time.perf_counter()
            for plural in ("videojobs", "telemetrywindows"):
                conn.request("GET", f"{GROUP}/{ns}/{plural}",
                             headers={"Authorization": f"Bearer {api.token}"})
                r = conn.getresponse()
                body = r.read()
                if r.status != 200 or not body:
                    raise SystemExit(f"GET {GROUP}/{ns}/{plural}: {r.status}")
            out.append((time.perf_counter() - t) * 1000)
    finally:
        conn.close()
    return out


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    env = stack_env_or_skip("bench_dashboard", need=("KUBECONFIG",))
    if not DASHBOARD.exists():
        print(f"bench_dashboard: {DASHBOARD} is missing (make build)")
        return 1
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    api = Api(env["KUBECONFIG"])
    # The CRDs, as a fresh stack has none.
    kenv = {**os.environ, "KUBECONFIG": env["KUBECONFIG"]}
    subprocess.run(["kubectl", "apply", "-f", str(ROOT / "crds")], env=kenv, check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["kubectl", "wait", "--for=condition=Established", "--timeout=60s",
                    "crd/videojobs.sluice.dev", "crd/telemetrywindows.sluice.dev",
                    "crd/videowatches.sluice.dev"], env=kenv, check=True,
                   stdout=subprocess.DEVNULL)
    ns = f"bench-dash-{os.getpid()}"
    api.call("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                              "metadata": {"name": ns}})
    dash = None
    try:
        t0 = time.monotonic()
        create_all(api, ns, bootstrap)
        print(f"bench_dashboard: {N} resources created in {time.monotonic() - t0:.1f} s")
        with tempfile.TemporaryDirectory(prefix="sluice-bench-dash-") as d:
            t0 = time.monotonic()
            dash = Dashboard(env["KUBECONFIG"], ns, d)
            half = {"videojobs": (N + 1) // 2, "telemetrywindows": N // 2}
            deadline = time.monotonic() + 120
            while True:
                counts = {}
                for plural in half:
                    st, body, _ = dash.get(f"/api/v1/{plural}")
                    counts[plural] = json.loads(body)["count"] if st == 200 else -1
                if counts == half:
                    break
                if time.monotonic() > deadline:
                    print(f"bench_dashboard: the API lists {counts}, not {half}")
                    return 1
                time.sleep(0.1)
            print(f"bench_dashboard: all {N} listed {time.monotonic() - t0:.2f} s after start")

            paths = {
                "videojobs": "/api/v1/videojobs",
                "telemetrywindows": "/api/v1/telemetrywindows",
                "videowatches": "/api/v1/videowatches",
                "workers": "/api/v1/workers?limit=10",
                "info": "/api/v1/info",
                "videojob detail": f"/api/v1/videojobs/{ns}/vj-0000",
                "telemetrywindow detail": f"/api/v1/telemetrywindows/{ns}/tw-0001",
            }
            times = {k: [] for k in paths}
            sizes = {}
            overview = []
            for _ in range(ROUNDS):
                poll = 0.0
                for k, p in paths.items():
                    st, body, s = dash.get(p)
                    if st != 200:
                        print(f"bench_dashboard: GET {p}: {st} {body[:200]!r}")
                        return 1
                    times[k].append(s * 1000)
                    sizes[k] = len(body)
                    if k in ("videojobs", "telemetrywindows", "videowatches"):
                        poll += s * 1000
                overview.append(poll)
            worst = 0.0
            for k, xs in times.items():
                if len(xs) != ROUNDS:
                    print(f"bench_dashboard: no figure for {k}")
                    return 1
                p50, p95 = pct(xs, 50), pct(xs, 95)
                worst = max(worst, p95)
                print(f"bench_dashboard: GET {paths[k]:<55} {sizes[k] / 1024:8.1f} KiB  "
                      f"p50 {p50:6.2f} ms  p95 {p95:6.2f} ms")
            print(f"bench_dashboard: overview poll (3 lists, {N} resources)"
                  f"{'':17}p50 {pct(overview, 50):6.2f} ms  p95 {pct(overview, 95):6.2f} ms")
            ref = api_list_times(api, ns, max(20, ROUNDS // 4))
            print(f"bench_dashboard: reference: both lists from the API server"
                  f"{'':21}p50 {pct(ref, 50):6.2f} ms  p95 {pct(ref, 95):6.2f} ms")
            print(f"bench_dashboard: overview poll / API server lists: p50 ratio "
                  f"{pct(overview, 50) / pct(ref, 50):.3f}, p95 ratio "
                  f"{pct(overview, 95) / pct(ref, 95):.3f}")
            print(f"bench_dashboard: slowest request p95 {worst:.2f} ms, target < {TARGET_MS} ms: "
                  f"{'met' if worst < TARGET_MS else 'MISSED'} ({ROUNDS} rounds, mean of all "
                  f"{statistics.mean(x for xs in times.values() for x in xs):.2f} ms)")
            dash.stop()
            dash = None
        return 0
    finally:
        if dash is not None:
            dash.stop()
        try:
            req = urllib.request.Request(api.server + f"/api/v1/namespaces/{ns}",
                                         method="DELETE",
                                         headers={"Authorization": f"Bearer {api.token}"})
            urllib.request.urlopen(req, context=api.ssl, timeout=30).close()
        except OSError as e:
            print(f"bench_dashboard: cannot delete namespace {ns}: {e}")


if __name__ == "__main__":
    sys.exit(main())
