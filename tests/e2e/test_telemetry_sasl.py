"""Worker pods on the real node reading a secured Kafka (issue 17,
docs/kafka-security.md): the operator (a process, with the worker image
on the stack's node) maps a resource's spec.kafka.tls / spec.kafka.sasl
Secrets to the pods' environment, and the pods' clients use them.

- A TelemetryWindow over SASL_SSL (SCRAM-SHA-512, the stack's CA from a
  Secret): events produced over SASL_SSL with kcat; the PostgreSQL rows and
  the Redis timelines equal the windows computed independently from the
  events (test_telemetry.reference), the late and malformed events reach the
  dead-letter topic (the worker's producer, over SASL_SSL too), the
  operator's lag reader sees the group drained, and the worker pod ran on
  the node without a restart.
- The same with mutual TLS (tls.ca, tls.cert, tls.key; no SASL) on the
  stack's MTLS listener.
- A VideoJob over SASL_SSL: split, process and assemble pods publish and
  read their tasks through the SASL_SSL listener; every frame is done once.

Needs the whole stack with its node and its security listeners
(KAFKA_BOOTSTRAP_SASL_SSL, KAFKA_BOOTSTRAP_MTLS), and the worker image
with the current code imported (make images && tests/e2e/stack.sh import).
"""
import json
import os
import tempfile

import pytest

from conftest import ROOT
from test_autoscale import ffprobe, frame_rows, hostpath_claim, make_clip
from test_kafka_security import consume, mtls_args, produce, sasl_args
from test_kafka_security_operator import secret, secure  # noqa: F401 (fixture)
from test_operator import Operator, cond, get, kubectl, wait_for
from test_telemetry import BASE, check_rows, expected_rows, make_events, pg_count, pg_rows, \
    json_event, redis, reference

SIZE_MS, DELAY_MS = 2000, 1000


@pytest.fixture(scope="module")
def secop(stack, node):
    """The operator, its worker pods from the stack's worker image on the
    node's network."""
    kubectl(stack, "apply", "-f", str(ROOT / "crds"))
    kubectl(stack, "wait", "--for=condition=Established", "--timeout=60s",
            "crd/telemetrywindows.sluice.dev", "crd/videojobs.sluice.dev")
    lease_ns = f"secop-lease-{os.getpid()}"
    kubectl(stack, "create", "namespace", lease_ns)
    with tempfile.TemporaryDirectory(prefix="sluice-secop-") as d:
        o = Operator(stack, d, lease_ns, name="secop",
                     extra=["--worker-image", stack["SLUICE_WORKER_IMAGE"],
                            "--worker-image-pull-policy", "Never", "--worker-host-network",
                            "--polling-interval", "1s"])
        o.start()
        yield o
        o.stop()
        kubectl(stack, "delete", "namespace", lease_ns, "--wait=false", check=False)


@pytest.fixture(scope="module")
def sns(stack, secure, secop):
    """One namespace for the module, with the Secrets every case uses: the
    PostgreSQL DSN, the CA, the SCRAM user and the client certificate."""
    name = f"sasl-{os.getpid()}"
    kubectl(stack, "create", "namespace", name)
    secret(stack, name, "pg", dsn=stack["PG_DSN"])
    secret(stack, name, "kafka-ca", **{"ca.crt": ("file", secure["KAFKA_CA_PEM"])})
    secret(stack, name, "kafka-creds", username=secure["KAFKA_SASL_USER"],
           password=secure["KAFKA_SASL_PASSWORD"])
    if secure.get("KAFKA_CLIENT_CERT_PEM"):
        kubectl(stack, "create", "secret", "tls", "kafka-client", "-n", name,
                f"--cert={secure['KAFKA_CLIENT_CERT_PEM']}",
                f"--key={secure['KAFKA_CLIENT_KEY_PEM']}")
    yield name
    # While the operator runs: its finalizers delete the topics (over the
    # secured listeners) and the status keys, so the namespace goes away.
    kubectl(stack, "delete", "tw,vj", "--all", "-n", name, "--timeout=60s", check=False,
            timeout=90)
    kubectl(stack, "delete", "namespace", name, "--wait=false", check=False)


def ref(name):
    return {"name": name[0], "key": name[1]}


SASL = {"mechanism": "SCRAM-SHA-512", "username": ref(("kafka-creds", "username")),
        "password": ref(("kafka-creds", "password"))}


def stream(seed):
    """A few seconds of events over three keys, one late (event time 0.2 s
    once the watermark passed 2 s): (events, the late one's index)."""
    events = make_events(seed, 40, 100, ["d0", "d1", "d2"])
    at = next(i for i, e in enumerate(events) if e[0] >= BASE + 3500)
    events.insert(at, (BASE + 200, "d1", {"temp": 1.5, "hum": 2.5}))
    return events


