"""Deploying Sluice: manifests/ (kustomize) and the helm chart (helm/sluice),
judged by helm itself and by the real kube-apiserver through kubectl.

- `helm lint --strict` is clean and `helm template` renders, for the default
  values and the variants (PodMonitor on, one watched namespace, no leader
  election);
- the chart's crds/ (a link to crds/) reach the package byte for byte, and
  its version follows VERSION;
- what manifests/ and the chart render is accepted by the API server
  (`kubectl apply --dry-run=server`, then for real, and `helm install`);
- the operator's pod passes the "restricted" Pod Security admission
  (non-root, read-only root, no capabilities, seccomp RuntimeDefault);
- RBAC is least privilege, checked with `kubectl auth can-i --as` the
  operator's ServiceAccount: what it needs is allowed, Secrets and the rest
  are not.

helm comes from scripts/deps.sh helm ($SLUICE_CACHE/helm-<version>/bin, which
tests/e2e/run.sh puts on PATH; $HELM overrides).
"""
import json
import os
import pathlib
import shutil
import subprocess
import tarfile

import pytest
import yaml

from conftest import ROOT, run

CHART = ROOT / "helm" / "sluice"
SA = "system:serviceaccount:sluice-system:sluice-operator"


def helm_binary():
    if os.environ.get("HELM"):
        return os.environ["HELM"]
    found = shutil.which("helm")
    if found:
        return found
    out = subprocess.run(
        ["bash", "-c", f". {ROOT}/scripts/versions.sh; echo $SLUICE_CACHE/helm-$HELM_VERSION/bin/helm"],
        check=True, capture_output=True, text=True).stdout.strip()
    if os.access(out, os.X_OK):
        return out
    pytest.fail("helm not found: run `scripts/deps.sh helm` (or set HELM)")


@pytest.fixture(scope="module")
def helm(stack):
    binary = helm_binary()

    def call(*args, check=True, input=None):
        return run([binary, "--kubeconfig", stack["KUBECONFIG"], *args], check=check,
                   input=input, timeout=180)
    return call


def kubectl(stack, *args, check=True, input=None):
    return run(["kubectl", "--kubeconfig", stack["KUBECONFIG"], *args], check=check,
               input=input)


def docs(text):
    return [d for d in yaml.safe_load_all(text) if d]


def by_kind(objs, kind):
    return [o for o in objs if o["kind"] == kind]


@pytest.fixture
def ns(stack, unique):
    name = f"deploy-{unique}"
    kubectl(stack, "create", "namespace", name)
    yield name
    kubectl(stack, "delete", "namespace", name, "--wait=false", check=False)


# ---------------------------------------------------------------- the chart, offline


def test_chart_crds_are_the_crds(helm, tmp_path):
    """helm/sluice/crds is a link to crds/, so the two cannot drift; what
    matters is that helm follows it: the packaged chart carries exactly
    crds/*.yaml, byte for byte, and nothing else from that directory."""
    assert (CHART / "crds").is_symlink()
    helm("package", str(CHART), "-d", str(tmp_path))
    (tgz,) = tmp_path.glob("sluice-*.tgz")
    with tarfile.open(tgz) as tar:
        packed = {m.name[len("sluice/crds/"):]: tar.extractfile(m).read()
                  for m in tar.getmembers() if m.name.startswith("sluice/crds/")}
    ours = {p.name: p.read_bytes() for p in (ROOT / "crds").glob("*.yaml")}
    assert sorted(packed) == sorted(ours)
    assert packed == ours
    rendered = helm("template", "x", str(CHART), "--include-crds").stdout
    crds = [o["metadata"]["name"] for o in docs(rendered) if o["kind"] == "CustomResourceDefinition"]
    assert sorted(crds) == ["telemetrywindows.sluice.dev", "videojobs.sluice.dev"]


def test_chart_version_follows_version_file():
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    version = (ROOT / "VERSION").read_text().strip()
    assert chart["version"] == version
    assert chart["appVersion"] == version


VARIANTS = [
    [],
    ["--set", "podMonitor.enabled=true"],
    ["--set", "watchNamespace=apps"],
    ["--set", "leaderElection.enabled=false,replicaCount=1"],
    ["--set", "postgres.secretName=pg,redis.addr=redis:6379,influxdb.url=http://influx:8086"],
]


@pytest.mark.parametrize("extra", VARIANTS, ids=lambda v: v[1] if v else "defaults")
def test_helm_lint_is_clean(helm, extra):
    out = helm("lint", "--strict", str(CHART), *extra).stdout
    assert "0 chart(s) failed" in out
    assert "[WARNING]" not in out and "[ERROR]" not in out, out


