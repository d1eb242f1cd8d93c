"""sluice-operator against the real stack: kube-apiserver, kube-controller-manager
(its garbage collector and Deployment controller), Kafka and Redis.

The operator runs as a process with --kubeconfig; the tests act as a user
would, with kubectl, and judge with kubectl, kcat, redis-cli and curl. There
is no kubelet: pods never run, Deployments only get ReplicaSets from kcm.

Needs: SLUICE_STACK_COMPONENTS="kafka redis etcd kube-apiserver
kube-controller-manager" tests/e2e/stack.sh up (or the whole stack).
"""
import json
import os
import pathlib
import re
import signal
import subprocess
import tempfile
import uuid
import time
import urllib.request

import pytest

from conftest import ROOT, run, stack_sh

OPERATOR = ROOT / "build" / "sluice-operator"
HASH = "sluice.dev/config-hash"


# ---- clients -------------------------------------------------------------

def kubectl(stack, *args, input=None, check=True, timeout=60):
    env = {**os.environ, "KUBECONFIG": stack["KUBECONFIG"]}
    return run(["kubectl", *args], env=env, input=input, check=check, timeout=timeout)


def get(stack, kind, name, ns, check=True):
    p = kubectl(stack, "get", kind, name, "-n", ns, "-o", "json", check=check)
    return json.loads(p.stdout) if p.returncode == 0 else None


def exists(stack, kind, name, ns):
    p = kubectl(stack, "get", kind, name, "-n", ns, "--ignore-not-found", "-o", "name")
    return p.stdout.strip() != ""


def events(stack, ns, name):
    """The Events about object `name` in ns, as kubectl lists them."""
    p = kubectl(stack, "get", "events", "-n", ns, "-o", "json",
                "--field-selector", f"involvedObject.name={name}")
    return json.loads(p.stdout)["items"]


def reasons(stack, ns, name):
    return [e.get("reason") for e in events(stack, ns, name)]


def redis_cli(stack, *args):
    return run(["redis-cli", "-h", stack["REDIS_HOST"], "-p", stack["REDIS_PORT"],
                "--raw", *args]).stdout


def create_topic(stack, topic, partitions):
    run(["java", "-Xmx256m", "-Dlog4j.configuration=file:/dev/null", "-cp",
         stack["KAFKA_LIBS"] + "/*", "org.apache.kafka.tools.TopicCommand",
         "--bootstrap-server", stack["KAFKA_BOOTSTRAP"], "--create", "--topic", topic,
         "--partitions", str(partitions), "--replication-factor", stack["KAFKA_BROKERS"]])


def topics(stack):
    out = run(["kcat", "-b", stack["KAFKA_BOOTSTRAP"], "-L", "-J"]).stdout
    return {t["topic"]: len(t["partitions"]) for t in json.loads(out)["topics"]}


