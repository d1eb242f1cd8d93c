"""spec.sinks.postgres.deleteWithJob on the real node: deleting a VideoJob
that asks for it first runs its purge Job (`sluice-worker purge` in the
worker image, the DSN by secretKeyRef), which deletes the job's plan,
segment and frame rows from PostgreSQL; then the finalizer goes and the
VideoJob with it. A job without the flag keeps its rows. A purge that
cannot reach its database fails its Job, and the VideoJob goes anyway, with
a PurgeFailed Warning naming the failure (a broken database never blocks a
deletion).

The operator runs as a process (test_operator's Operator; SLUICE_OPERATOR
names another binary), the worker pods from the stack's worker image, which
must hold the purge mode: rebuild and import the images first
(`make images && tests/e2e/stack.sh import`, under the e2e lock).

Needs the whole stack with its node (make stack-up, as root).
"""
import json
import os
import pathlib
import tempfile

import pytest

import test_operator
from conftest import ROOT, run
from test_autoscale import WORKER_UID, frame_rows, hostpath_claim, make_clip, succeeded, vj_manifest
from test_operator import Operator, exists, get, kubectl, reasons, wait_for, events


@pytest.fixture(scope="module")
def purger(stack, node):
    kubectl(stack, "apply", "-f", str(ROOT / "crds"))
    kubectl(stack, "wait", "--for=condition=Established", "--timeout=60s",
            "crd/videojobs.sluice.dev")
    lease_ns = f"pg-lease-{os.getpid()}"
    kubectl(stack, "create", "namespace", lease_ns)
    saved = test_operator.OPERATOR
    test_operator.OPERATOR = pathlib.Path(os.environ.get("SLUICE_OPERATOR", str(saved)))
    try:
        with tempfile.TemporaryDirectory(prefix="sluice-purge-") as d:
            o = Operator(stack, d, lease_ns, name="purger",
                         extra=["--worker-image", stack["SLUICE_WORKER_IMAGE"],
                                "--worker-image-pull-policy", "Never", "--worker-host-network",
                                "--kafka-bootstrap", stack["KAFKA_BOOTSTRAP"],
                                "--postgres-secret", "pg"])
            o.start()
            yield o
            o.stop()
    finally:
        test_operator.OPERATOR = saved
        kubectl(stack, "delete", "namespace", lease_ns, "--wait=false", check=False)


@pytest.fixture
def ns(stack, unique):
    name = f"pg-{unique}"
    kubectl(stack, "create", "namespace", name)
    kubectl(stack, "-n", name, "create", "secret", "generic", "pg",
            f"--from-literal=dsn={stack['PG_DSN']}")
    yield name
    kubectl(stack, "delete", "namespace", name, "--wait=false", check=False)


def rows(stack, job):
    """(frame rows, segment rows, job rows) of job in PostgreSQL."""
    out = run(["psql", stack["PG_DSN"], "-Atc",
               f"SELECT (SELECT count(*) FROM video_frames WHERE job = '{job}'),"
               f" (SELECT count(*) FROM video_segments WHERE job = '{job}'),"
               f" (SELECT count(*) FROM video_jobs WHERE job = '{job}')"]).stdout.strip()
    return tuple(int(x) for x in out.split("|"))


def with_purge(vj, secret="pg"):
    vj["spec"]["sinks"] = {"postgres": {"dsn": {"name": secret, "key": "dsn"},
                                        "deleteWithJob": True}}
    return vj


def test_delete_with_job_purges_the_rows_and_others_keep_theirs(stack, purger, ns):
    vol = hostpath_claim(stack, ns, "videos")
    (vol / "out").mkdir()
    os.chown(vol / "out", WORKER_UID, WORKER_UID)
    make_clip(vol / "in.mp4", 4)
    kubectl(stack, "apply", "-f", "-",
            input=json.dumps(with_purge(vj_manifest(stack, "gone", ns, "gone.mp4"))))
    kubectl(stack, "apply", "-f", "-", input=json.dumps(vj_manifest(stack, "kept", ns, "kept.mp4")))
    for name in ("gone", "kept"):
        st = wait_for(f"the VideoJob {name} to succeed",
                      lambda name=name: succeeded(stack, ns, name), timeout=240)
        assert st["framesDone"] == 100
        assert rows(stack, f"{ns}/{name}") == (100, 2, 1)

    kubectl(stack, "delete", "vj", "gone", "-n", ns, "--wait=false")
    wait_for("the VideoJob gone", lambda: not exists(stack, "vj", "gone", ns), timeout=180,
             interval=0.5)
    assert rows(stack, f"{ns}/gone") == (0, 0, 0)
    r = reasons(stack, ns, "gone")
    assert "PurgeStarted" in r and "Purged" in r, r
    assert "PurgeFailed" not in r, r
    wait_for("the purge Job deleted", lambda: not exists(stack, "job", "gone-purge", ns))

    kubectl(stack, "delete", "vj", "kept", "-n", ns, "--wait=false")
    wait_for("the VideoJob kept gone", lambda: not exists(stack, "vj", "kept", ns), timeout=60)
    assert rows(stack, f"{ns}/kept") == (100, 2, 1)
    assert "PurgeStarted" not in reasons(stack, ns, "kept")
    assert frame_rows(stack, f"{ns}/kept") == (100, 100)
    # Not this test's to keep.
    run(["psql", stack["PG_DSN"], "-Atc",
         f"DELETE FROM video_frames WHERE job = '{ns}/kept';"
         f" DELETE FROM video_jobs WHERE job = '{ns}/kept'"])


def test_a_purge_that_fails_does_not_block_the_deletion(stack, purger, ns):
    # A database that refuses connections: split fails (the job is Failed),
    # and so does every try of the purge.
    kubectl(stack, "-n", ns, "create", "secret", "generic", "pgbad",
            "--from-literal=dsn=postgresql://postgres@127.0.0.1:1/sluice?connect_timeout=2")
    vol = hostpath_claim(stack, ns, "videos")
    make_clip(vol / "in.mp4", 2)
    kubectl(stack, "apply", "-f", "-", input=json.dumps(
        with_purge(vj_manifest(stack, "broken", ns, "broken.mp4"), secret="pgbad")))
    wait_for("the VideoJob Failed", lambda: (get(stack, "vj", "broken", ns) or {}).get(
        "status", {}).get("phase") == "Failed", timeout=120)

    kubectl(stack, "delete", "vj", "broken", "-n", ns, "--wait=false")
    wait_for("the VideoJob gone", lambda: not exists(stack, "vj", "broken", ns), timeout=240,
             interval=0.5)
    warn = [e for e in events(stack, ns, "broken") if e.get("reason") == "PurgeFailed"]
    assert warn and warn[0]["type"] == "Warning", reasons(stack, ns, "broken")
    note = warn[0].get("note") or warn[0].get("message") or ""
    assert "Job broken-purge failed" in note and "rows stay" in note, note
    assert "127.0.0.1" in note or "BackoffLimitExceeded" in note, note
    # The failed Job stays for its logs (until its TTL).
    job = get(stack, "job", "broken-purge", ns)
    assert job["spec"]["template"]["spec"]["containers"][0]["args"][0] == "purge"