def render(helm, *extra, name="sluice", namespace="sluice-system"):
    return docs(helm("template", name, str(CHART), "-n", namespace, *extra).stdout)


def env_of(deploy):
    c = deploy["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c["env"]}


def test_helm_template_defaults(helm):
    objs = render(helm)
    kinds = sorted(o["kind"] for o in objs)
    assert kinds == ["ClusterRole", "ClusterRoleBinding", "Deployment", "PodDisruptionBudget",
                     "Role", "RoleBinding", "ServiceAccount"]
    (pdb,) = by_kind(objs, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1
    (d,) = by_kind(objs, "Deployment")
    assert d["metadata"]["name"] == "sluice-operator"
    assert d["spec"]["replicas"] == 2
    pod = d["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "sluice-operator"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    c = pod["containers"][0]
    assert c["image"] == "localhost/sluice-operator:0.1.0"
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["ports"][0]["containerPort"] == 8080
    env = env_of(d)
    assert env["SLUICE_LEADER_ELECT"] == "true"
    assert env["SLUICE_LEADER_ELECTION_NAMESPACE"] == "sluice-system"
    assert env["SLUICE_LEASE_DURATION"] == "15s"
    assert env["SLUICE_RENEW_DEADLINE"] == "10s"
    assert env["SLUICE_RETRY_PERIOD"] == "2s"
    assert env["SLUICE_WORKER_IMAGE"] == "localhost/sluice-worker:0.1.0"
    # Inside a pod the endpoint must answer the kubelet's probes and Prometheus
    # on the pod's IP; this is only the rendered manifest (no test runs it:
    # localrun pins every pod's endpoint to 127.0.0.1).
    assert env["SLUICE_METRICS_ADDR"] == "0.0.0.0"
    assert env["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    # No password anywhere in what the chart renders.
    assert "password" not in json.dumps(objs).lower()
    (lease_role,) = by_kind(objs, "Role")
    assert lease_role["metadata"]["namespace"] == "sluice-system"
    assert lease_role["rules"] == [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                                    "verbs": ["get", "create", "update"]}]


def test_helm_template_variants(helm):
    objs = render(helm, "--set", "podMonitor.enabled=true")
    (pm,) = by_kind(objs, "PodMonitor")
    assert pm["spec"]["podMetricsEndpoints"][0]["path"] == "/metrics"

    objs = render(helm, "--set", "watchNamespace=apps")
    assert not by_kind(objs, "ClusterRole") and not by_kind(objs, "ClusterRoleBinding")
    roles = {r["metadata"]["name"]: r for r in by_kind(objs, "Role")}
    assert roles["sluice-operator"]["metadata"]["namespace"] == "apps"
    assert env_of(by_kind(objs, "Deployment")[0])["SLUICE_NAMESPACE"] == "apps"

    objs = render(helm, "--set", "leaderElection.enabled=false")
    assert [r["metadata"]["name"] for r in by_kind(objs, "Role")] == []
    assert env_of(by_kind(objs, "Deployment")[0])["SLUICE_LEADER_ELECT"] == "false"

    objs = render(helm, "--set", "postgres.secretName=pg,image.worker.tag=9.9,image.operator.repository=r/op")
    d = by_kind(objs, "Deployment")[0]
    assert env_of(d)["SLUICE_POSTGRES_SECRET"] == "pg"
    assert env_of(d)["SLUICE_WORKER_IMAGE"] == "localhost/sluice-worker:9.9"
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "r/op:0.1.0"


@pytest.mark.parametrize("bad,where", [
    ("replicaCount=two", "/replicaCount"),
    ("leaderElection.leaseDuration=15", "/leaderElection/leaseDuration"),
    ("leaderElection.retryPeriod=2 s", "/leaderElection/retryPeriod"),
    ("image.worker.pullPolicy=Sometimes", "/image/worker/pullPolicy"),
    ("postgres.password=hunter2", "/postgres"),
    ("watchNamespace=Not_A_Namespace", "/watchNamespace"),
    ("logLevel=loud", "/logLevel"),
])
def test_values_schema_refuses_bad_values(helm, bad, where):
    """values.schema.json: a wrong value fails the render with its path,
    and there is no place for a password."""
    p = helm("template", "x", str(CHART), "--set", bad, check=False)
    assert p.returncode != 0
    assert where in p.stderr, p.stderr


# ---------------------------------------------------------------- on the API server


@pytest.fixture(scope="module")
def installed_manifests(stack):
    """manifests/ applied for real with kustomize: CRDs, namespace, RBAC, operator."""
    kubectl(stack, "apply", "-f", str(ROOT / "manifests" / "namespace.yaml"))
    # With the namespace there, everything must pass the server's validation
    # and admission without being stored ...
    out = kubectl(stack, "apply", "--dry-run=server", "-k", str(ROOT / "manifests")).stdout
    assert "deployment.apps/sluice-operator" in out
    # ... and then for real.
    kubectl(stack, "apply", "-k", str(ROOT / "manifests"))
    for crd in ("videojobs.sluice.dev", "telemetrywindows.sluice.dev"):
        kubectl(stack, "wait", "--for=condition=Established", "--timeout=60s", f"crd/{crd}")
    return stack


def test_manifests_objects_exist(installed_manifests):
    stack = installed_manifests
    d = json.loads(kubectl(stack, "-n", "sluice-system", "get", "deployment", "sluice-operator",
                           "-o", "json").stdout)
    assert d["spec"]["replicas"] == 2
    pod = d["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "sluice-operator"
    c = pod["containers"][0]
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    env = {e["name"]: e for e in c["env"]}
    assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    assert env["SLUICE_LEADER_ELECT"]["value"] == "true"
    for kind, name in (("serviceaccount", "sluice-operator"),
                       ("poddisruptionbudget", "sluice-operator"),
                       ("role", "sluice-operator-leader-election"),
                       ("rolebinding", "sluice-operator-leader-election")):
        kubectl(stack, "-n", "sluice-system", "get", kind, name)
    kubectl(stack, "get", "clusterrole", "sluice-operator")
    kubectl(stack, "get", "clusterrolebinding", "sluice-operator")
    # `kubectl apply -f crds/` still sees only the CRDs (crds/Kustomization
    # has no .yaml extension on purpose).
    out = kubectl(stack, "apply", "--dry-run=server", "-f", str(ROOT / "crds")).stdout
    names = sorted(line.split()[0] for line in out.splitlines() if line.strip())
    assert names == ["customresourcedefinition.apiextensions.k8s.io/telemetrywindows.sluice.dev",
                     "customresourcedefinition.apiextensions.k8s.io/videojobs.sluice.dev"], out


def test_operator_pod_passes_restricted_pod_security(installed_manifests):
    """The namespace enforces the "restricted" Pod Security Standard; a pod
    made from the Deployment's template is admitted by the real admission
    plugin, and the same pod running as root is refused."""
    stack = installed_manifests
    d = json.loads(kubectl(stack, "-n", "sluice-system", "get", "deployment", "sluice-operator",
                           "-o", "json").stdout)
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "psa-check", "namespace": "sluice-system"},
           "spec": d["spec"]["template"]["spec"]}
    kubectl(stack, "create", "--dry-run=server", "-f", "-", input=json.dumps(pod))
    bad = json.loads(json.dumps(pod))
    bad["spec"]["securityContext"]["runAsNonRoot"] = False
    bad["spec"]["containers"][0]["securityContext"].pop("capabilities")
    p = kubectl(stack, "create", "--dry-run=server", "-f", "-", input=json.dumps(bad),
                check=False)
    assert p.returncode != 0 and "restricted" in p.stderr, p.stderr


# (verb, resource, flags) the operator needs / must not have (CONTRACTS.md 5).
ALLOWED = [
    ("patch", "telemetrywindows.sluice.dev", ["--subresource=status", "-A"]),
    ("update", "videojobs.sluice.dev", ["--subresource=status", "-n", "default"]),
    ("update", "videojobs.sluice.dev", ["--subresource=finalizers", "-n", "default"]),
    ("watch", "videojobs.sluice.dev", ["-A"]),
    ("list", "telemetrywindows.sluice.dev", ["-A"]),
    ("create", "configmaps", ["-n", "default"]),
    ("create", "deployments.apps", ["-n", "default"]),
    ("update", "deployments.apps", ["--subresource=scale", "-n", "default"]),
    ("delete", "jobs.batch", ["-n", "default"]),
    ("create", "events.events.k8s.io", ["-n", "default"]),
    ("create", "leases.coordination.k8s.io", ["-n", "sluice-system"]),
    ("update", "leases.coordination.k8s.io", ["-n", "sluice-system"]),
]
DENIED = [
    ("get", "secrets", ["-n", "sluice-system"]),
    ("list", "secrets", ["-A"]),
    ("delete", "namespaces", []),
    ("create", "leases.coordination.k8s.io", ["-n", "default"]),
    ("delete", "leases.coordination.k8s.io", ["-n", "sluice-system"]),
    ("create", "videojobs.sluice.dev", ["-n", "default"]),
    ("delete", "telemetrywindows.sluice.dev", ["-n", "default"]),
    ("create", "pods", ["-n", "default"]),
    ("create", "clusterroles.rbac.authorization.k8s.io", []),
    ("update", "customresourcedefinitions.apiextensions.k8s.io", []),
    ("patch", "nodes", []),
]


def can_i(stack, sa, verb, resource, flags):
    p = kubectl(stack, "auth", "can-i", f"--as={sa}", verb, resource, *flags, check=False)
    return p.stdout.strip()


@pytest.mark.parametrize("verb,resource,flags", ALLOWED, ids=lambda x: x if isinstance(x, str) else None)
def test_rbac_allows_what_the_operator_needs(installed_manifests, verb, resource, flags):
    assert can_i(installed_manifests, SA, verb, resource, flags) == "yes"


@pytest.mark.parametrize("verb,resource,flags", DENIED, ids=lambda x: x if isinstance(x, str) else None)
def test_rbac_denies_the_rest(installed_manifests, verb, resource, flags):
    assert can_i(installed_manifests, SA, verb, resource, flags) == "no"


def test_rendered_chart_accepted_by_server(stack, helm, ns):
    """helm template's output, applied with --dry-run=server and then for
    real into a fresh namespace: every object is valid for the API server."""
    name = f"sl-{ns[-8:]}"
    rendered = helm("template", name, str(CHART), "-n", ns, "--set",
                    f"watchNamespace={ns},postgres.secretName=pg").stdout
    out = kubectl(stack, "apply", "--dry-run=server", "-n", ns, "-f", "-", input=rendered).stdout
    assert f"deployment.apps/{name}-sluice-operator created (server dry run)" in out, out
    kubectl(stack, "apply", "-n", ns, "-f", "-", input=rendered)
    kubectl(stack, "-n", ns, "get", "deployment", f"{name}-sluice-operator")
    sa = f"system:serviceaccount:{ns}:{name}-sluice-operator"
    # One namespace watched: a Role there, nothing cluster-wide.
    assert can_i(stack, sa, "create", "configmaps", ["-n", ns]) == "yes"
    assert can_i(stack, sa, "create", "configmaps", ["-n", "default"]) == "no"
    assert can_i(stack, sa, "get", "secrets", ["-n", ns]) == "no"
    assert can_i(stack, sa, "create", "leases.coordination.k8s.io", ["-n", ns]) == "yes"
    kubectl(stack, "delete", "-n", ns, "-f", "-", "--wait=false", input=rendered)


def test_helm_install_upgrade_uninstall(stack, helm, ns):
    """helm install into the real API server creates the operator's objects
    (CRDs already present are left alone); upgrade changes them; uninstall
    removes them."""
    release = f"sluice-{ns[-8:]}"
    out = helm("install", release, str(CHART), "-n", ns, "--wait=false").stdout
    assert "STATUS: deployed" in out, out
    assert "Lease" in out  # NOTES.txt
    fullname = f"{release}-operator"
    d = json.loads(kubectl(stack, "-n", ns, "get", "deployment", fullname, "-o", "json").stdout)
    assert d["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
    env = {e["name"]: e.get("value") for e in d["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["SLUICE_LEADER_ELECTION_NAMESPACE"] == ns
    sa = f"system:serviceaccount:{ns}:{fullname}"
    assert can_i(stack, sa, "patch", "telemetrywindows.sluice.dev", ["--subresource=status", "-A"]) == "yes"
    assert can_i(stack, sa, "create", "leases.coordination.k8s.io", ["-n", ns]) == "yes"
    assert can_i(stack, sa, "get", "secrets", ["-A"]) == "no"
    listed = helm("list", "-n", ns, "-o", "json").stdout
    assert json.loads(listed)[0]["status"] == "deployed"
    # An upgrade changes the Deployment in place (revision 2).
    helm("upgrade", release, str(CHART), "-n", ns, "--reuse-values", "--set",
         "logLevel=debug,leaderElection.leaseDuration=20s")
    d = json.loads(kubectl(stack, "-n", ns, "get", "deployment", fullname, "-o", "json").stdout)
    env = {e["name"]: e.get("value") for e in d["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["SLUICE_LOG_LEVEL"] == "debug" and env["SLUICE_LEASE_DURATION"] == "20s"
    assert json.loads(helm("list", "-n", ns, "-o", "json").stdout)[0]["revision"] == "2"
    helm("uninstall", release, "-n", ns)
    assert kubectl(stack, "-n", ns, "get", "deployment", fullname, check=False).returncode != 0
    assert kubectl(stack, "get", "clusterrole", fullname, check=False).returncode != 0
    # CRDs are never removed by helm (its crds/ rule): resources survive.
    kubectl(stack, "get", "crd", "videojobs.sluice.dev")
