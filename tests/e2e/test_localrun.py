"""The stand-in kubelet (tests/e2e/localrun.py) that the pipeline tests and
`make demo` use to run pods as local processes: Deployments' replicas become
processes and follow scaling, Jobs complete or fail by their exit code, and
env from Secrets and ConfigMap volumes reach the process."""
import os
import time

from test_kube import kubectl, namespace, wait_for  # noqa: F401 -- fixture


def pids_of(stack, ns, selector):
    out = kubectl(stack, "-n", ns, "get", "pods", "-l", selector, "-o",
                  "jsonpath={range .items[*]}{.metadata.annotations.sluice\\.dev/local-pid}"
                  "{' '}{.status.phase}{'\\n'}{end}").stdout
    return [int(line.split()[0]) for line in out.splitlines()
            if len(line.split()) == 2 and line.split()[1] == "Running"]


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is not alive: localrun reaps its children, so wait for that.
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split()[2] != "Z"


def test_deployment_replicas_become_processes_and_follow_scaling(stack, localrun, namespace):
    kubectl(stack, "-n", namespace, "create", "deployment", "w", "--image=local",
            "--replicas=3", "--", "sleep", "600")
    pids = wait_for("3 running pods", lambda: (p := pids_of(stack, namespace, "app=w"))
                    and len(p) == 3 and p)
    assert all(alive(p) for p in pids)
    wait_for("deployment available", lambda: kubectl(
        stack, "-n", namespace, "get", "deploy", "w", "-o",
        "jsonpath={.status.availableReplicas}").stdout == "3")

    kubectl(stack, "-n", namespace, "scale", "deployment", "w", "--replicas=1")
    wait_for("two processes stopped", lambda: sum(alive(p) for p in pids) == 1)
    kubectl(stack, "-n", namespace, "delete", "deployment", "w")
    wait_for("all processes stopped", lambda: not any(alive(p) for p in pids))


def test_jobs_complete_or_fail_by_exit_code(stack, localrun, namespace):
    kubectl(stack, "-n", namespace, "create", "job", "ok", "--image=local", "--", "true")
    kubectl(stack, "-n", namespace, "create", "job", "bad", "--image=local", "--", "false")
    wait_for("job ok complete", lambda: kubectl(
        stack, "-n", namespace, "get", "job", "ok", "-o",
        "jsonpath={.status.succeeded}").stdout == "1")
    wait_for("a failed pod of job bad", lambda: kubectl(
        stack, "-n", namespace, "get", "job", "bad", "-o",
        "jsonpath={.status.failed}").stdout not in ("", "0"))
    assert kubectl(stack, "-n", namespace, "get", "job", "bad", "-o",
                   "jsonpath={.status.succeeded}").stdout in ("", "0")


def test_secret_env_and_configmap_volume_reach_the_process(stack, localrun, namespace):
    kubectl(stack, "-n", namespace, "create", "secret", "generic", "creds",
            "--from-literal=dsn=postgresql://u:p@h/db")
    kubectl(stack, "-n", namespace, "create", "configmap", "cfg",
            "--from-literal=config.json={\"a\": 1}")
    manifest = f"""
apiVersion: batch/v1
kind: Job
metadata: {{name: show, namespace: {namespace}}}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      volumes: [{{name: cfg, configMap: {{name: cfg}}}}]
      containers:
      - name: show
        image: local
        command: [sh, -c, 'cat /etc/sluice/config.json; echo; echo "$DSN $POD"']
        volumeMounts: [{{name: cfg, mountPath: /etc/sluice}}]
        env:
        - name: DSN
          valueFrom: {{secretKeyRef: {{name: creds, key: dsn}}}}
        - name: POD
          valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}
"""
    kubectl(stack, "apply", "-f", "-", input=manifest)
    wait_for("job show complete", lambda: kubectl(
        stack, "-n", namespace, "get", "job", "show", "-o",
        "jsonpath={.status.succeeded}").stdout == "1")
    pod = kubectl(stack, "-n", namespace, "get", "pods", "-l", "job-name=show", "-o",
                  "jsonpath={.items[0].metadata.name}").stdout
    deadline = time.time() + 10
    log = localrun / f"{namespace}_{pod}.log"
    while not log.exists() and time.time() < deadline:
        time.sleep(0.2)
    lines = log.read_text().splitlines()
    assert lines == ['{"a": 1}', f"postgresql://u:p@h/db {pod}"]
