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
  are not; the dashboard's ServiceAccount may read and never write;
- the dashboard (on by default), the workers' PodMonitor and the Grafana
  dashboard's ConfigMap render as documented, and every metric the Grafana
  dashboard queries is registered in the C source; the chart's dashboard on
  the node becomes Ready and answers.

helm comes from scripts/deps.sh helm ($SLUICE_CACHE/helm-<version>/bin, which
tests/e2e/run.sh puts on PATH; $HELM overrides).
"""
import json
import os
import pathlib
import re
import shutil
import socket
import subprocess
import tarfile
import time
import urllib.request

import pytest
import yaml

from conftest import ROOT, assert_locked_down, run
from test_operator import wait_for

CHART = ROOT / "helm" / "sluice"
# crds/<plural>.<group>.yaml: telemetrywindows, videojobs, videowatches.
CRD_NAMES = sorted(p.name[:-len(".yaml")] for p in (ROOT / "crds").glob("*.yaml"))
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


@pytest.fixture(scope="module")
def helm_offline():
    """helm for what needs no cluster (lint, template, package): no stack,
    no kubeconfig, so these tests run where no stack is up."""
    binary = helm_binary()

    def call(*args, check=True, input=None):
        return run([binary, *args], check=check, input=input, timeout=180)
    return call


def kubectl(stack, *args, check=True, input=None):
    return run(["kubectl", "--kubeconfig", stack["KUBECONFIG"], *args], check=check,
               input=input)


def docs(text):
    return [d for d in yaml.safe_load_all(text) if d]


def by_kind(objs, kind):
    return [o for o in objs if o["kind"] == kind]


def component(objs, kind, part):
    """The objects of a kind that belong to one part of the chart (label
    app.kubernetes.io/component: operator, dashboard, workers, monitoring)."""
    return [o for o in by_kind(objs, kind)
            if o["metadata"].get("labels", {}).get("app.kubernetes.io/component") == part]


def operator_of(objs):
    (d,) = component(objs, "Deployment", "operator")
    return d


def dashboard_of(objs):
    (d,) = component(objs, "Deployment", "dashboard")
    return d


@pytest.fixture
def ns(stack, unique):
    name = f"deploy-{unique}"
    kubectl(stack, "create", "namespace", name)
    yield name
    kubectl(stack, "delete", "namespace", name, "--wait=false", check=False)


# ---------------------------------------------------------------- the chart, offline


def test_chart_crds_are_the_crds(helm_offline, tmp_path):
    """helm/sluice/crds is a link to crds/, so the two cannot drift; what
    matters is that helm follows it: the packaged chart carries exactly
    crds/*.yaml, byte for byte, and nothing else from that directory."""
    assert (CHART / "crds").is_symlink()
    helm_offline("package", str(CHART), "-d", str(tmp_path))
    (tgz,) = tmp_path.glob("sluice-*.tgz")
    with tarfile.open(tgz) as tar:
        packed = {m.name[len("sluice/crds/"):]: tar.extractfile(m).read()
                  for m in tar.getmembers() if m.name.startswith("sluice/crds/")}
    ours = {p.name: p.read_bytes() for p in (ROOT / "crds").glob("*.yaml")}
    assert sorted(packed) == sorted(ours)
    assert packed == ours
    rendered = helm_offline("template", "x", str(CHART), "--include-crds").stdout
    crds = [o["metadata"]["name"] for o in docs(rendered) if o["kind"] == "CustomResourceDefinition"]
    assert sorted(crds) == CRD_NAMES


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
    ["--set", "hostNetwork=true,metrics.addr=127.0.0.1,workers.hostNetwork=true,"
              "kubernetesService.host=127.0.0.1,kubernetesService.port=6443"],
    ["--set", "dashboard.enabled=false"],
    ["--set", "dashboard.hostNetwork=true,dashboard.listenAddr=127.0.0.1,dashboard.port=18088,"
              "kubernetesService.host=127.0.0.1,kubernetesService.port=6443"],
    ["--set", "grafana.dashboards.enabled=true,workers.podMonitor.enabled=true,"
              "podMonitor.enabled=true"],
    ["--set", "kafka.tls.ca.name=kafka-ca,kafka.tls.cert.name=c,kafka.tls.key.name=c,"
              "kafka.sasl.mechanism=SCRAM-SHA-512,kafka.sasl.username.name=u,"
              "kafka.sasl.password.name=u"],
]


@pytest.mark.parametrize("extra", VARIANTS, ids=lambda v: v[1] if v else "defaults")
def test_helm_lint_is_clean(helm_offline, extra):
    out = helm_offline("lint", "--strict", str(CHART), *extra).stdout
    assert "0 chart(s) failed" in out
    assert "[WARNING]" not in out and "[ERROR]" not in out, out


def render(helm, *extra, name="sluice", namespace="sluice-system"):
    return docs(helm("template", name, str(CHART), "-n", namespace, *extra).stdout)


def env_of(deploy):
    c = deploy["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c["env"]}


def test_helm_template_defaults(helm_offline):
    objs = render(helm_offline)

    def part(name):
        return sorted(o["kind"] for o in objs
                      if o["metadata"]["labels"]["app.kubernetes.io/component"] == name)
    assert part("operator") == ["ClusterRole", "ClusterRoleBinding", "Deployment", "Lease",
                     "PodDisruptionBudget", "Role", "RoleBinding", "ServiceAccount"]
    # The dashboard is on by default: its own ServiceAccount, read-only
    # ClusterRole and binding, Deployment and Service.
    assert part("dashboard") == ["ClusterRole", "ClusterRoleBinding", "Deployment", "Service",
                                 "ServiceAccount"]
    assert len(objs) == 13
    (pdb,) = by_kind(objs, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1
    d = operator_of(objs)
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
    # autoscaling.*: the operator's defaults for spec.workers.scaling (docs/autoscaling.md).
    assert (env["SLUICE_POLLING_INTERVAL"], env["SLUICE_STABILIZATION_WINDOW"],
            env["SLUICE_COOLDOWN_PERIOD"], env["SLUICE_TREND_WINDOW"],
            env["SLUICE_FALLBACK_REPLICAS"], env["SLUICE_FALLBACK_FAILURE_THRESHOLD"]) == \
        ("5s", "5m", "5m", "60s", "-1", "3")
    assert env["SLUICE_WORKER_IMAGE"] == "localhost/sluice-worker:0.1.0"
    # Inside a pod with a network of its own the endpoint must answer the
    # kubelet's probes and Prometheus on the pod's IP (the test node has no pod
    # network: test_helm_install_on_the_node runs the host-network variant).
    assert env["SLUICE_METRICS_ADDR"] == "0.0.0.0"
    assert env["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    # No password anywhere in what the chart renders.
    assert "password" not in json.dumps(objs).lower()
    (cluster_role,) = component(objs, "ClusterRole", "operator")
    # Nodes read only, for an NVENC VideoJob's GPU check (docs/contracts.md §5).
    assert {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list"]} in \
        cluster_role["rules"]
    (lease_role,) = by_kind(objs, "Role")
    assert lease_role["metadata"]["namespace"] == "sluice-system"
    assert lease_role["rules"] == [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                                    "verbs": ["get", "create", "update"]}]


def test_helm_template_variants(helm_offline):
    objs = render(helm_offline, "--set", "podMonitor.enabled=true")
    (pm,) = by_kind(objs, "PodMonitor")
    assert pm["spec"]["podMetricsEndpoints"][0]["path"] == "/metrics"

    objs = render(helm_offline, "--set", "watchNamespace=apps")
    assert not by_kind(objs, "ClusterRole") and not by_kind(objs, "ClusterRoleBinding")
    roles = {r["metadata"]["name"]: r for r in by_kind(objs, "Role")}
    assert roles["sluice-operator"]["metadata"]["namespace"] == "apps"
    # Nodes are cluster-scoped: a Role cannot grant them, so it does not try
    # (the GPU check is then skipped, docs/deploy.md).
    assert not [r for r in roles["sluice-operator"]["rules"] if "nodes" in r["resources"]]
    assert env_of(operator_of(objs))["SLUICE_NAMESPACE"] == "apps"

    objs = render(helm_offline, "--set", "leaderElection.enabled=false")
    assert [r["metadata"]["name"] for r in by_kind(objs, "Role")] == []
    assert env_of(operator_of(objs))["SLUICE_LEADER_ELECT"] == "false"

    objs = render(helm_offline, "--set", "postgres.secretName=pg,image.worker.tag=9.9,image.operator.repository=r/op")
    d = operator_of(objs)
    assert env_of(d)["SLUICE_POSTGRES_SECRET"] == "pg"
    assert env_of(d)["SLUICE_WORKER_IMAGE"] == "localhost/sluice-worker:9.9"
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "r/op:0.1.0"


def pod_of(objs):
    return operator_of(objs)["spec"]["template"]["spec"]


def test_helm_template_pod_network_defaults(helm_offline):
    """Without hostNetwork: the pod's own network, a named container port,
    probes on the pod's IP, Kubernetes' default DNS policy and strategy, a
    preferred spread over nodes, and the API server the kubelet names."""
    objs = render(helm_offline)
    d = operator_of(objs)
    pod = pod_of(objs)
    assert "hostNetwork" not in pod and "dnsPolicy" not in pod
    assert "strategy" not in d["spec"]
    c = pod["containers"][0]
    assert c["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    for probe in ("livenessProbe", "readinessProbe"):
        assert c[probe]["httpGet"]["port"] == "http" and "host" not in c[probe]["httpGet"]
    anti = pod["affinity"]["podAntiAffinity"]
    assert list(anti) == ["preferredDuringSchedulingIgnoredDuringExecution"]
    env = env_of(operator_of(objs))
    assert env["SLUICE_WORKER_HOST_NETWORK"] == "false"
    assert "KUBERNETES_SERVICE_HOST" not in env and "KUBERNETES_SERVICE_PORT" not in env


def test_helm_template_host_network(helm_offline):
    """hostNetwork: the node's network, DNS that still resolves cluster names,
    a rollout that removes an old pod before starting a new one, no declared
    (host) port and at most one replica per node; the endpoint on loopback,
    probed there; the API server at a given address; workers told to use the
    node's network too. The security context stays "restricted"."""
    objs = render(helm_offline, "--set",
                  "hostNetwork=true,metrics.addr=127.0.0.1,workers.hostNetwork=true,"
                  "kubernetesService.host=127.0.0.1,kubernetesService.port=6443")
    d = operator_of(objs)
    pod = pod_of(objs)
    assert pod["hostNetwork"] is True
    assert pod["dnsPolicy"] == "ClusterFirstWithHostNet"
    assert d["spec"]["strategy"] == {"type": "RollingUpdate",
                                     "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}
    c = pod["containers"][0]
    assert "ports" not in c
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        assert c[probe]["httpGet"] == {"path": path, "port": 8080, "host": "127.0.0.1"}
    anti = pod["affinity"]["podAntiAffinity"]
    assert anti == {"requiredDuringSchedulingIgnoredDuringExecution": [{
        "topologyKey": "kubernetes.io/hostname",
        "labelSelector": {"matchLabels": d["spec"]["selector"]["matchLabels"]}}]}
    env = env_of(d)
    assert env["SLUICE_METRICS_ADDR"] == "127.0.0.1"
    assert env["SLUICE_WORKER_HOST_NETWORK"] == "true"
    assert env["KUBERNETES_SERVICE_HOST"] == "127.0.0.1"
    assert env["KUBERNETES_SERVICE_PORT"] == "6443"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert c["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                    "capabilities": {"drop": ["ALL"]}}

    # What is set wins over what hostNetwork implies; a given affinity is
    # kept, with the one-per-node rule added to it.
    objs = render(helm_offline, "--set", "hostNetwork=true,dnsPolicy=Default,"
                  "updateStrategy.type=Recreate,"
                  "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."
                  "nodeSelectorTerms[0].matchExpressions[0].key=role,"
                  "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."
                  "nodeSelectorTerms[0].matchExpressions[0].operator=Exists")
    d = operator_of(objs)
    pod = pod_of(objs)
    assert pod["dnsPolicy"] == "Default"
    assert d["spec"]["strategy"] == {"type": "Recreate"}
    assert "nodeAffinity" in pod["affinity"]
    (term,) = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    # A wildcard metrics.addr: the probes go to the pod's (the node's) IP.
    c = pod["containers"][0]
    assert "host" not in c["livenessProbe"]["httpGet"]

    # Without hostNetwork the values still apply as given.
    objs = render(helm_offline, "--set", "dnsPolicy=Default,updateStrategy.rollingUpdate.maxSurge=2")
    d = operator_of(objs)
    assert pod_of(objs)["dnsPolicy"] == "Default"
    assert d["spec"]["strategy"] == {"rollingUpdate": {"maxSurge": 2}}

    # A PodMonitor has no port name to use: it addresses the pod's IP.
    objs = render(helm_offline, "--set", "hostNetwork=true,podMonitor.enabled=true,metrics.port=9090")
    (pm,) = by_kind(objs, "PodMonitor")
    (ep,) = pm["spec"]["podMetricsEndpoints"]
    assert "port" not in ep
    assert ep["relabelings"][0]["replacement"] == "${1}:9090"


def test_helm_template_extra_env_overrides(helm_offline):
    """extraEnv may override a variable the chart sets: each name appears
    once (a duplicate would break the strategic merge patch of the next
    helm upgrade), the override in the chart's place, the rest after it."""
    objs = render(helm_offline, "--set",
                  "extraEnv[0].name=SLUICE_LOG_LEVEL,extraEnv[0].value=debug,"
                  "extraEnv[1].name=EXTRA,extraEnv[1].value=x,"
                  "extraEnv[2].name=SLUICE_KAFKA_BOOTSTRAP,"
                  "extraEnv[2].valueFrom.configMapKeyRef.name=kafka,"
                  "extraEnv[2].valueFrom.configMapKeyRef.key=bootstrap")
    c = pod_of(objs)["containers"][0]
    names = [e["name"] for e in c["env"]]
    assert len(names) == len(set(names)), names
    env = {e["name"]: e for e in c["env"]}
    assert env["SLUICE_LOG_LEVEL"] == {"name": "SLUICE_LOG_LEVEL", "value": "debug"}
    assert env["SLUICE_KAFKA_BOOTSTRAP"] == {
        "name": "SLUICE_KAFKA_BOOTSTRAP",
        "valueFrom": {"configMapKeyRef": {"name": "kafka", "key": "bootstrap"}}}
    assert names.index("SLUICE_LOG_LEVEL") < names.index("SLUICE_METRICS_ADDR")
    assert names[-1] == "EXTRA"
    # The defaults render every variable once too.
    names = [e["name"] for e in pod_of(render(helm_offline))["containers"][0]["env"]]
    assert len(names) == len(set(names)), names
    assert names[:3] == ["POD_NAME", "POD_NAMESPACE", "SLUICE_LOG_LEVEL"]


def test_helm_template_lease(helm_offline):
    """The leader-election Lease is the release's, so helm uninstall deletes
    it: its name and namespace are the operator's, and it has no spec (the
    holder and times are the operator's to write)."""
    objs = render(helm_offline, "--set", "leaderElection.id=my-lease", namespace="ops")
    (lease,) = by_kind(objs, "Lease")
    assert lease["apiVersion"] == "coordination.k8s.io/v1"
    assert lease["metadata"]["name"] == "my-lease"
    assert lease["metadata"]["namespace"] == "ops"
    assert lease["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
    assert "spec" not in lease
    env = env_of(operator_of(objs))
    assert env["SLUICE_LEADER_ELECTION_ID"] == "my-lease"
    assert env["SLUICE_LEADER_ELECTION_NAMESPACE"] == "ops"
    assert not by_kind(render(helm_offline, "--set", "leaderElection.enabled=false"), "Lease")


@pytest.mark.parametrize("bad,message", [
    ("kubernetesService.host=127.0.0.1", "kubernetesService.host and kubernetesService.port"),
    ("kubernetesService.port=6443", "kubernetesService.host and kubernetesService.port"),
    ("metrics.addr=127.0.0.1", "probes cannot reach it"),
    ("hostNetwork=true,metrics.addr=127.0.0.1,podMonitor.enabled=true", "Prometheus cannot scrape"),
    ("dashboard.listenAddr=127.0.0.1", "dashboard.listenAddr 127.0.0.1 is the pod's own loopback"),
    ("kafka.tls.cert.name=c", "kafka.tls.cert and kafka.tls.key go together"),
    ("kafka.sasl.mechanism=PLAIN,kafka.sasl.username.name=u",
     "kafka.sasl.mechanism PLAIN needs kafka.sasl.username.name and kafka.sasl.password.name"),
    ("kafka.sasl.password.name=u", "kafka.sasl.username and kafka.sasl.password need "
     "kafka.sasl.mechanism"),
    ("kafka.bootstrap=,kafka.tls.enabled=true", "they need kafka.bootstrap"),
    ("workers.hostNetwork=true,workers.podMonitor.enabled=true", "a free port of the node"),
])
def test_helm_template_refuses_inconsistent_values(helm_offline, bad, message):
    """Values each valid alone that cannot work together fail the render
    with a message that says why."""
    p = helm_offline("template", "x", str(CHART), "--set", bad, check=False)
    assert p.returncode != 0
    assert message in p.stderr, p.stderr


@pytest.mark.parametrize("bad,where", [
    ("replicaCount=two", "/replicaCount"),
    ("leaderElection.leaseDuration=15", "/leaderElection/leaseDuration"),
    ("leaderElection.retryPeriod=2 s", "/leaderElection/retryPeriod"),
    ("image.worker.pullPolicy=Sometimes", "/image/worker/pullPolicy"),
    ("postgres.password=hunter2", "/postgres"),
    ("watchNamespace=Not_A_Namespace", "/watchNamespace"),
    ("logLevel=loud", "/logLevel"),
    ("hostNetwork=tru", "/hostNetwork"),
    ("workers.hostNetwork=yes", "/workers/hostNetwork"),
    ("dnsPolicy=ClusterFirstWithHostnet", "/dnsPolicy"),
    ("updateStrategy=Recreate", "/updateStrategy"),
    ("metrics.addr=localhost", "/metrics/addr"),
    ("kubernetesService.port=https", "/kubernetesService/port"),
    # Unknown keys, at the top and in every object the chart defines.
    ("nosuchkey=1", "at '': additional properties 'nosuchkey'"),
    ("hostnetwork=true", "at '': additional properties 'hostnetwork'"),
    ("metrics.adress=127.0.0.1", "at '/metrics': additional properties 'adress'"),
    ("workers.hostnetwork=true", "at '/workers': additional properties"),
    ("kubernetesService.hots=x", "at '/kubernetesService': additional properties"),
    ("kafka.boostrap=k:9092", "at '/kafka': additional properties"),
    ("kafka.sasl.mechanism=GSSAPI", "/kafka/sasl/mechanism"),
    ("kafka.sasl.password.value=hunter2", "at '/kafka/sasl/password': additional properties"),
    ("kafka.tls.ca.name=Kafka_CA", "/kafka/tls/ca/name"),
    ("kafka.tls.ca.key=ca crt", "/kafka/tls/ca/key"),
    ("kafka.tls.enabled=yes", "/kafka/tls/enabled"),
    ("kafka.tls.caFile=/x", "at '/kafka/tls': additional properties"),
    ("redis.adr=r:6379", "at '/redis': additional properties"),
    ("influxdb.db=x", "at '/influxdb': additional properties"),
    ("rbac.enabled=true", "at '/rbac': additional properties"),
    ("serviceAccount.nmae=x", "at '/serviceAccount': additional properties"),
    ("podMonitor.enable=true", "at '/podMonitor': additional properties"),
    ("podDisruptionBudget.minAvaliable=1", "at '/podDisruptionBudget': additional properties"),
    ("extraEnv[0].value=no-name", "/extraEnv/0"),
    ("dashboard.enabled=yes", "/dashboard/enabled"),
    ("dashboard.port=0", "/dashboard/port"),
    ("dashboard.listenAddr=localhost", "/dashboard/listenAddr"),
    ("dashboard.service.type=ExternalName", "/dashboard/service/type"),
    ("dashboard.tmpSizeLimit=lots", "/dashboard/tmpSizeLimit"),
    ("dashboard.url=sluice.example.com", "/dashboard/url"),
    ("dashboard.extraEnv[0].value=no-name", "/dashboard/extraEnv/0"),
    ("dashboard.enable=true", "at '/dashboard': additional properties 'enable'"),
    ("dashboard.service.prot=80", "at '/dashboard/service': additional properties"),
    ("dashboard.serviceAccount.nmae=x", "at '/dashboard/serviceAccount': additional properties"),
    ("workers.podMonitor.port=9090", "/workers/podMonitor"),
    ("workers.podMonitor.enable=true", "at '/workers/podMonitor': additional properties"),
    ("podMonitor.interval=30", "/podMonitor/interval"),
    ("grafana.dashboards.enable=true", "at '/grafana/dashboards': additional properties"),
    ("grafana.dashboards.namespace=Monitoring", "/grafana/dashboards/namespace"),
    ("grafana.dashboard.enabled=true", "at '/grafana': additional properties"),
])
def test_values_schema_refuses_bad_values(helm_offline, bad, where):
    """values.schema.json: a wrong value fails the render with its path,
    and there is no place for a password."""
    p = helm_offline("template", "x", str(CHART), "--set", bad, check=False)
    assert p.returncode != 0
    assert where in p.stderr, p.stderr


KAFKA_SECURITY_VARS = ["SLUICE_KAFKA_TLS", "SLUICE_KAFKA_CA_SECRET", "SLUICE_KAFKA_CERT_SECRET",
                       "SLUICE_KAFKA_KEY_SECRET", "SLUICE_KAFKA_SERVER_NAME",
                       "SLUICE_KAFKA_SASL_MECHANISM", "SLUICE_KAFKA_SASL_USERNAME_SECRET",
                       "SLUICE_KAFKA_SASL_PASSWORD_SECRET"]


def test_helm_template_kafka_security(helm_offline):
    """kafka.tls and kafka.sasl become the operator's --kafka-tls,
    --kafka-*-secret... (Secret references as name/key, never a value), and
    the dashboard gets the same, since it reads the same effective spec
    (docs/kafka-security.md, "The default cluster")."""
    def security(objs, part):
        env = env_of(part(objs))
        return {k: env[k] for k in KAFKA_SECURITY_VARS if k in env}

    # None by default: the default cluster speaks PLAINTEXT.
    objs = render(helm_offline)
    assert security(objs, operator_of) == security(objs, dashboard_of) == {}

    objs = render(helm_offline, "--set",
                  "kafka.bootstrap=kafka.kafka.svc:9094,kafka.tls.ca.name=kafka-ca,"
                  "kafka.tls.cert.name=sluice-client,kafka.tls.key.name=sluice-client,"
                  "kafka.tls.serverName=kafka.internal,kafka.sasl.mechanism=SCRAM-SHA-512,"
                  "kafka.sasl.username.name=kafka-user,kafka.sasl.password.name=kafka-user,"
                  "kafka.sasl.password.key=pw")
    want = {
        "SLUICE_KAFKA_TLS": "true",
        "SLUICE_KAFKA_CA_SECRET": "kafka-ca/ca.crt",
        "SLUICE_KAFKA_CERT_SECRET": "sluice-client/tls.crt",
        "SLUICE_KAFKA_KEY_SECRET": "sluice-client/tls.key",
        "SLUICE_KAFKA_SERVER_NAME": "kafka.internal",
        "SLUICE_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "SLUICE_KAFKA_SASL_USERNAME_SECRET": "kafka-user/username",
        "SLUICE_KAFKA_SASL_PASSWORD_SECRET": "kafka-user/pw",
    }
    assert security(objs, operator_of) == want
    assert security(objs, dashboard_of) == want
    assert env_of(dashboard_of(objs))["SLUICE_KAFKA_BOOTSTRAP"] == "kafka.kafka.svc:9094"
    # After the bootstrap, in the chart's order, each name once.
    names = [e["name"] for e in
             operator_of(objs)["spec"]["template"]["spec"]["containers"][0]["env"]]
    i = names.index("SLUICE_KAFKA_BOOTSTRAP")
    assert names[i + 1:i + 1 + len(want)] == list(want)
    assert len(names) == len(set(names))

    # TLS alone, with the system's CAs.
    objs = render(helm_offline, "--set", "kafka.tls.enabled=true")
    assert security(objs, operator_of) == {"SLUICE_KAFKA_TLS": "true"}
    # A CA implies TLS (as --kafka-ca-secret does).
    objs = render(helm_offline, "--set", "kafka.tls.ca.name=kafka-ca")
    assert security(objs, operator_of) == {"SLUICE_KAFKA_TLS": "true",
                                           "SLUICE_KAFKA_CA_SECRET": "kafka-ca/ca.crt"}
    # SASL without TLS.
    objs = render(helm_offline, "--set", "kafka.sasl.mechanism=PLAIN,"
                  "kafka.sasl.username.name=u,kafka.sasl.password.name=u")
    assert "SLUICE_KAFKA_TLS" not in security(objs, operator_of)
    assert security(objs, dashboard_of)["SLUICE_KAFKA_SASL_MECHANISM"] == "PLAIN"


def test_values_schema_keeps_kubernetes_structures_open(helm_offline):
    """The free-form Kubernetes structures take any key: they are passed to
    the API server as they are."""
    objs = render(helm_offline, "--set",
                  "resources.limits.cpu=1,podLabels.team=a,podAnnotations.note=b,"
                  "nodeSelector.disk=ssd,securityContext.runAsUser=65533,"
                  "podSecurityContext.fsGroup=65532,serviceAccount.annotations.x=y,"
                  "podMonitor.enabled=true,podMonitor.labels.release=prom,"
                  "tolerations[0].operator=Exists,"
                  "updateStrategy.rollingUpdate.maxUnavailable=0")
    pod = pod_of(objs)
    assert pod["nodeSelector"] == {"disk": "ssd"}
    assert pod["containers"][0]["resources"]["limits"]["cpu"] == 1
    assert pod["securityContext"]["fsGroup"] == 65532
    objs = render(helm_offline, "--set",
                  "dashboard.resources.limits.cpu=1,dashboard.podLabels.team=a,"
                  "dashboard.podAnnotations.note=b,dashboard.nodeSelector.disk=ssd,"
                  "dashboard.tolerations[0].operator=Exists,"
                  "dashboard.service.annotations.x=y,dashboard.serviceAccount.annotations.x=y,"
                  "workers.podMonitor.enabled=true,workers.podMonitor.labels.release=prom,"
                  "grafana.dashboards.enabled=true,grafana.dashboards.annotations.folder=x")
    pod = dashboard_of(objs)["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"disk": "ssd"}
    assert pod["tolerations"] == [{"operator": "Exists"}]
    assert pod["containers"][0]["resources"]["limits"]["cpu"] == 1
    assert dashboard_of(objs)["spec"]["template"]["metadata"]["annotations"] == {"note": "b"}


def rules_of(role):
    return [(tuple(r["apiGroups"]), tuple(r["resources"]), tuple(r["verbs"]))
            for r in role["rules"]]


DASHBOARD_RULES = [
    (("sluice.dev",), ("videojobs", "telemetrywindows", "videowatches"), ("get", "list", "watch")),
    (("sluice.dev",), ("videojobs/status", "telemetrywindows/status", "videowatches/status"),
     ("get",)),
    (("",), ("secrets",), ("get",)),
    (("",), ("pods",), ("list",)),
    (("apps",), ("deployments",), ("list",)),
]


def test_helm_template_dashboard(helm_offline):
    """dashboard.enabled (the default): sluice-dashboard from the worker image
    with the chart's security context, probes on /healthz and /readyz, its own
    ServiceAccount bound to a read-only ClusterRole, and a ClusterIP Service
    on port 8088 that selects its pods and no operator's."""
    objs = render(helm_offline, "--set", "image.worker.tag=9.9,logLevel=debug")
    d = dashboard_of(objs)
    assert d["metadata"]["name"] == "sluice-dashboard"
    assert d["spec"]["replicas"] == 1
    assert "strategy" not in d["spec"]
    pod = d["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "sluice-dashboard"
    assert "hostNetwork" not in pod and "dnsPolicy" not in pod
    assert pod["securityContext"] == {"runAsNonRoot": True, "runAsUser": 65532,
                                      "runAsGroup": 65532,
                                      "seccompProfile": {"type": "RuntimeDefault"}}
    (c,) = pod["containers"]
    assert c["image"] == "localhost/sluice-worker:9.9"
    assert c["command"] == ["sluice-dashboard"]
    # The pod's own address, from the downward API.
    assert c["args"] == ["--listen-addr", "$(POD_IP)", "--port", "8088"]
    assert {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}} \
        in c["env"]
    assert c["securityContext"] == {"allowPrivilegeEscalation": False,
                                    "readOnlyRootFilesystem": True,
                                    "capabilities": {"drop": ["ALL"]}}
    assert c["ports"] == [{"name": "http", "containerPort": 8088, "protocol": "TCP"}]
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"]
    env = env_of(d)
    assert env["SLUICE_LOG_LEVEL"] == "debug"
    assert env["SLUICE_KAFKA_BOOTSTRAP"] == "kafka.kafka.svc:9092"
    assert "KUBERNETES_SERVICE_HOST" not in env and "SLUICE_REDIS_ADDR" not in env
    # Its own account, read only, bound to it alone.
    (sa,) = component(objs, "ServiceAccount", "dashboard")
    assert sa["metadata"]["name"] == "sluice-dashboard"
    (role,) = component(objs, "ClusterRole", "dashboard")
    assert rules_of(role) == DASHBOARD_RULES
    verbs = {v for r in role["rules"] for v in r["verbs"]}
    assert verbs == {"get", "list", "watch"}
    (binding,) = component(objs, "ClusterRoleBinding", "dashboard")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                  "name": "sluice-dashboard"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "sluice-dashboard",
                                    "namespace": "sluice-system"}]
    # The Service reaches the dashboard's pods only.
    (svc,) = by_kind(objs, "Service")
    assert svc["spec"]["type"] == "ClusterIP"
    assert svc["spec"]["ports"] == [{"name": "http", "port": 8088, "targetPort": 8088,
                                     "protocol": "TCP"}]
    labels = d["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"].items() <= labels.items()
    assert svc["spec"]["selector"] == d["spec"]["selector"]["matchLabels"]
    op_labels = operator_of(objs)["spec"]["template"]["metadata"]["labels"]
    assert not svc["spec"]["selector"].items() <= op_labels.items()
    assert not operator_of(objs)["spec"]["selector"]["matchLabels"].items() <= labels.items()

    # No URL given: the operator links no upload's job to it.
    assert "SLUICE_DASHBOARD_URL" not in env_of(operator_of(objs))
    objs = render(helm_offline, "--set", "dashboard.url=https://sluice.example.com/")
    assert env_of(operator_of(objs))["SLUICE_DASHBOARD_URL"] == "https://sluice.example.com/"
    objs = render(helm_offline, "--set", "dashboard.url=https://x/,dashboard.enabled=false")
    assert "SLUICE_DASHBOARD_URL" not in env_of(operator_of(objs))

    # One namespace watched: a Role there, and --namespace.
    objs = render(helm_offline, "--set", "watchNamespace=apps")
    (role,) = component(objs, "Role", "dashboard")
    assert role["metadata"]["namespace"] == "apps" and rules_of(role) == DASHBOARD_RULES
    (binding,) = component(objs, "RoleBinding", "dashboard")
    assert binding["metadata"]["namespace"] == "apps"
    assert binding["subjects"][0]["namespace"] == "sluice-system"
    assert not component(objs, "ClusterRole", "dashboard")
    assert dashboard_of(objs)["spec"]["template"]["spec"]["containers"][0]["args"][-2:] == \
        ["--namespace", "apps"]

    # Off: nothing of it.
    objs = render(helm_offline, "--set", "dashboard.enabled=false")
    assert not [o for o in objs
                if o["metadata"]["labels"]["app.kubernetes.io/component"] == "dashboard"]
    assert len(objs) == 8
    # No RBAC of the chart's: no role, the ServiceAccount still its own.
    objs = render(helm_offline, "--set", "rbac.create=false")
    assert not component(objs, "ClusterRole", "dashboard")
    assert component(objs, "ServiceAccount", "dashboard")
    objs = render(helm_offline, "--set", "dashboard.serviceAccount.create=false,"
                  "dashboard.serviceAccount.name=mine,dashboard.service.enabled=false")
    assert not component(objs, "ServiceAccount", "dashboard") and not by_kind(objs, "Service")
    assert dashboard_of(objs)["spec"]["template"]["spec"]["serviceAccountName"] == "mine"
    assert component(objs, "ClusterRoleBinding", "dashboard")[0]["subjects"][0]["name"] == "mine"


def test_helm_template_dashboard_host_network(helm_offline):
    """dashboard.hostNetwork, as the test node needs: the node's network, no
    declared port, probes by number on the listen address, one replica per
    node and a rollout that frees the port first; the API server's address
    the operator gets (kubernetesService); still "restricted" otherwise."""
    objs = render(helm_offline, "--set",
                  "dashboard.hostNetwork=true,dashboard.listenAddr=127.0.0.1,dashboard.port=18088,"
                  "kubernetesService.host=127.0.0.1,kubernetesService.port=6443,"
                  "dashboard.extraArgs[0]=--refresh=1s")
    d = dashboard_of(objs)
    pod = d["spec"]["template"]["spec"]
    assert pod["hostNetwork"] is True
    assert pod["dnsPolicy"] == "ClusterFirstWithHostNet"
    assert d["spec"]["strategy"] == {"type": "RollingUpdate",
                                     "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}
    assert pod["affinity"]["podAntiAffinity"] == {
        "requiredDuringSchedulingIgnoredDuringExecution": [{
            "topologyKey": "kubernetes.io/hostname",
            "labelSelector": {"matchLabels": d["spec"]["selector"]["matchLabels"]}}]}
    (c,) = pod["containers"]
    assert "ports" not in c
    assert c["args"] == ["--listen-addr", "127.0.0.1", "--port", "18088", "--refresh=1s"]
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        assert c[probe]["httpGet"] == {"path": path, "port": 18088, "host": "127.0.0.1"}
    env = env_of(d)
    assert env["KUBERNETES_SERVICE_HOST"] == "127.0.0.1"
    assert env["KUBERNETES_SERVICE_PORT"] == "6443"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    (svc,) = by_kind(objs, "Service")
    assert svc["spec"]["ports"][0]["targetPort"] == 18088
    # The operator's own hostNetwork is its own.
    assert "hostNetwork" not in operator_of(objs)["spec"]["template"]["spec"]

    # dashboard.extraEnv replaces a variable of the chart's in place.
    objs = render(helm_offline, "--set", "dashboard.extraEnv[0].name=SLUICE_LOG_LEVEL,"
                  "dashboard.extraEnv[0].value=warn,dashboard.extraEnv[1].name=X,"
                  "dashboard.extraEnv[1].value=y")
    env = dashboard_of(objs)["spec"]["template"]["spec"]["containers"][0]["env"]
    assert [e["name"] for e in env] == ["POD_NAME", "POD_NAMESPACE", "POD_IP",
                                        "SLUICE_LOG_LEVEL", "SLUICE_KAFKA_BOOTSTRAP", "X"]
    assert env[3]["value"] == "warn"
    # The operator's defaults for resources that name no store of their own.
    objs = render(helm_offline, "--set", "kafka.bootstrap=k:9092,redis.addr=r:6379,"
                  "postgres.secretName=pg")
    env = env_of(dashboard_of(objs))
    assert env["SLUICE_KAFKA_BOOTSTRAP"] == env_of(operator_of(objs))["SLUICE_KAFKA_BOOTSTRAP"] \
        == "k:9092"
    assert env["SLUICE_REDIS_ADDR"] == "r:6379"
    assert env["SLUICE_POSTGRES_SECRET"] == "pg"


def test_helm_template_grafana_dashboards(helm_offline):
    """grafana.dashboards.enabled: the chart's dashboards/*.json, unchanged,
    in a ConfigMap with the label Grafana's sidecar looks for."""
    assert not by_kind(render(helm_offline), "ConfigMap")
    objs = render(helm_offline, "--set", "grafana.dashboards.enabled=true")
    (cm,) = by_kind(objs, "ConfigMap")
    assert cm["metadata"]["namespace"] == "sluice-system"
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    files = sorted(p.name for p in (CHART / "dashboards").glob("*.json"))
    assert sorted(cm["data"]) == files == ["sluice.json"]
    assert json.loads(cm["data"]["sluice.json"]) == json.loads(GRAFANA.read_text())
    objs = render(helm_offline, "--set", "grafana.dashboards.enabled=true,"
                  "grafana.dashboards.namespace=monitoring,grafana.dashboards.label=dash,"
                  "grafana.dashboards.labelValue=sluice,"
                  "grafana.dashboards.annotations.grafana_folder=Sluice")
    (cm,) = by_kind(objs, "ConfigMap")
    assert cm["metadata"]["namespace"] == "monitoring"
    assert cm["metadata"]["labels"]["dash"] == "sluice"
    assert "grafana_dashboard" not in cm["metadata"]["labels"]
    assert cm["metadata"]["annotations"] == {"grafana_folder": "Sluice"}


GRAFANA = CHART / "dashboards" / "sluice.json"
SOURCES = [ROOT / "lib", ROOT / "operator", ROOT / "workers"]


def grafana_exprs():
    dash = json.loads(GRAFANA.read_text())
    return [(p["title"], t["expr"]) for p in dash["panels"] for t in p.get("targets", [])]


def test_grafana_dashboard_is_well_formed():
    """Panels with unique ids that do not overlap, every query on the
    dashboard's data source variable; the namespace variable filters."""
    dash = json.loads(GRAFANA.read_text())
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    cells = set()
    for p in dash["panels"]:
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24, p["title"]
        mine = {(g["x"] + i, g["y"] + j) for i in range(g["w"]) for j in range(g["h"])}
        assert not mine & cells, f"panel {p['title']!r} overlaps another"
        cells |= mine
        if p["type"] != "row":
            assert p["datasource"]["uid"] == "${datasource}", p["title"]
            assert p["targets"], p["title"]
    names = [v["name"] for v in dash["templating"]["list"]]
    assert names == ["datasource", "namespace"]
    assert len(grafana_exprs()) >= 25


def test_grafana_dashboard_metric_names_exist_in_the_source():
    """Every metric a panel queries is one Sluice registers: its name (a
    histogram's without _bucket, _sum, _count) is a string in the C source
    of lib/, operator/ or workers/. tests/e2e/test_dashboard.py reads them
    from live /metrics too."""
    source = "\n".join(p.read_text() for d in SOURCES for p in d.rglob("*.c"))
    registered = set(re.findall(r'"((?:sluice|rest_client|process)_[a-z0-9_]+)"', source))
    used = {m for _, e in grafana_exprs()
            for m in re.findall(r"\b((?:sluice|rest_client|process)_[a-z0-9_]+)\b", e)}
    assert len(used) >= 30, used

    def known(name):
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        return name in registered or (base != name and base in registered)
    assert sorted(n for n in used if not known(n)) == []
    # Each part of Sluice has panels: the operator, the autoscaler, both workers.
    for prefix in ("sluice_operator_", "sluice_autoscaler_", "sluice_leader", "sluice_tw_",
                   "sluice_vj_"):
        assert [n for n in used if n.startswith(prefix)], prefix


def test_helm_template_workers_podmonitor(helm_offline):
    """workers.podMonitor: the worker pods as the operator labels them
    (operator/children.c), in every namespace or the watched one, on the
    pod's IP and the workers' metrics port, labelled with the resource."""
    assert not [p for p in by_kind(render(helm_offline, "--set", "podMonitor.enabled=true"),
                                   "PodMonitor") if p["metadata"]["name"].endswith("-workers")]
    objs = render(helm_offline, "--set", "workers.podMonitor.enabled=true,"
                  "workers.podMonitor.labels.release=prom")
    (pm,) = by_kind(objs, "PodMonitor")
    assert pm["metadata"]["name"] == "sluice-workers"
    assert pm["metadata"]["labels"]["release"] == "prom"
    sel = pm["spec"]["selector"]["matchLabels"]
    assert sel == {"app.kubernetes.io/name": "sluice-worker",
                   "app.kubernetes.io/managed-by": "sluice-operator"}
    children = (ROOT / "operator" / "children.c").read_text() + \
        (ROOT / "operator" / "children.h").read_text()
    assert '"app.kubernetes.io/name", "sluice-worker"' in children
    assert '#define CHILDREN_MANAGED_BY "sluice-operator"' in children
    assert pm["spec"]["namespaceSelector"] == {"any": True}
    (ep,) = pm["spec"]["podMetricsEndpoints"]
    # The container port the operator declares on every worker off the host
    # network (operator/children.c).
    assert ep["path"] == "/metrics" and ep["port"] == "metrics"
    assert {"sourceLabels": ["__meta_kubernetes_pod_label_app_kubernetes_io_instance"],
            "targetLabel": "resource"} in ep["relabelings"]
    # The workers' default port is 9090 (workers/main.c).
    assert 'APP_COMMON_OPTIONS("9090")' in (ROOT / "workers" / "main.c").read_text()

    objs = render(helm_offline, "--set", "workers.podMonitor.enabled=true,watchNamespace=apps,"
                  "podMonitor.enabled=true")
    pms = {p["metadata"]["name"]: p for p in by_kind(objs, "PodMonitor")}
    assert sorted(pms) == ["sluice-operator", "sluice-workers"]
    assert pms["sluice-workers"]["spec"]["namespaceSelector"] == {"matchNames": ["apps"]}
    # The operator's keeps the autoscaler's namespace label as it is.
    assert pms["sluice-operator"]["spec"]["podMetricsEndpoints"][0]["honorLabels"] is True


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
    for crd in CRD_NAMES:
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
    # The dashboard: its account, read-only ClusterRole, Deployment, Service.
    for kind in ("serviceaccount", "deployment", "service"):
        kubectl(stack, "-n", "sluice-system", "get", kind, "sluice-dashboard")
    kubectl(stack, "get", "clusterrole", "sluice-dashboard")
    kubectl(stack, "get", "clusterrolebinding", "sluice-dashboard")
    # `kubectl apply -f crds/` still sees only the CRDs (crds/Kustomization
    # has no .yaml extension on purpose).
    out = kubectl(stack, "apply", "--dry-run=server", "-f", str(ROOT / "crds")).stdout
    names = sorted(line.split()[0] for line in out.splitlines() if line.strip())
    assert names == [f"customresourcedefinition.apiextensions.k8s.io/{n}" for n in CRD_NAMES], out


@pytest.mark.parametrize("deployment", ["sluice-operator", "sluice-dashboard"])
def test_pods_pass_restricted_pod_security(installed_manifests, deployment):
    """The namespace enforces the "restricted" Pod Security Standard; a pod
    made from the operator's or the dashboard's Deployment template is
    admitted by the real admission plugin, and the same pod running as root
    is refused."""
    stack = installed_manifests
    d = json.loads(kubectl(stack, "-n", "sluice-system", "get", "deployment", deployment,
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


# (verb, resource, flags) the operator needs / must not have (docs/contracts.md §5).
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
    ("list", "pods", ["-n", "default"]),
    # An NVENC VideoJob's check that some node has nvidia.com/gpu.
    ("list", "nodes", []),
    ("get", "nodes", []),
    ("create", "leases.coordination.k8s.io", ["-n", "sluice-system"]),
    ("update", "leases.coordination.k8s.io", ["-n", "sluice-system"]),
    # A VideoWatch: its old VideoJobs deleted by the history limits, and its
    # watcher's ServiceAccount, Role (to create VideoJobs, which only a
    # holder of that right may grant), RoleBinding and upload Service.
    ("create", "videojobs.sluice.dev", ["-n", "default"]),
    ("delete", "videojobs.sluice.dev", ["-n", "default"]),
    ("watch", "videowatches.sluice.dev", ["-A"]),
    ("patch", "videowatches.sluice.dev", ["--subresource=status", "-n", "default"]),
    ("create", "roles.rbac.authorization.k8s.io", ["-n", "default"]),
    ("create", "rolebindings.rbac.authorization.k8s.io", ["-n", "default"]),
    ("create", "serviceaccounts", ["-n", "default"]),
    ("create", "services", ["-n", "default"]),
    # The Secrets a resource's spec.kafka.tls/sasl names, read one by one for
    # the operator's own Kafka clients (docs/kafka-security.md).
    ("get", "secrets", ["-n", "default"]),
]
DENIED = [
    ("list", "secrets", ["-A"]),
    ("watch", "secrets", ["-n", "default"]),
    ("create", "secrets", ["-n", "default"]),
    ("delete", "namespaces", []),
    ("create", "leases.coordination.k8s.io", ["-n", "default"]),
    ("delete", "leases.coordination.k8s.io", ["-n", "sluice-system"]),
    ("create", "telemetrywindows.sluice.dev", ["-n", "default"]),
    ("delete", "telemetrywindows.sluice.dev", ["-n", "default"]),
    ("create", "videowatches.sluice.dev", ["-n", "default"]),
    ("delete", "videowatches.sluice.dev", ["-n", "default"]),
    ("create", "clusterrolebindings.rbac.authorization.k8s.io", []),
    ("create", "pods", ["-n", "default"]),
    ("delete", "pods", ["-n", "default"]),
    ("watch", "pods", ["-A"]),
    ("create", "clusterroles.rbac.authorization.k8s.io", []),
    ("update", "customresourcedefinitions.apiextensions.k8s.io", []),
    ("patch", "nodes", []),
    ("watch", "nodes", []),
    ("delete", "nodes", []),
    ("update", "nodes", ["--subresource=status"]),
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


# What the dashboard's ServiceAccount may do: read, never write.
DASHBOARD_SA = "system:serviceaccount:sluice-system:sluice-dashboard"
DASHBOARD_ALLOWED = [
    ("list", "videojobs.sluice.dev", ["-A"]),
    ("watch", "telemetrywindows.sluice.dev", ["-A"]),
    ("get", "videowatches.sluice.dev", ["-n", "default"]),
    ("list", "videowatches.sluice.dev", ["-A"]),
    ("get", "videojobs.sluice.dev", ["--subresource=status", "-n", "default"]),
    ("get", "telemetrywindows.sluice.dev", ["--subresource=status", "-n", "default"]),
    ("get", "secrets", ["-n", "default"]),
    ("list", "pods", ["-n", "default"]),
    ("list", "deployments.apps", ["-A"]),
]
DASHBOARD_DENIED = [
    ("create", "videojobs.sluice.dev", ["-n", "default"]),
    ("update", "videojobs.sluice.dev", ["-n", "default"]),
    ("patch", "telemetrywindows.sluice.dev", ["--subresource=status", "-n", "default"]),
    ("delete", "videowatches.sluice.dev", ["-n", "default"]),
    ("list", "secrets", ["-A"]),
    ("watch", "secrets", ["-n", "default"]),
    ("create", "secrets", ["-n", "default"]),
    ("create", "pods", ["-n", "default"]),
    ("delete", "pods", ["-n", "default"]),
    ("get", "pods", ["--subresource=log", "-n", "default"]),
    ("patch", "deployments.apps", ["-n", "default"]),
    ("update", "deployments.apps", ["--subresource=scale", "-n", "default"]),
    ("create", "configmaps", ["-n", "default"]),
    ("create", "leases.coordination.k8s.io", ["-n", "sluice-system"]),
    ("list", "nodes", []),
]


@pytest.mark.parametrize("verb,resource,flags", DASHBOARD_ALLOWED,
                         ids=lambda x: x if isinstance(x, str) else None)
def test_rbac_allows_what_the_dashboard_reads(installed_manifests, verb, resource, flags):
    assert can_i(installed_manifests, DASHBOARD_SA, verb, resource, flags) == "yes"


@pytest.mark.parametrize("verb,resource,flags", DASHBOARD_DENIED,
                         ids=lambda x: x if isinstance(x, str) else None)
def test_rbac_denies_the_dashboard_any_write(installed_manifests, verb, resource, flags):
    assert can_i(installed_manifests, DASHBOARD_SA, verb, resource, flags) == "no"


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
    assert can_i(stack, sa, "get", "secrets", ["-n", ns]) == "yes"
    assert can_i(stack, sa, "get", "secrets", ["-n", "default"]) == "no"
    assert can_i(stack, sa, "list", "secrets", ["-n", ns]) == "no"
    assert can_i(stack, sa, "list", "nodes", []) == "no"
    assert can_i(stack, sa, "create", "leases.coordination.k8s.io", ["-n", ns]) == "yes"
    # The dashboard's account reads that namespace only, and writes nothing.
    dash = f"system:serviceaccount:{ns}:{name}-sluice-dashboard"
    kubectl(stack, "-n", ns, "get", "service", f"{name}-sluice-dashboard")
    assert can_i(stack, dash, "list", "videojobs.sluice.dev", ["-n", ns]) == "yes"
    assert can_i(stack, dash, "get", "secrets", ["-n", ns]) == "yes"
    assert can_i(stack, dash, "get", "secrets", ["-n", "default"]) == "no"
    assert can_i(stack, dash, "list", "videojobs.sluice.dev", ["-A"]) == "no"
    assert can_i(stack, dash, "patch", "videojobs.sluice.dev", ["-n", ns]) == "no"
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
    assert can_i(stack, sa, "list", "nodes", []) == "yes"
    assert can_i(stack, sa, "patch", "nodes", []) == "no"
    assert can_i(stack, sa, "create", "leases.coordination.k8s.io", ["-n", ns]) == "yes"
    assert can_i(stack, sa, "get", "secrets", ["-A"]) == "yes"  # kafka.tls/sasl references
    assert can_i(stack, sa, "list", "secrets", ["-A"]) == "no"
    listed = helm("list", "-n", ns, "-o", "json").stdout
    assert json.loads(listed)[0]["status"] == "deployed"
    # An upgrade changes the Deployment in place (revision 2).
    helm("upgrade", release, str(CHART), "-n", ns, "--reuse-values", "--set",
         "logLevel=debug,leaderElection.leaseDuration=20s")
    d = json.loads(kubectl(stack, "-n", ns, "get", "deployment", fullname, "-o", "json").stdout)
    env = {e["name"]: e.get("value") for e in d["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["SLUICE_LOG_LEVEL"] == "debug" and env["SLUICE_LEASE_DURATION"] == "20s"
    assert json.loads(helm("list", "-n", ns, "-o", "json").stdout)[0]["revision"] == "2"
    # The dashboard (on by default) with its own account, read only.
    dash = f"{release}-dashboard"
    kubectl(stack, "-n", ns, "get", "deployment", dash)
    kubectl(stack, "-n", ns, "get", "service", dash)
    dash_sa = f"system:serviceaccount:{ns}:{dash}"
    assert can_i(stack, dash_sa, "watch", "videojobs.sluice.dev", ["-A"]) == "yes"
    assert can_i(stack, dash_sa, "patch", "videojobs.sluice.dev", ["-A"]) == "no"
    helm("uninstall", release, "-n", ns)
    assert kubectl(stack, "-n", ns, "get", "deployment", fullname, check=False).returncode != 0
    assert kubectl(stack, "get", "clusterrole", fullname, check=False).returncode != 0
    assert kubectl(stack, "-n", ns, "get", "deployment", dash, check=False).returncode != 0
    assert kubectl(stack, "get", "clusterrole", dash, check=False).returncode != 0
    # CRDs are never removed by helm (its crds/ rule): resources survive.
    kubectl(stack, "get", "crd", "videojobs.sluice.dev")


# ---------------------------------------------------------------- the chart on the node


def test_helm_install_on_the_node(stack, helm, node, ns):
    """The chart as a user installs it on a single node without a pod
    network: the operator's pods on the host network, each on a free port
    its exec probes read, two replicas, one leader; the leader's pod deleted
    (gracefully, then forced) hands the Lease over within its duration;
    upgrade rolls them; uninstall leaves nothing, not even the Lease."""
    release = f"node-{ns[-8:]}"
    fullname = f"{release}-operator"
    port = stack["KUBE_APISERVER"].rsplit(":", 1)[1]
    helm("install", release, str(CHART), "-n", ns, "--set",
         ",".join([f"watchNamespace={ns}", "replicaCount=2", "hostNetwork=true",
                   "metrics.addr=127.0.0.1", "metrics.port=0", "workers.hostNetwork=true",
                   "kubernetesService.host=127.0.0.1", f"kubernetesService.port={port}",
                   "image.operator.pullPolicy=Never", "image.worker.pullPolicy=Never",
                   "leaderElection.leaseDuration=4s", "leaderElection.renewDeadline=3s",
                   "leaderElection.retryPeriod=500ms", "logLevel=debug",
                   # The dashboard on the node: test_helm_install_dashboard_on_the_node.
                   "dashboard.enabled=false"]))
    sel = f"app.kubernetes.io/instance={release},app.kubernetes.io/component=operator"

    def ready_pods():
        items = json.loads(kubectl(stack, "-n", ns, "get", "pods", "-l", sel, "-o", "json")
                           .stdout)["items"]
        ready = [p for p in items if p["metadata"].get("deletionTimestamp") is None and any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in p["status"].get("conditions", []))]
        return ready if len(ready) == 2 else None

    def holder():
        p = kubectl(stack, "-n", ns, "get", "lease", "sluice-operator", "-o", "json", check=False)
        return json.loads(p.stdout)["spec"].get("holderIdentity") if p.returncode == 0 else None

    pods = wait_for("two operator pods Ready", ready_pods, timeout=120)
    names = {p["metadata"]["name"] for p in pods}
    leader = wait_for("one of them leading", lambda: holder() in names and holder(), timeout=30)

    # As the chart promises: uid and gid 65532, a root filesystem it cannot
    # write (seen from the host: the image has no shell to ask).
    assert_locked_down(stack, next(p for p in pods if p["metadata"]["name"] == leader))
    # Its logs are JSON lines.
    logs = kubectl(stack, "-n", ns, "logs", leader).stdout.splitlines()
    assert logs and all(json.loads(line)["msg"] for line in logs[:20])

    # The leader goes, gracefully (it releases the Lease), then by force
    # (the Lease runs out): the other pod leads within the lease duration.
    for force in (False, True):
        args = ["--grace-period=0", "--force"] if force else []
        kubectl(stack, "-n", ns, "delete", "pod", leader, "--wait=false", *args)
        t0 = time.monotonic()
        new = wait_for(f"a new leader after deleting {leader} (force={force})",
                       lambda: holder() not in (None, leader) and holder(), timeout=15)
        # Gracefully the Lease is released at once; by force it runs out
        # (4 s) after the kubelet has killed the container (its watch sees
        # the deletion within a second or two), plus a retry period.
        bound = 4 + 3 + (3 if force else 0)
        assert time.monotonic() - t0 < bound, "takeover within the lease duration (+retry)"
        leader = new
        wait_for("two operator pods Ready again", ready_pods, timeout=120)

    # An upgrade rolls both pods (one at a time on one host network).
    before = {p["metadata"]["name"] for p in ready_pods()}
    helm("upgrade", release, str(CHART), "-n", ns, "--reuse-values", "--set", "logLevel=info")
    wait_for("both pods replaced by the upgrade",
             lambda: (lambda r: r and not ({p["metadata"]["name"] for p in r} & before))(
                 ready_pods()), timeout=180)

    helm("uninstall", release, "-n", ns, "--wait")
    wait_for("the pods gone", lambda: kubectl(stack, "-n", ns, "get", "pods", "-l", sel, "-o",
                                              "name").stdout.strip() == "", timeout=60)
    assert kubectl(stack, "-n", ns, "get", "deployment", fullname, check=False).returncode != 0
    wait_for("no Lease left", lambda: kubectl(stack, "-n", ns, "get", "lease", "sluice-operator",
                                              check=False).returncode != 0, timeout=30)


def test_helm_install_dashboard_on_the_node(stack, helm, node, ns):
    """The chart's dashboard as a user installs it on a single node without a
    pod network: on the node's network, on a port of its loopback, the API
    server's address given; it becomes Ready (the kubelet's probes on
    /healthz and /readyz), serves its page, and its API lists what its
    ServiceAccount may read, in-cluster, as uid 65532 on a read-only root
    filesystem. Uninstall removes it."""
    release = f"dash-{ns[-8:]}"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    api_port = stack["KUBE_APISERVER"].rsplit(":", 1)[1]
    # No operator replica: nothing acts on the sample VideoJob below.
    helm("install", release, str(CHART), "-n", ns, "--set",
         ",".join([f"watchNamespace={ns}", "replicaCount=0",
                   "kubernetesService.host=127.0.0.1", f"kubernetesService.port={api_port}",
                   "image.worker.pullPolicy=Never",
                   "dashboard.hostNetwork=true", "dashboard.listenAddr=127.0.0.1",
                   f"dashboard.port={port}"]))
    sel = f"app.kubernetes.io/instance={release},app.kubernetes.io/component=dashboard"

    def ready_pod():
        items = json.loads(kubectl(stack, "-n", ns, "get", "pods", "-l", sel, "-o", "json")
                           .stdout)["items"]
        for p in items:
            for cs in p["status"].get("containerStatuses", []):
                why = cs.get("state", {}).get("waiting") or cs.get("lastState", {}).get(
                    "terminated") or {}
                # An image without the binary never starts: say so at once.
                assert "sluice-dashboard" not in why.get("message", ""), \
                    f"the worker image cannot run sluice-dashboard ({why}): make images"
        return next((p for p in items if any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in p["status"].get("conditions", []))), None)

    pod = wait_for("the dashboard's pod Ready", ready_pod, timeout=120)
    assert pod["spec"]["hostNetwork"] is True
    assert_locked_down(stack, pod)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
        assert r.status == 200
        assert "text/html" in r.headers["Content-Type"]
    kubectl(stack, "-n", ns, "apply", "-f", str(ROOT / "manifests" / "samples" / "videojob.yaml"))
    name = yaml.safe_load((ROOT / "manifests" / "samples" / "videojob.yaml").read_text())[
        "metadata"]["name"]

    def listed():
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/videojobs",
                                    timeout=10) as r:
            return name in r.read().decode()
    wait_for("the sample VideoJob in the dashboard's API", listed, timeout=30)
    helm("uninstall", release, "-n", ns, "--wait")
    wait_for("the dashboard's pod gone", lambda: kubectl(
        stack, "-n", ns, "get", "pods", "-l", sel, "-o", "name").stdout.strip() == "", timeout=60)
    assert kubectl(stack, "-n", ns, "get", "deployment", f"{release}-dashboard",
                   check=False).returncode != 0