def tw_doc(name, ns, bootstrap, topic, table, **security):
    return {"apiVersion": "sluice.dev/v1alpha1", "kind": "TelemetryWindow",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"kafka": {"bootstrap": bootstrap, "topic": topic,
                               "deadLetterTopic": f"{topic}.dlq",
                               "createTopic": {"partitions": 1}, **security},
                     "fields": {"timestamp": "ts", "timestampFormat": "epoch_ms",
                                "keys": ["device"], "values": ["temp", "hum"]},
                     "window": {"size": "2s", "watermarkDelay": "1s", "idleTimeout": "2s"},
                     "sinks": {"postgres": {"dsn": ref(("pg", "dsn")), "table": table}},
                     "workers": {"minReplicas": 1, "maxReplicas": 1}}}


def worker_pods(stack, ns, label):
    return json.loads(kubectl(stack, "get", "pods", "-n", ns, "-l", label,
                              "-o", "json").stdout)["items"]


def ready_true(stack, kind, name, ns):
    obj = get(stack, kind, name, ns, check=False)
    c = cond(obj, "Ready") or {}
    return c.get("status") == "True" and obj


def redis_timeline(stack, ns, name, key):
    """{window start ms: {field: (count, sum, min, max, mean)}} from the
    key's Redis timeline, and the window count of each."""
    out = redis(stack, "ZRANGE", f"sluice:{ns}:{name}:{key}:timeline", "0", "-1",
                "WITHSCORES").splitlines()
    got = {}
    for member, score in zip(out[0::2], out[1::2]):
        w = json.loads(member)
        f = {k: (v["count"], v["sum"], v.get("min"), v.get("max"), v.get("mean"))
             for k, v in w["fields"].items()}
        got[int(score)] = (w["count"], f)
    return got


def run_window(stack, secure, ns, name, bootstrap, client, security):
    """Applies a TelemetryWindow reading BOOTSTRAP with SECURITY, produces
    its events with kcat CLIENT (the same listener), and checks every
    result against the reference. Returns the worker pod."""
    topic, table = f"{name}-{ns}", f"tw_{name}_{os.getpid()}"
    kubectl(stack, "apply", "-f", "-",
            input=json.dumps(tw_doc(name, ns, bootstrap, topic, table, **security)))
    # The operator made the topics over the secured listener, and the pod reads.
    wait_for(f"{name}: Ready True", lambda: ready_true(stack, "tw", name, ns), timeout=90)
    assert cond(get(stack, "tw", name, ns), "TopicReady")["reason"] == "TopicFound"

    events = stream(len(name))
    records = [(k, json_event(ts, k, v)) for ts, k, v in events]
    records.insert(5, ("d9", "not json"))
    produce(client, topic, [f"{k}:{v}" for k, v in records])

    windows, late, dups, _ = reference(events, SIZE_MS, SIZE_MS, DELAY_MS)
    assert len(late) == 1 and dups == 0
    want = expected_rows(windows, ["temp", "hum"])
    resource = f"{ns}/{name}"
    wait_for(f"{len(want)} rows", lambda: pg_count(stack, table, resource) >= len(want),
             timeout=60)
    check_rows(pg_rows(stack, table, resource), want, SIZE_MS)

    # Redis (the operator's default sink): one timeline entry per window.
    for key in ("d0", "d1", "d2"):
        mine = {s: evs for (k, s), evs in windows.items() if k == key}
        got = wait_for(f"{key}'s Redis timeline",
                       lambda key=key: (lambda g: len(g) == len(mine) and g)(
                           redis_timeline(stack, ns, name, key)), timeout=30)
        for start, evs in mine.items():
            count, fields = got[start]
            assert count == len(evs), (key, start)
            for f in ("temp", "hum"):
                vals = [e[f] for e in evs if f in e]
                assert fields[f][0:2] == (len(vals), sum(vals)), (key, start, f, fields[f])
                if vals:
                    assert fields[f][2:4] == (min(vals), max(vals)), (key, start, f)

    # The worker's dead-letter producer, over the same listener: the late
    # event and the malformed one, read back over plaintext.
    plain = ["-b", secure["KAFKA_BOOTSTRAP"]]
    dlq = wait_for("two dead letters", lambda: (lambda d: len(d) >= 2 and d)(
        consume(plain, f"{topic}.dlq")), timeout=30)
    late_event = json_event(BASE + 200, "d1", {"temp": 1.5, "hum": 2.5})
    assert sorted(dlq) == sorted(["d9:not json", f"d1:{late_event}"]), dlq

    # The operator's lag reader (over the secured listener too) sees the
    # group drained.
    wait_for("status lag 0", lambda: get(stack, "tw", name, ns)["status"].get("lag") == 0,
             timeout=30)

    pods = worker_pods(stack, ns, f"sluice.dev/telemetrywindow={name}")
    assert len(pods) == 1, [p["metadata"]["name"] for p in pods]
    pod = pods[0]
    assert pod["spec"]["nodeName"] == stack["SLUICE_NODE"]
    assert pod["status"]["phase"] == "Running"
    cs = pod["status"]["containerStatuses"][0]
    assert cs["restartCount"] == 0 and "running" in cs["state"], cs
    return pod


