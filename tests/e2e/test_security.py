"""Security the cluster enforces (issue 20), on the real node:

- RBAC: `kubectl auth can-i --list --as` each ServiceAccount, beyond what
  every authenticated identity has (the baseline, read from a ServiceAccount
  with nothing bound), equals the least-privilege table of docs/security.md,
  written out below: the operator's and the dashboard's, as the chart and as
  manifests/ install them (the operator in its own namespace and in
  another), a VideoWatch's watcher (made by the operator), and the workers'
  (their namespace's `default`, with no token mounted): nothing.
- Secrets never leak: with a TelemetryWindow reading Kafka over SASL_SSL and
  writing PostgreSQL through a DSN with a password, one more with a wrong
  SASL password and one whose DSN names a database that does not exist (the
  error paths), and a VideoWatch with an upload token, none of the Secrets'
  values (as written or base64) is in the operator's log or /metrics, the
  worker pods' logs or /metrics, every Event, the pods, Deployments and
  resources as the API server returns them (status included), or any
  ConfigMap in the namespace.
- Pod Security: the chart (its defaults) and manifests/ installed into
  namespaces that enforce `restricted` have their pods admitted (the
  ReplicaSets make them: no FailedCreate); every pod template the operator
  makes (a TelemetryWindow's workers, a VideoJob's split Job and process
  Deployment, a VideoWatch's watcher) is admitted there as a Pod. Pods that
  run on this node need its network (there is no pod network,
  docs/real-node.md), which `restricted` refuses, so the running worker pods
  are checked from the host instead: uid/gid 65532, no capabilities,
  no_new_privs, seccomp filtering, a read-only root filesystem.

The operator runs as a process (test_operator's Operator, as
test_telemetry_sasl runs it, plus VideoWatches' watchers; SLUICE_OPERATOR
names the binary) with the worker image on the node; Kafka's SASL_SSL
listener and the Secrets' helpers come from test_kafka_security_operator.
"""
import base64
import json
import os
import pathlib
import re
import tempfile
import urllib.request

import pytest

import test_operator
from conftest import ROOT, assert_locked_down, container_pid
from test_deploy import CHART, helm, installed_manifests  # noqa: F401 (fixtures)
from test_kafka_security import produce, sasl_args
from test_kafka_security_operator import secret, secure  # noqa: F401 (fixture)
from test_operator import Operator, cond, get, kubectl, wait_for
from test_telemetry import BASE, json_event, pg_count
from test_telemetry_sasl import SASL, ref, tw_doc
from test_videowatch import free_port, watch_manifest

if os.environ.get("SLUICE_OPERATOR"):
    test_operator.OPERATOR = pathlib.Path(os.environ["SLUICE_OPERATOR"]).resolve()

ALL = {"get", "list", "watch", "create", "update", "patch", "delete"}

# docs/security.md, "RBAC": what each ServiceAccount may do beyond the
# baseline every authenticated identity has, in any namespace it watches.
OPERATOR_RIGHTS = {
    "videojobs.sluice.dev": ALL,
    "telemetrywindows.sluice.dev": {"get", "list", "watch", "update", "patch"},
    "videowatches.sluice.dev": {"get", "list", "watch", "update", "patch"},
    **{f"{k}.sluice.dev/{sub}": {"get", "update", "patch"}
       for k in ("videojobs", "telemetrywindows") for sub in ("status", "finalizers")},
    "videowatches.sluice.dev/status": {"get", "update", "patch"},
    "serviceaccounts": ALL,
    "services": ALL,
    "roles.rbac.authorization.k8s.io": ALL,
    "rolebindings.rbac.authorization.k8s.io": ALL,
    "configmaps": ALL,
    "secrets": {"get"},
    "deployments.apps": ALL,
    "deployments.apps/scale": {"get", "update", "patch"},
    "jobs.batch": ALL,
    "pods": {"get", "list"},
    "events.events.k8s.io": {"create", "patch"},
    "nodes": {"get", "list"},
}
# In the release's namespace only: the leader-election Lease.
OPERATOR_RELEASE_NS_RIGHTS = {"leases.coordination.k8s.io": {"get", "create", "update"}}
DASHBOARD_RIGHTS = {
    **{f"{k}.sluice.dev": {"get", "list", "watch"}
       for k in ("videojobs", "telemetrywindows", "videowatches")},
    **{f"{k}.sluice.dev/status": {"get"}
       for k in ("videojobs", "telemetrywindows", "videowatches")},
    "secrets": {"get"},
    "pods": {"list"},
    "deployments.apps": {"list"},
}
WORKER_RIGHTS = {}


