"""KEDA (operator and metrics adapter) as two processes on this host, served
to the stack's API server through the aggregation layer, for the benchmarks
that compare Sluice's autoscaler with it (bench_autoscale_keda.py).

The binaries come from `scripts/deps.sh keda` (built once from KEDA's Go
module, cached in $SLUICE_CACHE/keda-$KEDA_VERSION). Both processes use the
stack's admin kubeconfig (system:masters: no KEDA RBAC is applied) and
listen on 127.0.0.1 only:

  keda          the operator: ScaledObject -> HPA, the scalers; its gRPC
                metrics service on 127.0.0.1:<grpc>, health on 127.0.0.1,
                its own /metrics off, leader election off;
  keda-adapter  external.metrics.k8s.io on 127.0.0.1:<secure>, asking the
                operator over mutual TLS (one CA made here signs the one
                certificate both use, also the adapter's serving one).

Pods here share the host's network on 127.0.0.1 and Endpoints refuse
loopback addresses, so the APIService points at a Service of type
ExternalName (externalName: localhost): the aggregator's cluster resolver
sends requests for such a service to externalName:port. The HPA controller
in kube-controller-manager then reads the metric and scales the target.
"""
import json
import os
import pathlib
import socket
import subprocess
import tempfile

from benchkube import ROOT, sh, wait_for

NAMESPACE = "keda"
SERVICE = "keda-metrics-apiserver"
APISERVICE = "v1beta1.external.metrics.k8s.io"


def install():
    """Builds KEDA once (minutes), then answers from the cache: its folder."""
    p = subprocess.run([str(ROOT / "scripts" / "deps.sh"), "keda"], text=True,
                       capture_output=True, timeout=3600)
    if p.returncode != 0:
        raise SystemExit(f"scripts/deps.sh keda failed:\n{p.stderr[-2000:]}")
    ver = sh("bash", "-c", f". {ROOT}/scripts/versions.sh && echo $SLUICE_CACHE/keda-$KEDA_VERSION")
    return pathlib.Path(ver.strip())


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_certs(d):
    """ca.crt, tls.crt, tls.key in d: the names KEDA's gRPC TLS reads."""
    san = ("subjectAltName=IP:127.0.0.1,DNS:localhost,"
           f"DNS:{SERVICE}.{NAMESPACE}.svc,DNS:keda-operator.{NAMESPACE}.svc.cluster.local\n"
           "extendedKeyUsage=serverAuth,clientAuth\n")
    (d / "san.ext").write_text(san)
    for cmd in (
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
         "-out", "ca.crt", "-days", "2", "-subj", "/CN=sluice-bench-keda-ca"],
        ["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "tls.key",
         "-out", "tls.csr", "-subj", "/CN=keda"],
        ["openssl", "x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
         "-CAcreateserial", "-out", "tls.crt", "-days", "2", "-extfile", "san.ext"],
    ):
        p = subprocess.run(cmd, cwd=d, capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)}: {p.stderr.strip()}")