def env_refs(pod):
    return {e["name"]: e["valueFrom"]["secretKeyRef"]
            for e in pod["spec"]["containers"][0]["env"] if "valueFrom" in e and
            "secretKeyRef" in e["valueFrom"]}


def test_telemetry_window_over_sasl_ssl_matches_the_reference(stack, secure, sns):
    security = {"tls": {"ca": ref(("kafka-ca", "ca.crt"))}, "sasl": SASL}
    pod = run_window(stack, secure, sns, "scram", secure["KAFKA_BOOTSTRAP_SASL_SSL"],
                     sasl_args(secure, "SCRAM-SHA-512"), security)
    refs = env_refs(pod)
    assert refs["SLUICE_SECRET_KAFKA_CREDS_PASSWORD"] == {"name": "kafka-creds", "key": "password"}
    assert refs["SLUICE_SECRET_KAFKA_CA_CA_CRT"] == {"name": "kafka-ca", "key": "ca.crt"}
    # No credential is written anywhere but the Secret.
    cm = json.dumps(get(stack, "configmap", "scram-config", sns))
    assert secure["KAFKA_SASL_PASSWORD"] not in cm
    assert secure["KAFKA_SASL_PASSWORD"] not in json.dumps(pod)


def test_telemetry_window_over_mutual_tls_matches_the_reference(stack, secure, sns):
    if not secure.get("KAFKA_BOOTSTRAP_MTLS"):
        pytest.skip("the stack has no MTLS listener")
    security = {"tls": {"ca": ref(("kafka-ca", "ca.crt")), "cert": ref(("kafka-client", "tls.crt")),
                        "key": ref(("kafka-client", "tls.key"))}}
    pod = run_window(stack, secure, sns, "mtls", secure["KAFKA_BOOTSTRAP_MTLS"], mtls_args(secure),
                     security)
    assert set(env_refs(pod)) >= {"SLUICE_SECRET_KAFKA_CLIENT_TLS_CRT",
                                  "SLUICE_SECRET_KAFKA_CLIENT_TLS_KEY"}


def test_videojob_over_sasl_ssl(stack, secure, sns):
    vol = hostpath_claim(stack, sns, "videos")
    (vol / "out").mkdir()
    os.chown(vol / "out", 65532, 65532)
    make_clip(vol / "in.mp4", 4)
    vj = {"apiVersion": "sluice.dev/v1alpha1", "kind": "VideoJob",
          "metadata": {"name": "clip", "namespace": sns},
          "spec": {"source": {"uri": "file:///videos/in.mp4"},
                   "output": {"uri": "file:///videos/out/clip.mp4"},
                   "volume": {"mountPath": "/videos",
                              "persistentVolumeClaim": {"claimName": "videos"}},
                   "segmentSeconds": 2, "analysis": ["meanLuma"],
                   "encoder": {"codec": "libx264", "preset": "ultrafast", "crf": 30},
                   "kafka": {"bootstrap": secure["KAFKA_BOOTSTRAP_SASL_SSL"],
                             "tls": {"ca": ref(("kafka-ca", "ca.crt"))}, "sasl": SASL},
                   "sinks": {"postgres": {"dsn": ref(("pg", "dsn"))}},
                   "workers": {"minReplicas": 1, "maxReplicas": 1}}}
    kubectl(stack, "apply", "-f", "-", input=json.dumps(vj))

    def done():
        st = (get(stack, "vj", "clip", sns) or {}).get("status", {})
        assert st.get("phase") != "Failed", st
        return st.get("phase") == "Succeeded" and st
    st = wait_for("the VideoJob to succeed", done, timeout=180, interval=0.5)
    assert st["segmentsDone"] == st["segmentsTotal"] == 2
    assert st["framesDone"] == st["framesTotal"] == 100
    assert frame_rows(stack, f"{sns}/clip") == (100, 100)
    info = ffprobe(vol / "out" / "clip.mp4", "stream=codec_type,nb_read_frames")
    video = [s for s in info["streams"] if s["codec_type"] == "video"]
    assert int(video[0]["nb_read_frames"]) == 100