def watcher_rights(watch):
    """A VideoWatch's watcher (its own ServiceAccount, made by the operator):
    VideoJobs to make, its own VideoWatch to read and report on."""
    return {"videojobs.sluice.dev": {"create", "get"},
            f"videowatches.sluice.dev [{watch}]": {"get"},
            f"videowatches.sluice.dev/status [{watch}]": {"get", "patch"}}


def can_i_list(stack, ns, user):
    """`kubectl auth can-i --list` as USER in NS: {resource or URL: verbs}."""
    out = kubectl(stack, "auth", "can-i", "--list", "-n", ns, f"--as={user}").stdout
    lines = out.splitlines()
    head = lines[0]
    cols = [head.index(h) for h in ("Non-Resource URLs", "Resource Names", "Verbs")]
    rights = {}
    for line in lines[1:]:
        res, url, names = (line[:cols[0]].strip(), line[cols[0]:cols[1]].strip(),
                           line[cols[1]:cols[2]].strip())
        verbs = set(line[cols[2]:].strip().strip("[]").split())
        # A right limited to some objects: "resource [name ...]".
        key = (res or url.strip("[]")) + ("" if names == "[]" else f" {names}")
        rights.setdefault(key, set()).update(verbs)
    return rights


def sa(ns, name):
    return f"system:serviceaccount:{ns}:{name}"


def beyond(rights, baseline):
    """RIGHTS less what the baseline grants (same key, verbs it covers)."""
    out = {}
    for k, verbs in rights.items():
        extra = verbs - baseline.get(k, set())
        if extra:
            out[k] = extra
    return out


def pod_events(stack, ns):
    return json.loads(kubectl(stack, "get", "events", "-n", ns, "-o", "json").stdout)["items"]


# ---- fixtures ----------------------------------------------------------------

@pytest.fixture(scope="module")
def secop(stack, node):
    """The operator as a process (as test_telemetry_sasl's), its worker pods
    from the stack's image on the node's network, and VideoWatches' watchers
    reaching the API server."""
    kubectl(stack, "apply", "-f", str(ROOT / "crds"))
    kubectl(stack, "wait", "--for=condition=Established", "--timeout=60s",
            "crd/telemetrywindows.sluice.dev", "crd/videojobs.sluice.dev",
            "crd/videowatches.sluice.dev")
    lease_ns = f"sec-lease-{os.getpid()}"
    kubectl(stack, "create", "namespace", lease_ns)
    with tempfile.TemporaryDirectory(prefix="sluice-sec-") as d:
        o = Operator(stack, d, lease_ns, name="sec",
                     extra=["--worker-image", stack["SLUICE_WORKER_IMAGE"],
                            "--worker-image-pull-policy", "Never", "--worker-host-network",
                            "--polling-interval", "1s",
                            "--watcher-api-server", stack["KUBE_APISERVER"].split("://", 1)[1]])
        o.start()
        yield o
        o.stop()
        kubectl(stack, "delete", "namespace", lease_ns, "--wait=false", check=False)