def wait_for(what, fn, timeout=30, interval=0.3):
    """Polls fn until it returns a true value; returns it, or fails naming what."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = fn()
        except AssertionError as e:  # a client failed: keep trying until the deadline
            last = e
        if last and not isinstance(last, AssertionError):
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


def stack_ctl(stack, verb, name):
    """stack.sh start/stop NAME, tried again when its name check loses a race
    (`server_names | grep -q` under pipefail can fail on SIGPIPE)."""
    for _ in range(5):
        p = stack_sh(stack, verb, name, check=False)
        if p.returncode == 0:
            return p
        if "unknown server" not in p.stderr:
            break
    raise AssertionError(f"stack.sh {verb} {name} failed:\n{p.stderr}")


def cond(obj, ctype):
    for c in (obj or {}).get("status", {}).get("conditions", []):
        if c["type"] == ctype:
            return c
    return None


# ---- the operator process --------------------------------------------------

class Operator:
    """The operator as a process outside the cluster (--kubeconfig), worker
    pods on the host network (the test node has no pod network). Unless
    `extra` names another, its worker image is one the node does not have,
    with pull policy Never: the worker pods it makes stay in
    ErrImageNeverPull, never running and never reaching for a registry."""

    def __init__(self, stack, workdir, lease_ns, name="op", extra=()):
        self.lease_ns = lease_ns
        self.name = name
        self.extra = list(extra)
        self.stack = stack
        self.workdir = workdir
        self.proc = None
        self.port = None
        self.log = None
        self.runs = 0

    def start(self):
        self.runs += 1
        self.log = pathlib.Path(self.workdir) / f"{self.name}-{self.runs}.log"
        args = [str(OPERATOR), "--kubeconfig", self.stack["KUBECONFIG"],
                "--redis-addr", self.stack["REDIS_ADDR"], "--worker-image", "sluice-worker:e2e",
                "--worker-image-pull-policy", "Never", "--worker-host-network",
                "--metrics-port", "0", "--resync-period", "2s", "--log-level", "debug",
                "--leader-election-namespace", self.lease_ns, "--lease-duration", "4s",
                "--renew-deadline", "3s", "--retry-period", "500ms", *self.extra]
        env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
        env["POD_NAME"] = f"{self.name}-{self.runs}"
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                     stderr=open(self.log, "w"), env=env)
        self.port = wait_for("the operator's endpoint", self._port, timeout=15)
        wait_for("/readyz", lambda: self.http("/readyz")[0] == 200, timeout=30)

    def _port(self):
        assert self.proc.poll() is None, f"operator exited {self.proc.returncode}:\n{self.logs()}"
        m = re.search(r'"msg":"http endpoint listening".*?"port":"(\d+)"', self.logs())
        return int(m.group(1)) if m else None

    def http(self, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def metrics(self):
        return self.http("/metrics")[1]

    def logs(self):
        return self.log.read_text() if self.log and self.log.exists() else ""

    def stop(self, sig=signal.SIGTERM):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"operator did not stop on {sig!r}:\n{self.logs()[-3000:]}")


@pytest.fixture(scope="module")
def op(stack):
    kubectl(stack, "apply", "-f", str(ROOT / "crds"))
    kubectl(stack, "wait", "--for=condition=Established", "--timeout=60s",
            "crd/telemetrywindows.sluice.dev", "crd/videojobs.sluice.dev")
    # Modules that import this fixture each get an operator of their own: the
    # namespace must not be one the last module's is still being deleted as.
    lease_ns = f"op-lease-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    kubectl(stack, "create", "namespace", lease_ns)
    with tempfile.TemporaryDirectory(prefix="sluice-op-") as d:
        o = Operator(stack, d, lease_ns)
        o.start()
        yield o
        rc = o.stop()
        kubectl(stack, "delete", "namespace", lease_ns, "--wait=false", check=False)
        if rc != 0:
            print(o.logs()[-5000:])
        assert rc == 0, "SIGTERM should end the operator cleanly"


@pytest.fixture
def ns(stack, unique):
    name = f"op-{unique}"
    kubectl(stack, "create", "namespace", name)
    yield name
    kubectl(stack, "delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="module")
def topic(stack):
    """One input topic with 3 partitions, shared by the tests."""
    name = f"op-in-{os.getpid()}"
    create_topic(stack, name, 3)
    return name


def tw_manifest(name, ns, bootstrap, topic, **extra):
    spec = {
        "kafka": {"bootstrap": bootstrap, "topic": topic},
        "fields": {"timestamp": "ts", "keys": ["host"], "values": ["temp"]},
        "window": {"size": "30s"},
        "sinks": {"postgres": {"dsn": {"name": "pg-creds", "key": "dsn"}}},
        "workers": {"minReplicas": 2, "maxReplicas": 6},
    }
    for k, v in extra.items():
        spec[k] = v
    return json.dumps({"apiVersion": "sluice.dev/v1alpha1", "kind": "TelemetryWindow",
                       "metadata": {"name": name, "namespace": ns}, "spec": spec})


def apply_tw(stack, name, ns, topic, bootstrap=None, **extra):
    kubectl(stack, "apply", "-f", "-",
            input=tw_manifest(name, ns, bootstrap or stack["KAFKA_BOOTSTRAP"], topic, **extra))


def running(stack, name, ns):
    """The resource as the operator leaves it when it did its part: children
    applied for the current generation, nothing wrong but what the node
    says of the worker pods, whose image (sluice-worker:e2e) it does not
    have: Running before the pods report, then Degraded, ErrImageNeverPull."""
    tw = get(stack, "tw", name, ns, check=False)
    st = (tw or {}).get("status", {})
    ready = cond(tw, "Ready") or {}
    if st.get("observedGeneration") == tw["metadata"]["generation"] and (
            (st.get("phase") == "Running" and ready.get("reason") == "Running") or
            (st.get("phase") == "Degraded" and ready.get("reason") == "ErrImageNeverPull")):
        return tw
    return None


def deployment_hash(dep):
    return dep["spec"]["template"]["metadata"]["annotations"][HASH]


# ---- tests -----------------------------------------------------------------

def test_children_have_owner_refs_config_and_secret_env(stack, op, ns, topic):
    apply_tw(stack, "sensors", ns, topic)
    tw = wait_for("Running", lambda: running(stack, "sensors", ns))
    uid = tw["metadata"]["uid"]

    dep = get(stack, "deployment", "sensors-telemetry", ns)
    cm = get(stack, "configmap", "sensors-config", ns)
    for child in (dep, cm):
        refs = child["metadata"]["ownerReferences"]
        assert len(refs) == 1
        assert refs[0]["uid"] == uid and refs[0]["kind"] == "TelemetryWindow"
        assert refs[0]["controller"] is True and refs[0]["blockOwnerDeletion"] is True
        assert child["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "sluice-operator"
        assert child["metadata"]["labels"]["sluice.dev/telemetrywindow"] == "sensors"

    # config.json: the short form with the effective spec (the operator's Redis filled in).
    cfg = json.loads(cm["data"]["config.json"])
    assert cfg["name"] == "sensors" and cfg["namespace"] == ns
    assert cfg["spec"]["kafka"]["topic"] == topic
    assert cfg["spec"]["sinks"]["redis"]["addr"] == stack["REDIS_ADDR"]
    assert cfg["spec"]["sinks"]["postgres"]["dsn"] == {"name": "pg-creds", "key": "dsn"}
    assert "password" not in cm["data"]["config.json"]

    # The Deployment: created with minReplicas, the worker's command line, the
    # ConfigMap mounted, the Secret by reference only.
    assert dep["spec"]["replicas"] == 2
    pod = dep["spec"]["template"]["spec"]
    c = pod["containers"][0]
    assert c["image"] == "sluice-worker:e2e"
    assert c["command"] == ["sluice-worker"]
    assert c["args"] == ["telemetry", "--config", "/etc/sluice/config.json"]
    assert {"name": "config", "mountPath": "/etc/sluice", "readOnly": True} in c["volumeMounts"]
    assert pod["volumes"][0]["configMap"]["name"] == "sensors-config"
    env = {e["name"]: e for e in c["env"]}
    assert env["SLUICE_SECRET_PG_CREDS_DSN"]["valueFrom"]["secretKeyRef"] == \
        {"name": "pg-creds", "key": "dsn"}
    assert env["SLUICE_STATUS_REDIS"]["value"] == stack["REDIS_ADDR"]
    assert re.fullmatch(r"[0-9a-f]{16}", deployment_hash(dep))
    # kcm made a ReplicaSet for it.
    wait_for("a ReplicaSet", lambda: kubectl(
        stack, "get", "rs", "-n", ns, "-l", "sluice.dev/telemetrywindow=sensors",
        "-o", "name").stdout.strip())


def test_status_conditions_and_events(stack, op, ns, topic):
    apply_tw(stack, "st", ns, topic)
    # The worker pods cannot start: the node has no image sluice-worker:e2e.
    # The status says so in the pods' own words, within a pass or two.
    tw = wait_for("Ready False, ErrImageNeverPull", lambda: (
        lambda t: t if (cond(t, "Ready") or {}).get("reason") == "ErrImageNeverPull" else None)(
            get(stack, "tw", "st", ns)))
    st = tw["status"]
    assert st["observedGeneration"] == tw["metadata"]["generation"] == 1
    assert st["phase"] == "Degraded"
    ready, topic_ready = cond(tw, "Ready"), cond(tw, "TopicReady")
    assert ready["status"] == "False" and "sluice-worker:e2e" in ready["message"]
    assert ready["message"].startswith("pod st-telemetry-")
    assert topic_ready["status"] == "True" and "3 partitions" in topic_ready["message"]
    for c in st["conditions"]:
        assert c["observedGeneration"] == 1
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", c["lastTransitionTime"])
    wa = cond(tw, "WorkersAvailable")
    assert wa["status"] == "False" and wa["reason"] == "ErrImageNeverPull"
    pods = kubectl(stack, "get", "pods", "-n", ns, "-l", "sluice.dev/telemetrywindow=st",
                   "-o", "name").stdout.split()
    assert len(pods) == 2
    # replicas: the ready pods (none); desiredReplicas: the scaler's choice.
    assert st.get("replicas") == 0
    # Off the host network (a host namespace, which "baseline" refuses), the
    # same pod passes Pod Security "restricted": the API server admits it
    # into a namespace that enforces it.
    pod = get(stack, "deployment", "st-telemetry", ns)["spec"]["template"]
    pod["spec"].pop("hostNetwork")
    pod["spec"].pop("dnsPolicy")
    strict = f"{ns}-strict"
    kubectl(stack, "create", "namespace", strict)
    try:
        kubectl(stack, "label", "namespace", strict,
                "pod-security.kubernetes.io/enforce=restricted")
        p = kubectl(stack, "apply", "--dry-run=server", "-n", strict, "-f", "-",
                    input=json.dumps({"apiVersion": "v1", "kind": "Pod",
                                      "metadata": {"name": "probe", **pod["metadata"]},
                                      "spec": pod["spec"]}))
        assert "created (server dry run)" in p.stdout and "violate" not in p.stderr, p.stderr
    finally:
        kubectl(stack, "delete", "namespace", strict, "--wait=false", check=False)
    # Events, as `kubectl get events` shows them.
    wait_for("Created and ErrImageNeverPull events",
             lambda: {"Created", "ErrImageNeverPull"} <= set(reasons(stack, ns, "st")))
    out = kubectl(stack, "get", "events", "-n", ns).stdout
    assert "telemetrywindow/st" in out and "created ConfigMap st-config" in out
    # The dead-letter topic was created with the input's partitions.
    assert topics(stack).get(topic + ".dlq") == 3
    # A settled resource is left alone: lastTransitionTime does not move.
    t0 = cond(tw, "Ready")["lastTransitionTime"]
    time.sleep(3)
    assert cond(get(stack, "tw", "st", ns), "Ready")["lastTransitionTime"] == t0

    # What the workers record in the status Redis (docs/contracts.md §3) reaches the status:
    # counts summed over partitions, the lowest partition watermark.
    redis_cli(stack, "HSET", f"sluice:tw:{ns}:st:stats",
              "p0.events", "10", "p1.events", "5", "p0.duplicates", "2", "p1.late", "1",
              "p0.malformed", "3", "p0.windows", "4", "p1.windows", "1",
              "p0.watermark", "1795392000000000000", "p1.watermark", "1795391970000000000")
    st = wait_for("progress in the status", lambda: (
        lambda s: s if s.get("eventsProcessed") == 15 else None)(
            get(stack, "tw", "st", ns)["status"]), timeout=15)
    assert (st["duplicates"], st["late"], st["malformed"], st["windowsEmitted"]) == (2, 1, 3, 5)
    assert st["lastWatermark"] == "2026-11-22T23:59:30Z"
    cols = kubectl(stack, "get", "tw", "st", "-n", ns).stdout
    # NAME PHASE LAG REPLICAS DESIRED WINDOWS ...: no ready replica, 5 windows (LAG and
    # DESIRED may still be empty).
    assert re.search(r"st\s+Degraded\s+(\d+\s+)?0\s+(\d+\s+)?5\s", cols), cols


def test_spec_change_rolls_the_workers(stack, op, ns, topic):
    apply_tw(stack, "roll", ns, topic)
    wait_for("Running", lambda: running(stack, "roll", ns))
    before = deployment_hash(get(stack, "deployment", "roll-telemetry", ns))
    kubectl(stack, "patch", "tw", "roll", "-n", ns, "--type=merge",
            "-p", '{"spec":{"window":{"size":"1m"}}}')
    dep = wait_for("a new config hash", lambda: (
        lambda d: d if deployment_hash(d) != before else None)(
            get(stack, "deployment", "roll-telemetry", ns)))
    # The scaler's replicas are not the apply's: the operator's applied
    # fields leave spec.replicas out (kubectl scale and the autoscaler:
    # docs/operator.md).
    dep = json.loads(kubectl(stack, "get", "deployment", "roll-telemetry", "-n", ns,
                             "--show-managed-fields", "-o", "json").stdout)
    applied = [m for m in dep["metadata"]["managedFields"]
               if m["manager"] == "sluice-operator" and m["operation"] == "Apply"]
    assert applied and "f:replicas" not in applied[0]["fieldsV1"]["f:spec"], applied
    assert "f:template" in applied[0]["fieldsV1"]["f:spec"]
    cfg = json.loads(get(stack, "configmap", "roll-config", ns)["data"]["config.json"])
    assert cfg["spec"]["window"]["size"] == "1m"
    tw = wait_for("observedGeneration 2", lambda: (
        lambda t: t if t["status"].get("observedGeneration") == 2 else None)(
            get(stack, "tw", "roll", ns)))
    assert all(c["observedGeneration"] == 2 for c in tw["status"]["conditions"])
    wait_for("a ConfigChanged event", lambda: "ConfigChanged" in reasons(stack, ns, "roll"))
    # kcm rolls: a second ReplicaSet for the new template.
    wait_for("two ReplicaSets", lambda: len(kubectl(
        stack, "get", "rs", "-n", ns, "-l", "sluice.dev/telemetrywindow=roll",
        "-o", "name").stdout.split()) == 2)


def test_broken_resources_get_false_conditions_and_others_still_work(stack, op, ns, topic):
    # Admitted by the schema, refused by the worker's parser.
    apply_tw(stack, "badspec", ns, topic,
             fields={"timestamp": "ts", "timestampFormat": "%Y-%m-%d %Q"})
    apply_tw(stack, "notopic", ns, f"missing-{os.getpid()}")
    apply_tw(stack, "nokafka", ns, topic, bootstrap="kafka.invalid:9092")
    apply_tw(stack, "good", ns, topic)

    def ready_reason(name):
        c = cond(get(stack, "tw", name, ns), "Ready")
        return c and c["status"] == "False" and c["reason"]

    assert wait_for("InvalidSpec", lambda: ready_reason("badspec")) == "InvalidSpec"
    bad = get(stack, "tw", "badspec", ns)
    assert bad["status"]["phase"] == "Failed"
    assert "spec.fields.timestampFormat" in cond(bad, "Ready")["message"]
    assert not exists(stack, "deployment", "badspec-telemetry", ns)

    assert wait_for("TopicNotFound", lambda: ready_reason("notopic")) == "TopicNotFound"
    nt = get(stack, "tw", "notopic", ns)
    assert nt["status"]["phase"] == "Degraded"
    assert cond(nt, "TopicReady")["reason"] == "TopicNotFound"
    assert wait_for("KafkaUnavailable", lambda: ready_reason("nokafka"),
                    timeout=45) == "KafkaUnavailable"

    wait_for("the good one Running", lambda: running(stack, "good", ns))
    # Each broken one got a Warning Event naming the reason.
    for name, reason in (("badspec", "InvalidSpec"), ("notopic", "TopicNotFound"),
                         ("nokafka", "KafkaUnavailable")):
        evs = wait_for(f"{reason} event", lambda: [
            e for e in events(stack, ns, name) if e.get("reason") == reason])
        assert evs[0]["type"] == "Warning"
    # One Event per transition, not one per pass (the resync runs every 2 s).
    time.sleep(4)
    assert reasons(stack, ns, "badspec").count("InvalidSpec") == 1

    # The topic appears: the resource recovers without being touched.
    create_topic(stack, nt["spec"]["kafka"]["topic"], 1)
    wait_for("notopic Running", lambda: running(stack, "notopic", ns), timeout=30)
    # Fixing the spec brings it up.
    kubectl(stack, "patch", "tw", "badspec", "-n", ns, "--type=merge",
            "-p", '{"spec":{"fields":{"timestampFormat":"rfc3339"}}}')
    wait_for("badspec Running", lambda: running(stack, "badspec", ns))


def test_delete_cascades_and_finalizer_removes_redis_keys(stack, op, ns, topic):
    apply_tw(stack, "gone", ns, topic)
    tw = wait_for("Running", lambda: running(stack, "gone", ns))
    assert "sluice.dev/cleanup" in tw["metadata"]["finalizers"]
    wait_for("ReplicaSet", lambda: kubectl(
        stack, "get", "rs", "-n", ns, "-l", "sluice.dev/telemetrywindow=gone",
        "-o", "name").stdout.strip())
    redis_cli(stack, "HSET", f"sluice:tw:{ns}:gone:stats", "p0.events", "5")
    redis_cli(stack, "SET", f"sluice:{ns}:gone:host-1", "x")
    redis_cli(stack, "SET", f"sluice:{ns}:gone2:host-1", "keep")   # another resource's
    kubectl(stack, "delete", "tw", "gone", "-n", ns, "--timeout=30s")
    assert redis_cli(stack, "EXISTS", f"sluice:tw:{ns}:gone:stats").strip() == "0"
    assert redis_cli(stack, "EXISTS", f"sluice:{ns}:gone:host-1").strip() == "0"
    assert redis_cli(stack, "GET", f"sluice:{ns}:gone2:host-1").strip() == "keep"
    # The garbage collector removes the children (and the ReplicaSets under them).
    for kind, name in (("deployment", "gone-telemetry"), ("configmap", "gone-config")):
        wait_for(f"{kind} {name} deleted", lambda: not exists(stack, kind, name, ns))
    wait_for("ReplicaSets deleted", lambda: kubectl(
        stack, "get", "rs", "-n", ns, "-l", "sluice.dev/telemetrywindow=gone",
        "-o", "name").stdout.strip() == "")
    assert "CleanedUp" in reasons(stack, ns, "gone")


def test_child_deleted_by_hand_comes_back(stack, op, ns, topic):
    apply_tw(stack, "heal", ns, topic)
    wait_for("Running", lambda: running(stack, "heal", ns))
    uid = get(stack, "deployment", "heal-telemetry", ns)["metadata"]["uid"]
    kubectl(stack, "delete", "deployment", "heal-telemetry", "-n", ns)
    dep = wait_for("a new Deployment", lambda: (
        lambda d: d if d and d["metadata"]["uid"] != uid else None)(
            get(stack, "deployment", "heal-telemetry", ns, check=False)))
    assert dep["metadata"]["ownerReferences"][0]["name"] == "heal"


def test_metrics_and_readyz(stack, op, ns, topic):
    apply_tw(stack, "m", ns, topic)
    wait_for("Running", lambda: running(stack, "m", ns))
    assert op.http("/readyz") == (200, "ok")
    assert op.http("/healthz")[0] == 200

    def has_all():
        text = op.metrics()
        return all(s in text for s in (
            'sluice_operator_reconcile_total{kind="TelemetryWindow",result="success"}',
            'sluice_operator_reconcile_duration_seconds_bucket{kind="TelemetryWindow"',
            "sluice_operator_workqueue_depth",
            'sluice_operator_cache_objects{resource="telemetrywindows"}',
            'rest_client_requests_total{verb="apply",code="200"}',
            'sluice_operator_watch_restarts_total')) and text
    assert wait_for("metrics", has_all, timeout=10)


def test_restart_makes_no_duplicates(stack, op, ns, topic):
    apply_tw(stack, "again", ns, topic)
    wait_for("Running", lambda: running(stack, "again", ns))
    dep = get(stack, "deployment", "again-telemetry", ns)
    op.stop(signal.SIGKILL)
    op.start()
    time.sleep(5)   # two resync periods of the new process
    deps = kubectl(stack, "get", "deployments", "-n", ns, "-o", "name").stdout.split()
    cms = kubectl(stack, "get", "configmaps", "-n", ns, "-l", "sluice.dev/telemetrywindow",
                  "-o", "name").stdout.split()
    assert deps == ["deployment.apps/again-telemetry"]
    assert cms == ["configmap/again-config"]
    after = get(stack, "deployment", "again-telemetry", ns)
    assert after["metadata"]["uid"] == dep["metadata"]["uid"]
    # Nothing changed, so nothing was written: same template, same generation.
    assert after["metadata"]["generation"] == dep["metadata"]["generation"]
    assert reasons(stack, ns, "again").count("Created") == 1


def test_api_server_restart(stack, op, ns, topic):
    apply_tw(stack, "survive", ns, topic)
    wait_for("Running", lambda: running(stack, "survive", ns))
    before = deployment_hash(get(stack, "deployment", "survive-telemetry", ns))
    stack_ctl(stack, "stop", "kube-apiserver")
    try:
        time.sleep(4)
        assert op.proc.poll() is None, "the operator must outlive the API server"
    finally:
        stack_ctl(stack, "start", "kube-apiserver")
    kubectl(stack, "patch", "tw", "survive", "-n", ns, "--type=merge",
            "-p", '{"spec":{"window":{"size":"2m"}}}')
    wait_for("the change reconciled after the restart", lambda: deployment_hash(
        get(stack, "deployment", "survive-telemetry", ns)) != before, timeout=60)
    wait_for("observedGeneration 2", lambda: get(stack, "tw", "survive", ns)["status"].get(
        "observedGeneration") == 2, timeout=30)
    assert op.proc.poll() is None
    assert "watch_restarts" in op.metrics()


def leads(o):
    m = re.search(r"^sluice_leader (\d+)", o.metrics(), re.M)
    return m is not None and m.group(1) == "1"


def test_two_operators_one_leader_and_takeover(stack, op, ns, topic):
    wait_for("the first operator leads", lambda: leads(op))
    standby = Operator(stack, op.workdir, op.lease_ns, name="standby")
    standby.start()     # ready: its caches are synced although it does not lead
    try:
        time.sleep(2)
        assert not leads(standby)
        apply_tw(stack, "one", ns, topic)
        wait_for("Running", lambda: running(stack, "one", ns))
        assert "sluice_operator_reconcile_total{" not in standby.metrics()
        lease = get(stack, "lease", "sluice-operator", op.lease_ns)
        assert lease["spec"]["holderIdentity"] == f"op-{op.runs}"

        op.stop(signal.SIGKILL)          # no release: the standby waits out the lease
        t0 = time.monotonic()
        wait_for("the standby takes over", lambda: leads(standby), timeout=15)
        assert time.monotonic() - t0 < 4 + 3, "takeover within the lease duration (+retry)"
        apply_tw(stack, "two", ns, topic)
        wait_for("Running under the new leader", lambda: running(stack, "two", ns))
        assert get(stack, "lease", "sluice-operator", op.lease_ns)["spec"][
            "holderIdentity"] == f"standby-{standby.runs}"
    finally:
        op.start()                       # the module's operator, again
        assert standby.stop() == 0       # releases the Lease on SIGTERM
    wait_for("the restarted operator leads", lambda: leads(op), timeout=15)


# ---- VideoJob ------------------------------------------------------------
# The node lacks the operator's worker image here, so the split, process and
# assemble pods never start: the tests play the workers by writing what
# they would write to the status Redis (docs/contracts.md §3:
# sluice:vj:<ns>:<name>:meta / done / failed). test_autoscale runs them.

def apply_vj(stack, name, ns, **extra):
    spec = {"source": {"uri": "file:///data/in.mp4"}, "output": {"uri": "file:///data/out.mp4"},
            "kafka": {"bootstrap": stack["KAFKA_BOOTSTRAP"]},
            "workers": {"minReplicas": 1, "maxReplicas": 3},
            "sinks": {"postgres": {"dsn": {"name": "pg-creds", "key": "dsn"}}}}
    spec.update(extra)
    kubectl(stack, "apply", "-f", "-", input=json.dumps({
        "apiVersion": "sluice.dev/v1alpha1", "kind": "VideoJob",
        "metadata": {"name": name, "namespace": ns}, "spec": spec}))


def vj_phase(stack, name, ns, phase):
    vj = get(stack, "vj", name, ns, check=False)
    return vj if vj and vj.get("status", {}).get("phase") == phase else None


def test_videojob_runs_through_its_phases(stack, op, ns):
    apply_vj(stack, "clip", ns)
    vj = wait_for("Splitting", lambda: vj_phase(stack, "clip", ns, "Splitting"))
    topic = f"sluice-vj-{ns}-clip"
    assert vj["status"]["topic"] == topic and vj["status"]["progress"] == "0%"
    assert vj["status"]["startTime"]
    # The task topic with maxReplicas partitions, and its dead-letter topic.
    t = topics(stack)
    assert t.get(topic) == 3 and t.get(topic + ".dlq") == 3
    split = get(stack, "job", "clip-split", ns)
    c = split["spec"]["template"]["spec"]["containers"][0]
    assert c["args"] == ["split", "--config", "/etc/sluice/config.json"]
    assert split["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert split["metadata"]["ownerReferences"][0]["kind"] == "VideoJob"
    dep = get(stack, "deployment", "clip-process", ns)
    assert dep["spec"]["template"]["spec"]["containers"][0]["args"][0] == "process"
    env = {e["name"] for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert "SLUICE_SECRET_PG_CREDS_DSN" in env
    cfg = json.loads(get(stack, "configmap", "clip-config", ns)["data"]["config.json"])
    assert cfg["spec"]["source"]["uri"] == "file:///data/in.mp4"

    meta, done = f"sluice:vj:{ns}:clip:meta", f"sluice:vj:{ns}:clip:done"
    redis_cli(stack, "HSET", meta, "segments_total", "4", "frames_total", "400",
              "duration_ms", "8000", "split_done", "1")
    redis_cli(stack, "HSET", done, "0", "100", "1", "100")
    vj = wait_for("Processing 50%", lambda: (lambda v: v if v and v["status"].get(
        "progress") == "50%" else None)(vj_phase(stack, "clip", ns, "Processing")))
    st = vj["status"]
    assert (st["segmentsTotal"], st["segmentsDone"], st["framesTotal"], st["framesDone"]) == \
        (4, 2, 400, 200)
    assert not exists(stack, "job", "clip-assemble", ns)

    redis_cli(stack, "HSET", done, "2", "100", "3", "100")
    wait_for("Assembling", lambda: vj_phase(stack, "clip", ns, "Assembling"))
    asm = wait_for("the assemble Job", lambda: get(stack, "job", "clip-assemble", ns, check=False))
    assert asm["spec"]["template"]["spec"]["containers"][0]["args"][0] == "assemble"

    redis_cli(stack, "HSET", meta, "assembled", "1", "output_frames", "400")
    vj = wait_for("Succeeded", lambda: vj_phase(stack, "clip", ns, "Succeeded"))
    assert vj["status"]["progress"] == "100%" and vj["status"]["completionTime"]
    assert cond(vj, "Complete")["status"] == "True"
    # On success the workers go away.
    wait_for("the process Deployment deleted",
             lambda: not exists(stack, "deployment", "clip-process", ns))
    # One Event per phase, in order.
    evs = [e["reason"] for e in sorted(events(stack, ns, "clip"),
                                       key=lambda e: e.get("eventTime") or "")]
    phases = [r for r in evs if r in ("Splitting", "Processing", "Assembling", "Succeeded")]
    assert phases == ["Splitting", "Processing", "Assembling", "Succeeded"], evs

    # Deleting it deletes the topics and the keys (finalizer), and the children.
    kubectl(stack, "delete", "vj", "clip", "-n", ns, "--timeout=30s")
    assert redis_cli(stack, "EXISTS", meta, done).strip() == "0"
    wait_for("topics deleted", lambda: topic not in topics(stack) and
             topic + ".dlq" not in topics(stack))
    wait_for("Jobs deleted", lambda: not exists(stack, "job", "clip-split", ns))


def test_videojob_failure_is_on_the_status_and_in_an_event(stack, op, ns):
    apply_vj(stack, "broken", ns)
    wait_for("Splitting", lambda: vj_phase(stack, "broken", ns, "Splitting"))
    reason = "split media/broken: file:///data/in.mp4: open: Invalid data found when processing input"
    redis_cli(stack, "HSET", f"sluice:vj:{ns}:broken:meta", "failed", reason)
    vj = wait_for("Failed", lambda: vj_phase(stack, "broken", ns, "Failed"))
    failed = cond(vj, "Failed")
    assert failed["status"] == "True" and failed["reason"] == "JobFailed"
    assert failed["message"] == reason
    ev = wait_for("a JobFailed Warning", lambda: [
        e for e in events(stack, ns, "broken") if e.get("reason") == "JobFailed"])
    assert ev[0]["type"] == "Warning" and reason in ev[0]["message"]
    wait_for("the workers deleted", lambda: not exists(stack, "deployment", "broken-process", ns))
    # A finished job stays finished.
    time.sleep(3)
    assert get(stack, "vj", "broken", ns)["status"]["phase"] == "Failed"
    assert reasons(stack, ns, "broken").count("JobFailed") == 1


def test_videojob_invalid_spec(stack, op, ns):
    # The schema admits it; the workers' parser refuses it.
    # (a topic name Kafka takes, but "<topic>.dlq" would not fit in 249 bytes).
    apply_vj(stack, "bad", ns, kafka={"bootstrap": stack["KAFKA_BOOTSTRAP"], "topic": "t" * 247})
    vj = wait_for("Failed", lambda: vj_phase(stack, "bad", ns, "Failed"), timeout=15)
    assert cond(vj, "Ready")["reason"] == "InvalidSpec"
    assert "spec.kafka.topic" in cond(vj, "Ready")["message"]
    assert "InvalidSpec" in reasons(stack, ns, "bad")
    assert not exists(stack, "job", "bad-split", ns)


def test_videojob_spec_change_rolls_the_process_workers(stack, op, ns):
    """The process Deployment follows the spec by server-side apply, as a
    TelemetryWindow's does: new resources and env roll the workers, and the
    scaler's replicas are left alone."""
    apply_vj(stack, "reroll", ns)
    dep = wait_for("the process Deployment", lambda: get(stack, "deployment", "reroll-process",
                                                        ns, check=False))
    before = deployment_hash(dep)
    kubectl(stack, "patch", "vj", "reroll", "-n", ns, "--type=merge", "-p", json.dumps(
        {"spec": {"workers": {"resources": {"limits": {"memory": "300Mi"}},
                              "env": [{"name": "SLUICE_LOG_LEVEL", "value": "debug"}]}}}))
    dep = wait_for("a new config hash", lambda: (
        lambda d: d if deployment_hash(d) != before else None)(
            get(stack, "deployment", "reroll-process", ns)))
    c = dep["spec"]["template"]["spec"]["containers"][0]
    assert c["resources"]["limits"]["memory"] == "300Mi"
    env = [e for e in c["env"] if e["name"] == "SLUICE_LOG_LEVEL"]
    assert env == [{"name": "SLUICE_LOG_LEVEL", "value": "debug"}]
    assert dep["spec"]["replicas"] == 1
    wait_for("a ConfigChanged event", lambda: "ConfigChanged" in reasons(stack, ns, "reroll"))
