"""kube-apiserver, etcd and kube-controller-manager, judged with kubectl: custom
resources are stored and validated, Deployments get ReplicaSets, and
deleting an owner takes its children with it."""
import json
import pathlib
import time

import pytest

from conftest import run

FIXTURES = pathlib.Path(__file__).parent / "fixtures"


def kubectl(stack, *args, check=True, input=None):
    return run(["kubectl", "--kubeconfig", stack["KUBECONFIG"], *args], check=check,
               input=input)


def wait_for(what, fn, timeout=60):
    deadline = time.time() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.time() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.3)


@pytest.fixture
def namespace(stack, unique):
    ns = f"e2e-{unique}"
    kubectl(stack, "create", "namespace", ns)
    yield ns
    kubectl(stack, "delete", "namespace", ns, "--wait=false", check=False)


def test_admin_authenticates_by_token_and_by_client_certificate(stack):
    assert kubectl(stack, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"
                   ).stdout == "sluice-admin"
    assert kubectl(stack, "--context", "sluice-cert", "auth", "whoami", "-o",
                   "jsonpath={.status.userInfo.username}").stdout == "sluice-admin"
    # RBAC is on: an unknown user is refused, not waved through.
    p = kubectl(stack, "get", "pods", "-A", "--as", "nobody", check=False)
    assert p.returncode != 0 and "forbidden" in p.stderr


def test_custom_resource_applied_created_and_read_back(stack, namespace, unique):
    kubectl(stack, "apply", "-f", str(FIXTURES / "crd-widgets.yaml"))
    kubectl(stack, "wait", "--for=condition=Established", "--timeout=60s",
            "crd/widgets.e2e.sluice.dev")
    name = f"w-{unique}"
    kubectl(stack, "apply", "-n", namespace, "-f", "-", input=json.dumps({
        "apiVersion": "e2e.sluice.dev/v1", "kind": "Widget",
        "metadata": {"name": name}, "spec": {"size": 3}}))
    got = json.loads(kubectl(stack, "get", "wdg", name, "-n", namespace, "-o", "json").stdout)
    assert got["spec"] == {"size": 3, "color": "blue"}  # the schema's default applied

    # The schema is enforced: the error names the field.
    p = kubectl(stack, "apply", "-n", namespace, "-f", "-", check=False, input=json.dumps({
        "apiVersion": "e2e.sluice.dev/v1", "kind": "Widget",
        "metadata": {"name": f"bad-{unique}"}, "spec": {"size": 99}}))
    assert p.returncode != 0
    assert "spec.size" in p.stderr


def test_deployment_gets_replicaset_and_cascading_delete(stack, namespace):
    deploy = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "example/none"}]}}}}
    kubectl(stack, "apply", "-n", namespace, "-f", "-", input=json.dumps(deploy))

    def replicasets():
        out = kubectl(stack, "get", "rs", "-n", namespace, "-l", "app=web", "-o", "json").stdout
        return json.loads(out)["items"]

    rs = wait_for("a ReplicaSet from kube-controller-manager", replicasets)
    owner = rs[0]["metadata"]["ownerReferences"][0]
    assert owner["kind"] == "Deployment" and owner["name"] == "web"
    assert rs[0]["spec"]["replicas"] == 2
    # No kubelet runs, but the ReplicaSet controller still creates the Pods.
    wait_for("2 pods", lambda: len(json.loads(kubectl(
        stack, "get", "pods", "-n", namespace, "-o", "json").stdout)["items"]) == 2)

    kubectl(stack, "delete", "deployment", "web", "-n", namespace, "--cascade=background")
    wait_for("the garbage collector to delete the ReplicaSet", lambda: replicasets() == [])