class Keda:
    """start() -> KEDA serving external.metrics.k8s.io; stop() by PID and
    removes the APIService (an unavailable one slows API discovery)."""

    def __init__(self, env, watch_namespace=""):
        self.env = env
        self.kc = ["kubectl", "--kubeconfig", env["KUBECONFIG"]]
        self.watch = watch_namespace
        self.dir = install()
        self.work = pathlib.Path(tempfile.mkdtemp(prefix="sluice-bench-keda."))
        self.certs = self.work / "certs"
        self.certs.mkdir()
        self.procs = []

    def kubectl(self, *args, input=None):
        return sh(*self.kc, *args, input=input)

    def apply_cluster_objects(self, secure_port):
        # The CRDs are large: server-side apply has no last-applied annotation.
        self.kubectl("apply", "--server-side", "--force-conflicts", "-f",
                     str(self.dir / "config" / "crd" / "bases"))
        # (kubectl wait fails on a CRD whose status is not written yet.)
        jp = '{.status.conditions[?(@.type=="Established")].status}'
        wait_for("KEDA's ScaledObject CRD Established", lambda: subprocess.run(
            [*self.kc, "get", "crd", "scaledobjects.keda.sh", "-o", f"jsonpath={jp}"],
            capture_output=True, text=True).stdout == "True", 60, poll=0.2)
        ca = (self.certs / "ca.crt").read_bytes()
        import base64
        objs = [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
            {"apiVersion": "v1", "kind": "Service",
             "metadata": {"name": SERVICE, "namespace": NAMESPACE},
             "spec": {"type": "ExternalName", "externalName": "localhost",
                      "ports": [{"name": "https", "port": secure_port}]}},
            {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
             "metadata": {"name": APISERVICE},
             "spec": {"group": "external.metrics.k8s.io", "version": "v1beta1",
                      "groupPriorityMinimum": 100, "versionPriority": 100,
                      "caBundle": base64.b64encode(ca).decode(),
                      "service": {"namespace": NAMESPACE, "name": SERVICE,
                                  "port": secure_port}}},
        ]
        self.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                           "items": objs}))

    def spawn(self, name, args, extra_env):
        log = open(self.work / f"{name}.log", "w")
        env = dict(os.environ, KUBECONFIG=self.env["KUBECONFIG"], POD_NAMESPACE=NAMESPACE,
                   KEDA_CLUSTER_OBJECT_NAMESPACE=NAMESPACE,
                   WATCH_NAMESPACE=self.watch, **extra_env)
        p = subprocess.Popen([str(self.dir / "bin" / name), *args], stdout=log,
                             stderr=subprocess.STDOUT, env=env)
        self.procs.append(p)
        return p

    def log(self, name):
        f = self.work / f"{name}.log"
        return f.read_text() if f.exists() else ""

    def start(self, timeout=120):
        make_certs(self.certs)
        grpc, secure, health, metrics = free_port(), free_port(), free_port(), free_port()
        self.apply_cluster_objects(secure)
        self.operator = self.spawn("keda", [
            f"--metrics-service-bind-address=127.0.0.1:{grpc}",
            f"--health-probe-bind-address=127.0.0.1:{health}",
            "--metrics-bind-address=0", "--enable-prometheus-metrics=false",
            "--leader-elect=false", "--enable-cert-rotation=false",
            f"--cert-dir={self.certs}", f"--ca-dir={self.certs}",
            "--zap-log-level=info", "--zap-encoder=console"], {})
        kc = self.env["KUBECONFIG"]
        self.adapter = self.spawn("keda-adapter", [
            f"--secure-port={secure}", "--bind-address=127.0.0.1",
            f"--cert-dir={self.certs}", f"--tls-cert-file={self.certs}/tls.crt",
            f"--tls-private-key-file={self.certs}/tls.key",
            f"--metrics-service-address=127.0.0.1:{grpc}",
            f"--lister-kubeconfig={kc}", f"--authentication-kubeconfig={kc}",
            f"--authorization-kubeconfig={kc}",
            # Its own /metrics (127.0.0.1 only: scripts/deps.sh builds it so).
            f"--port={metrics}",
            "--zap-log-level=info", "--zap-encoder=console"], {})
        self.wait_available(timeout)
        return self

    def serving(self):
        """True once the APIService is Available and the API answers; exits
        when KEDA's operator or adapter did."""
        for p, n in ((self.operator, "keda"), (self.adapter, "keda-adapter")):
            if p.poll() is not None:
                raise SystemExit(f"{n} exited ({p.returncode}); log:\n{self.log(n)[-3000:]}")
        a = subprocess.run([*self.kc, "get", "apiservice", APISERVICE, "-o", "json"],
                           capture_output=True, text=True)
        if a.returncode != 0:
            return False
        conds = json.loads(a.stdout).get("status", {}).get("conditions", [])
        if not any(c["type"] == "Available" and c["status"] == "True" for c in conds):
            return False
        r = subprocess.run([*self.kc, "get", "--raw", "/apis/external.metrics.k8s.io/v1beta1"],
                           capture_output=True, text=True)
        return r.returncode == 0 and "external.metrics.k8s.io" in r.stdout

    def wait_available(self, timeout):
        wait_for(f"{APISERVICE} Available", self.serving, timeout,
                 detail=lambda: f"adapter log:\n{self.log('keda-adapter')[-2000:]}")

    def stop(self):
        subprocess.run([*self.kc, "delete", "apiservice", APISERVICE, "--ignore-not-found",
                        "--wait=false"], capture_output=True)
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = []


def scaled_object(name, namespace, deployment, bootstrap, topic, group, lag_threshold,
                  min_replicas, max_replicas, polling_interval=30, cooldown=300):
    """A ScaledObject with KEDA's kafka trigger, KEDA's defaults elsewhere
    (the HPA's default behaviour: 300 s scale-down stabilization)."""
    return {
        "apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "scaleTargetRef": {"name": deployment},
            "pollingInterval": polling_interval, "cooldownPeriod": cooldown,
            "minReplicaCount": min_replicas, "maxReplicaCount": max_replicas,
            "triggers": [{"type": "kafka", "metadata": {
                "bootstrapServers": bootstrap, "consumerGroup": group, "topic": topic,
                "lagThreshold": str(lag_threshold),
                # The workers' auto.offset.reset: an uncommitted partition is lag.
                "offsetResetPolicy": "earliest"}}],
        },
    }