@pytest.fixture(scope="module")
def restricted(stack):
    """A namespace that enforces Pod Security "restricted"."""
    name = f"psa-{os.getpid()}"
    kubectl(stack, "create", "namespace", name)
    kubectl(stack, "label", "namespace", name, "pod-security.kubernetes.io/enforce=restricted",
            "pod-security.kubernetes.io/enforce-version=latest")
    yield name
    kubectl(stack, "delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="module")
def release(stack, helm, restricted):  # noqa: F811 (helm is a fixture)
    """The chart with its defaults (operator and dashboard, ClusterRoles)
    installed into the restricted namespace: {"name", "operator_sa",
    "dashboard_sa"}."""
    name = f"sec{os.getpid()}"
    helm("install", name, str(CHART), "-n", restricted, "--set",
         "replicaCount=1,image.operator.pullPolicy=Never,image.worker.pullPolicy=Never")
    sas = json.loads(kubectl(stack, "get", "serviceaccounts", "-n", restricted, "-l",
                             f"app.kubernetes.io/instance={name}", "-o", "json").stdout)["items"]
    by_part = {s["metadata"]["labels"]["app.kubernetes.io/component"]: s["metadata"]["name"]
               for s in sas}
    yield {"name": name, "operator_sa": by_part["operator"], "dashboard_sa": by_part["dashboard"]}
    helm("uninstall", name, "-n", restricted, check=False)


@pytest.fixture(scope="module")
def installs(release, restricted, installed_manifests):  # noqa: F811 (fixture)
    """Both ways to install: {how: (namespace, operator's SA, dashboard's SA)}.
    manifests/ goes to sluice-system, which enforces "restricted" too."""
    home = get(installed_manifests, "namespace", "sluice-system", "sluice-system")
    labels = home["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    return {"chart": (restricted, release["operator_sa"], release["dashboard_sa"]),
            "manifests": ("sluice-system", "sluice-operator", "sluice-dashboard")}


@pytest.fixture(scope="module")
def leaky(stack, secure, secop):  # noqa: F811 (secure is a fixture)
    """A namespace with three TelemetryWindows whose Secrets hold unique
    values: "good" (SASL_SSL as the stack's SCRAM user, a DSN whose password
    PostgreSQL's trust auth ignores), "badsasl" (a wrong SASL password) and
    "badpg" (a DSN naming a database that does not exist). Returns the
    namespace and the values to look for."""
    ns = f"leak-{os.getpid()}"
    tag = os.urandom(8).hex()
    values = {"dsn password": f"pgpw{tag}a", "bad dsn password": f"pgpw{tag}b",
              "wrong SASL password": f"saslpw{tag}", "SASL password": secure["KAFKA_SASL_PASSWORD"]}
    assert len(values["SASL password"]) >= 12, "too short to grep for"
    kubectl(stack, "create", "namespace", ns)
    pg = f"{stack['PGHOST']}:{stack['PGPORT']}"
    secret(stack, ns, "pg", dsn=f"postgresql://postgres:{values['dsn password']}@{pg}/"
           f"{stack['PGDATABASE']}?sslmode=disable")
    secret(stack, ns, "badpg", dsn=f"postgresql://postgres:{values['bad dsn password']}@{pg}/"
           f"nodb{tag}?sslmode=disable")
    secret(stack, ns, "kafka-ca", **{"ca.crt": ("file", secure["KAFKA_CA_PEM"])})
    secret(stack, ns, "kafka-creds", username=secure["KAFKA_SASL_USER"],
           password=values["SASL password"])
    secret(stack, ns, "wrong-creds", username=secure["KAFKA_SASL_USER"],
           password=values["wrong SASL password"])
    tls = {"ca": ref(("kafka-ca", "ca.crt"))}
    wrong = {**SASL, "password": ref(("wrong-creds", "password"))}
    boot = secure["KAFKA_BOOTSTRAP_SASL_SSL"]
    docs = {"good": tw_doc("good", ns, boot, f"good-{ns}", f"tw_leak_{os.getpid()}",
                           tls=tls, sasl=SASL),
            "badsasl": tw_doc("badsasl", ns, boot, f"badsasl-{ns}", f"tw_leak_{os.getpid()}",
                              tls=tls, sasl=wrong),
            "badpg": tw_doc("badpg", ns, boot, f"badpg-{ns}", f"tw_leakpg_{os.getpid()}",
                            tls=tls, sasl=SASL)}
    docs["badpg"]["spec"]["sinks"]["postgres"]["dsn"] = ref(("badpg", "dsn"))
    for d in docs.values():
        kubectl(stack, "apply", "-f", "-", input=json.dumps(d))

    # Work through every path: events in, windows closed, rows written (or
    # refused by PostgreSQL), the wrong password refused.
    def ready(name):
        c = cond(get(stack, "tw", name, ns, check=False), "Ready") or {}
        return c.get("status") == "True"
    wait_for("good: Ready True", lambda: ready("good"), timeout=120)
    wait_for("badpg: its worker running", lambda: worker_pods(stack, ns, "badpg"), timeout=120)
    events = [(BASE + i * 500, f"d{i % 3}", {"temp": float(i), "hum": 1.0}) for i in range(20)]
    for name in ("good", "badpg"):
        produce(sasl_args(secure, "SCRAM-SHA-512"), f"{name}-{ns}",
                [f"{k}:{json_event(ts, k, v)}" for ts, k, v in events])
    wait_for("good: rows in PostgreSQL",
             lambda: pg_count(stack, f"tw_leak_{os.getpid()}", f"{ns}/good") > 0, timeout=90)
    wait_for("badpg: PostgreSQL refused in its log", lambda: f"nodb{tag}" in "".join(
        pod_logs(stack, ns, p) for p in worker_pods(stack, ns, "badpg")), timeout=90)
    wait_for("badsasl: KafkaAuthenticationFailed", lambda: (cond(
        get(stack, "tw", "badsasl", ns, check=False), "Ready") or {}).get("reason") ==
        "KafkaAuthenticationFailed", timeout=90)
    yield ns, values
    kubectl(stack, "delete", "tw,vj,videowatch", "--all", "-n", ns, "--timeout=60s", check=False,
            timeout=90)
    kubectl(stack, "delete", "namespace", ns, "--wait=false", check=False)


@pytest.fixture(scope="module")
def watch(stack, leaky, secop):
    """A VideoWatch "cams" with an upload token from a Secret in the leaky
    namespace: the operator makes its watcher's ServiceAccount, Role,
    RoleBinding, Service and Deployment. Returns the token."""
    ns, _ = leaky
    token = f"upload{os.urandom(8).hex()}"
    secret(stack, ns, "upload", token=token)
    kubectl(stack, "apply", "-f", "-", input=json.dumps(
        watch_manifest(stack, ns, "cams", upload_port=free_port())))
    wait_for("the watcher's RoleBinding and Deployment", lambda: get(
        stack, "rolebinding", "cams-watcher", ns, check=False) and get(
        stack, "deployment", "cams-watch", ns, check=False), timeout=60)
    return token


def worker_pods(stack, ns, tw):
    return json.loads(kubectl(stack, "get", "pods", "-n", ns, "-l",
                              f"sluice.dev/telemetrywindow={tw}", "-o", "json").stdout)["items"]


def worker_metrics(log):
    """A worker's /metrics, at the port it logged (it runs on the node's
    network)."""
    ports = re.findall(r'"msg":"http endpoint listening".*?"port":"?(\d+)', log)
    assert ports, log[-2000:]
    with urllib.request.urlopen(f"http://127.0.0.1:{ports[-1]}/metrics", timeout=5) as r:
        return r.read().decode()


def pod_logs(stack, ns, pod):
    """The pod's log, its previous container's too when it restarted."""
    name = pod["metadata"]["name"]
    out = kubectl(stack, "logs", "-n", ns, name, "--all-containers", check=False).stdout
    prev = kubectl(stack, "logs", "-n", ns, name, "--all-containers", "--previous", check=False)
    return out + (prev.stdout if prev.returncode == 0 else "")


# ---- RBAC --------------------------------------------------------------------

@pytest.fixture(scope="module")
def baseline(stack, leaky):
    """What any authenticated identity may do: a ServiceAccount with nothing
    bound. Discovery and self-review only, no object of the API."""
    ns, _ = leaky
    kubectl(stack, "create", "serviceaccount", "nobody", "-n", ns)
    rights = can_i_list(stack, ns, sa(ns, "nobody"))
    assert all(k.startswith("/") or k.startswith("selfsubject") for k in rights), rights
    return rights


@pytest.mark.parametrize("how", ["chart", "manifests"])
def test_rbac_is_the_documented_least_privilege(stack, installs, leaky, baseline, how):
    """can-i --list, beyond the baseline, equals the table in
    docs/security.md for the operator (in its namespace and in another) and
    the dashboard."""
    home, operator, dashboard = installs[how]
    ns, _ = leaky
    op_home = beyond(can_i_list(stack, home, sa(home, operator)), baseline)
    assert op_home == {**OPERATOR_RIGHTS, **OPERATOR_RELEASE_NS_RIGHTS}, op_home
    op_away = beyond(can_i_list(stack, ns, sa(home, operator)), baseline)
    assert op_away == OPERATOR_RIGHTS, op_away
    dash = beyond(can_i_list(stack, ns, sa(home, dashboard)), baseline)
    assert dash == DASHBOARD_RIGHTS, dash


def test_the_watcher_has_its_own_few_rights(stack, leaky, baseline, watch):
    """A VideoWatch's watcher, the one pod that calls the API server, has
    its own ServiceAccount (its token mounted) with the Role the operator
    made: no more than the table says."""
    ns, _ = leaky
    got = beyond(can_i_list(stack, ns, sa(ns, "cams-watcher")), baseline)
    assert got == watcher_rights("cams"), got
    sa_obj = get(stack, "serviceaccount", "cams-watcher", ns)
    assert sa_obj["automountServiceAccountToken"] is True


def test_workers_have_no_rights_and_no_token(stack, leaky, baseline):
    """The workers run as their namespace's default ServiceAccount, which
    holds nothing beyond the baseline, and without its token."""
    ns, _ = leaky
    pods = worker_pods(stack, ns, "good")
    assert pods
    for pod in pods:
        spec = pod["spec"]
        assert spec.get("serviceAccountName", "default") == "default"
        assert spec["automountServiceAccountToken"] is False
        assert not [v for v in spec.get("volumes", []) if v["name"].startswith("kube-api-access")]
        for c in spec["containers"]:
            assert not [m for m in c.get("volumeMounts", [])
                        if m["mountPath"].startswith("/var/run/secrets/kubernetes.io")]
    assert beyond(can_i_list(stack, ns, sa(ns, "default")), baseline) == WORKER_RIGHTS


# ---- Secrets -----------------------------------------------------------------

def test_secrets_never_leak(stack, secop, leaky, watch):
    ns, values = leaky
    values = {**values, "upload token": watch}
    places = {"the operator's log": secop.logs(), "the operator's /metrics": secop.metrics()}
    for tw in ("good", "badsasl", "badpg"):
        for pod in worker_pods(stack, ns, tw):
            log = pod_logs(stack, ns, pod)
            places[f"pod {pod['metadata']['name']}'s log"] = log
            places[f"pod {pod['metadata']['name']}'s /metrics"] = worker_metrics(log)
            places[f"pod {pod['metadata']['name']}"] = json.dumps(pod)
        places[f"TelemetryWindow {tw}"] = json.dumps(get(stack, "tw", tw, ns))
    places["VideoWatch cams"] = json.dumps(get(stack, "videowatch", "cams", ns))
    for pod in json.loads(kubectl(stack, "get", "pods", "-n", ns, "-l",
                                  "sluice.dev/videowatch=cams", "-o", "json").stdout)["items"]:
        places[f"pod {pod['metadata']['name']}'s log"] = pod_logs(stack, ns, pod)
        places[f"pod {pod['metadata']['name']}"] = json.dumps(pod)
    assert any("badpg" in k and "log" in k for k in places), "no badpg worker logged"
    assert all(v for k, v in places.items() if k.endswith("/metrics")), "a /metrics is empty"
    places["Events (core)"] = kubectl(stack, "get", "events", "-n", ns, "-o", "json").stdout
    places["Events (events.k8s.io)"] = kubectl(
        stack, "get", "events.events.k8s.io", "-n", ns, "-o", "json").stdout
    places["ConfigMaps"] = kubectl(stack, "get", "configmaps", "-n", ns, "-o", "json").stdout
    places["Deployments"] = kubectl(stack, "get", "deployments", "-n", ns, "-o", "json").stdout
    # The error paths were taken: what is searched says why things failed.
    assert "KafkaAuthenticationFailed" in places["Events (core)"]
    # As written, and base64 as a Secret's data holds it.
    forms = {**values, **{f"{k} (base64)": base64.b64encode(v.encode()).decode()
                          for k, v in values.items()}}
    leaks = [f"{what} in {where}" for where, text in places.items()
             for what, value in forms.items() if value in text]
    assert not leaks, leaks


# ---- Pod Security --------------------------------------------------------------

@pytest.mark.parametrize("how", ["chart", "manifests"])
def test_installed_pods_are_admitted_under_restricted(stack, installs, how):
    """helm install with the defaults, and manifests/, into namespaces that
    enforce "restricted": the ReplicaSets make the operator's and the
    dashboard's pods (a refused pod leaves no Pod, only a FailedCreate)."""
    home = installs[how][0]

    def pods():
        items = json.loads(kubectl(stack, "get", "pods", "-n", home, "-o", "json")
                           .stdout)["items"]
        parts = {p["metadata"]["labels"].get("app.kubernetes.io/component") for p in items}
        return {"operator", "dashboard"} <= parts and items
    items = wait_for("the operator's and the dashboard's pods", pods, timeout=60)
    failed = [e for e in pod_events(stack, home) if e["reason"] == "FailedCreate"]
    assert not failed, [e["message"] for e in failed]
    for p in items:
        assert_restricted_spec(p["spec"])


def assert_restricted_spec(spec):
    """What "restricted" asks, as the pod states it."""
    psc = spec.get("securityContext", {})
    assert not spec.get("hostNetwork") and not spec.get("hostPID") and not spec.get("hostIPC")
    for c in spec["containers"] + spec.get("initContainers", []):
        sc = c.get("securityContext", {})
        assert sc.get("allowPrivilegeEscalation") is False, c["name"]
        assert sc.get("capabilities", {}).get("drop") == ["ALL"], c["name"]
        assert sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True, c["name"]
        assert (sc.get("seccompProfile") or psc.get("seccompProfile"))["type"] == \
            "RuntimeDefault", c["name"]
        assert sc.get("readOnlyRootFilesystem") is True, c["name"]


def test_the_operators_pods_are_admitted_under_restricted(stack, secop, leaky, watch,
                                                          restricted):
    """Every pod template the operator made (off the host network, the one
    thing this node needs that "restricted" refuses) is admitted there as a
    real Pod, held back from the node by a scheduling gate."""
    ns, _ = leaky
    kubectl(stack, "apply", "-f", "-", input=json.dumps({
        "apiVersion": "sluice.dev/v1alpha1", "kind": "VideoJob",
        "metadata": {"name": "clip", "namespace": ns},
        "spec": {"source": {"uri": "file:///data/in.mp4"},
                 "output": {"uri": "file:///data/out.mp4"},
                 "kafka": {"bootstrap": stack["KAFKA_BOOTSTRAP"]},
                 "workers": {"minReplicas": 1, "maxReplicas": 1},
                 "sinks": {"postgres": {"dsn": {"name": "pg", "key": "dsn"}}}}}))
    wait_for("the split Job", lambda: get(stack, "job", "clip-split", ns, check=False), timeout=60)
    templates = {}
    for kind in ("deployments", "jobs"):
        for o in json.loads(kubectl(stack, "get", kind, "-n", ns, "-o", "json").stdout)["items"]:
            templates[f"{kind}/{o['metadata']['name']}"] = o["spec"]["template"]
    assert {"deployments/good-telemetry", "deployments/cams-watch",
            "jobs/clip-split"} <= set(templates), templates.keys()
    for where, t in templates.items():
        spec = t["spec"]
        assert spec.pop("hostNetwork") is True, where
        spec.pop("dnsPolicy", None)
        spec["schedulingGates"] = [{"name": "sluice.dev/admission-only"}]
        if spec.get("serviceAccountName", "default") != "default":  # the watcher's
            kubectl(stack, "create", "serviceaccount", spec["serviceAccountName"], "-n",
                    restricted, check=False)
        name = re.sub(r"[^a-z0-9-]", "-", where)[:50]
        p = kubectl(stack, "create", "-n", restricted, "-f", "-", check=False, input=json.dumps(
            {"apiVersion": "v1", "kind": "Pod",
             "metadata": {"name": name, "labels": {"sluice.dev/admission-only": "true"}},
             "spec": spec}))
        assert p.returncode == 0 and "violate" not in p.stderr, (where, p.stderr)
        assert_restricted_spec(spec)
    kubectl(stack, "delete", "pods", "-n", restricted, "-l", "sluice.dev/admission-only=true",
            "--wait=false")


def test_running_worker_pods_are_locked_down_on_the_node(stack, leaky):
    """The worker pods that run on this node (in a privileged namespace: it
    gives them its network) carry the same restrictions, as the kernel sees
    them: uid/gid 65532, a read-only root, no capability, no_new_privs and a
    seccomp filter."""
    ns, _ = leaky
    pods = [p for p in worker_pods(stack, ns, "good") if p["status"]["phase"] == "Running"]
    assert pods
    for pod in pods:
        assert_locked_down(stack, pod)
        status = pathlib.Path("/proc", str(container_pid(stack, pod)), "status").read_text()
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
            assert int(fields[cap], 16) == 0, (cap, fields[cap])
        assert fields["NoNewPrivs"].strip() == "1"
        assert fields["Seccomp"].strip() == "2"  # SECCOMP_MODE_FILTER

