"""Sluice's CustomResourceDefinitions (crds/) on the real kube-apiserver, judged
with kubectl: they become Established, the samples apply, `kubectl get vj,tw`
and `kubectl get sluice` show the printer columns, defaults are written in,
invalid resources are refused with a message naming the field, and status
goes only through the status subresource."""
import copy
import json
import pathlib
import time

import pytest

from conftest import ROOT, run

CRDS = ["videojobs.sluice.dev", "telemetrywindows.sluice.dev"]
SAMPLES = ROOT / "manifests" / "samples"


def kubectl(stack, *args, check=True, input=None):
    return run(["kubectl", "--kubeconfig", stack["KUBECONFIG"], *args], check=check,
               input=input)


@pytest.fixture(scope="module")
def crds(stack):
    for name in CRDS:
        kubectl(stack, "apply", "-f", str(ROOT / "crds" / f"{name}.yaml"))
    for name in CRDS:
        kubectl(stack, "wait", "--for=condition=Established", "--timeout=60s", f"crd/{name}")
    # Established means served; discovery (short names, categories) may lag a moment.
    deadline = time.time() + 30
    while "sluice" not in kubectl(stack, "api-resources", "--categories=sluice", "-o", "name",
                                  check=False).stdout:
        assert time.time() < deadline, "category sluice never showed up in discovery"
        time.sleep(0.3)


@pytest.fixture
def ns(stack, crds, unique):
    name = f"crd-{unique}"
    kubectl(stack, "create", "namespace", name)
    yield name
    kubectl(stack, "delete", "namespace", name, "--wait=false", check=False)


def vj(name, **spec):
    body = {"source": {"uri": "file:///media/in/a.mp4"},
            "output": {"uri": "file:///media/out/a.mp4"},
            "kafka": {"bootstrap": "kafka:9092"}}
    body.update(spec)
    return {"apiVersion": "sluice.dev/v1alpha1", "kind": "VideoJob",
            "metadata": {"name": name}, "spec": body}


def tw(name, **spec):
    body = {"kafka": {"bootstrap": "kafka:9092", "topic": "telemetry"},
            "fields": {"timestamp": "ts", "keys": ["host"], "values": ["temp"]},
            "window": {"size": "60s"}}
    body.update(spec)
    return {"apiVersion": "sluice.dev/v1alpha1", "kind": "TelemetryWindow",
            "metadata": {"name": name}, "spec": body}


def apply(stack, ns, obj, *flags, check=True):
    return kubectl(stack, "apply", "-n", ns, *flags, "-f", "-", input=json.dumps(obj),
                   check=check)


def get(stack, ns, kind, name):
    return json.loads(kubectl(stack, "get", kind, name, "-n", ns, "-o", "json").stdout)


def edit(obj, path, value):
    """A copy of obj with the dotted path set to value (DELETE removes it)."""
    obj = copy.deepcopy(obj)
    keys = path.split(".")
    node = obj
    for k in keys[:-1]:
        node = node.setdefault(k, {})
    if value is DELETE:
        node.pop(keys[-1], None)
    else:
        node[keys[-1]] = value
    return obj


DELETE = object()


def test_crds_established_with_names_and_subresources(stack, crds):
    for name, short, kind in [("videojobs.sluice.dev", "vj", "VideoJob"),
                              ("telemetrywindows.sluice.dev", "tw", "TelemetryWindow")]:
        crd = json.loads(kubectl(stack, "get", "crd", name, "-o", "json").stdout)
        assert crd["spec"]["group"] == "sluice.dev"
        assert crd["spec"]["names"]["kind"] == kind
        assert crd["spec"]["names"]["shortNames"] == [short]
        assert crd["spec"]["names"]["categories"] == ["sluice"]
        (version,) = crd["spec"]["versions"]
        assert version["name"] == "v1alpha1" and version["served"] and version["storage"]
        assert version["subresources"] == {"status": {}}  # no scale: the Deployment is scaled
        conds = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        assert conds["Established"] == "True" and conds["NamesAccepted"] == "True"
        # Structural, so nothing was flagged: a non-structural schema gets this condition.
        assert "NonStructuralSchema" not in conds
    out = kubectl(stack, "api-resources", "--api-group=sluice.dev", "-o", "wide").stdout
    assert "vj" in out and "tw" in out and "sluice" in out


def test_samples_apply_and_list_with_printer_columns(stack, ns):
    kubectl(stack, "apply", "-n", ns, "-f", str(SAMPLES / "videojob.yaml"))
    kubectl(stack, "apply", "-n", ns, "-f", str(SAMPLES / "telemetrywindow.yaml"))

    out = kubectl(stack, "get", "vj,tw", "-n", ns).stdout
    lines = out.splitlines()
    vj_header = next(l for l in lines if l.startswith("NAME") and "PROGRESS" in l)
    assert vj_header.split() == ["NAME", "PHASE", "PROGRESS", "LAG", "REPLICAS", "DESIRED",
                                 "AGE"]
    tw_header = next(l for l in lines if l.startswith("NAME") and "WINDOWS" in l)
    assert tw_header.split() == ["NAME", "PHASE", "LAG", "REPLICAS", "DESIRED", "WINDOWS",
                                 "WATERMARK", "AGE"]
    assert "videojob.sluice.dev/demo" in out
    assert "telemetrywindow.sluice.dev/sensors" in out

    # The category: one command lists both kinds.
    out = kubectl(stack, "get", "sluice", "-n", ns, "-o", "name").stdout.split()
    assert sorted(out) == ["telemetrywindow.sluice.dev/sensors", "videojob.sluice.dev/demo"]

    # -o wide adds the priority-1 columns.
    wide = kubectl(stack, "get", "vj", "-n", ns, "-o", "wide").stdout.splitlines()
    assert wide[0].split() == ["NAME", "PHASE", "PROGRESS", "LAG", "REPLICAS", "DESIRED",
                               "DONE", "SEGMENTS", "CODEC", "SOURCE", "SCALING", "AGE"]
    assert "file:///media/in/big-buck-bunny.mp4" in wide[1] and "libx264" in wide[1]
    wide = kubectl(stack, "get", "tw", "-n", ns, "-o", "wide").stdout.splitlines()
    assert wide[0].split() == ["NAME", "PHASE", "LAG", "REPLICAS", "DESIRED", "WINDOWS",
                               "WATERMARK", "TOPIC", "SIZE", "EVENTS", "SCALING", "AGE"]
    assert "telemetry" in wide[1] and "30s" in wide[1]


def test_videojob_volume_stored_as_written(stack, ns):
    """Any volume source is kept whole (the API server checks it in the pods)."""
    volume = {"mountPath": "/media", "subPath": "team-a",
              "nfs": {"server": "nfs.local", "path": "/exports/media"}}
    apply(stack, ns, vj("nfs", volume=volume))
    assert get(stack, ns, "vj", "nfs")["spec"]["volume"] == volume


def test_videojob_defaults_written_in(stack, ns):
    apply(stack, ns, vj("minimal"))
    spec = get(stack, ns, "vj", "minimal")["spec"]
    assert spec["segmentSeconds"] == 2
    assert spec["analysis"] == ["meanLuma", "motion", "sceneScore"]
    assert spec["encoder"] == {"codec": "libx264", "crf": 23, "preset": "medium"}
    assert spec["workers"] == {"minReplicas": 0, "maxReplicas": 4, "lagThreshold": 2,
                               "activationLagThreshold": 0}
    assert "filters" not in spec and "sinks" not in spec
    # Nested defaults apply inside an object the user gave only partly.
    apply(stack, ns, vj("partial", encoder={"codec": "libx265"},
                        sinks={"postgres": {"dsn": {"name": "s", "key": "k"}}}))
    spec = get(stack, ns, "vj", "partial")["spec"]
    assert spec["encoder"] == {"codec": "libx265", "crf": 23, "preset": "medium"}
    assert spec["sinks"]["postgres"]["table"] == "video_frames"


def test_telemetrywindow_defaults_are_the_workers(stack, ns):
    """The values below are lib/contract/tw_spec.h's defaults (the worker parses the
    same spec); tests/unit/test_crd_tw_spec.c checks them against the C code."""
    apply(stack, ns, tw("minimal", sinks={"redis": {"addr": "redis:6379"},
                                          "influxdb": {"url": "http://influx:8086",
                                                       "database": "d"},
                                          "postgres": {"dsn": {"name": "s", "key": "k"}}}))
    spec = get(stack, ns, "tw", "minimal")["spec"]
    assert spec["format"] == "json"
    assert spec["window"] == {"size": "60s", "watermarkDelay": "10s", "allowedLateness": "0s",
                              "idleTimeout": "30s"}  # slide: the worker defaults it to size
    assert spec["dedupe"] == {"enabled": True, "maxEntries": 262144}
    assert spec["aggregations"] == ["count", "sum", "min", "max", "mean", "p50", "p95", "p99"]
    assert spec["retention"] == {"maxRowsPerKey": 1000, "maxAge": "0s"}
    assert spec["workers"] == {"minReplicas": 1, "maxReplicas": 10, "lagThreshold": 1000,
                               "activationLagThreshold": 0}
    assert spec["sinks"]["redis"] == {"addr": "redis:6379", "ttl": "1h"}
    assert spec["sinks"]["influxdb"] == {"url": "http://influx:8086", "database": "d",
                                         "raw": False, "windows": True, "api": "v1"}
    assert spec["sinks"]["postgres"]["table"] == "telemetry_windows"
    assert "csv" not in spec  # only with format csv
    # The Pod-level fields, as VideoJob has them: stored as written.
    workers = {"image": "registry.local/sluice-worker:0.3", "imagePullPolicy": "IfNotPresent",
               "resources": {"requests": {"cpu": "250m", "memory": "48Mi"},
                             "limits": {"memory": "64Mi", "cpu": 1}},
               "env": [{"name": "SLUICE_LOG_LEVEL", "value": "debug"},
                       {"name": "TZ", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "tz"}}}],
               "nodeSelector": {"disktype": "ssd"},
               "tolerations": [{"key": "video", "operator": "Exists", "effect": "NoSchedule"}],
               "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                   "nodeSelectorTerms": [{"matchExpressions": [
                       {"key": "zone", "operator": "In", "values": ["a"]}]}]}}},
               "serviceAccountName": "video-workers"}
    apply(stack, ns, tw("pod-fields", workers=workers))
    got = get(stack, ns, "tw", "pod-fields")["spec"]["workers"]
    assert {k: got[k] for k in workers} == workers, got


SECRET = {"name": "sinks", "key": "dsn"}

# (what, object, the field the message must name, words it must contain)
INVALID = [
    ("missing source.uri", vj("x", source={}), "spec.source.uri", "Required value"),
    ("missing source", edit(vj("x"), "spec.source", DELETE), "spec.source", "Required value"),
    ("missing kafka.bootstrap", vj("x", kafka={}), "spec.kafka.bootstrap", "Required value"),
    ("ftp source", vj("x", source={"uri": "ftp://h/a.mp4"}), "spec.source.uri", "should match"),
    ("credentials in source URL", vj("x", source={"uri": "https://u:pw@h/a.mp4"}),
     "spec.source.uri", "should match"),
    ("output over source", vj("x", output={"uri": "file:///media/in/a.mp4"}),
     "spec.output.uri", "must differ"),
    ("crf 99", vj("x", encoder={"crf": 99}), "spec.encoder.crf", "less than or equal to 51"),
    ("crf -1", vj("x", encoder={"crf": -1}), "spec.encoder.crf", "greater than or equal to 0"),
    ("unknown codec", vj("x", encoder={"codec": "h264"}), "spec.encoder.codec",
     'Unsupported value: "h264"'),
    ("unknown preset", vj("x", encoder={"preset": "ludicrous"}), "spec.encoder.preset",
     "Unsupported value"),
    ("unknown analysis", vj("x", analysis=["meanLuma", "colour"]), "spec.analysis[1]",
     'Unsupported value: "colour"'),
    ("repeated analysis", vj("x", analysis=["motion", "motion"]), "spec.analysis[1]",
     "Duplicate value"),
    ("segmentSeconds 0", vj("x", segmentSeconds=0), "spec.segmentSeconds",
     "greater than or equal to 1"),
    ("segmentSeconds 61", vj("x", segmentSeconds=61), "spec.segmentSeconds",
     "less than or equal to 60"),
    ("vj minReplicas > maxReplicas", vj("x", workers={"minReplicas": 5, "maxReplicas": 2}),
     "spec.workers.maxReplicas", "must not be below spec.workers.minReplicas"),
    ("vj min above the default max", vj("x", workers={"minReplicas": 5}),
     "spec.workers.maxReplicas", "must not be below spec.workers.minReplicas"),
    ("bad resource quantity", vj("x", workers={"resources": {"limits": {"cpu": "lots"}}}),
     "spec.workers.resources.limits.cpu", "should match"),
    ("plain redis password", vj("x", sinks={"redis": {"addr": "r:6379", "password": "hunter2"}}),
     "spec.sinks.redis.password", "must be of type object"),
    ("plain influx token", vj("x", sinks={"influxdb": {"url": "http://i:8086", "database": "d",
                                                       "token": "s3cret"}}),
     "spec.sinks.influxdb.token", "must be of type object"),
    ("secret ref without key", vj("x", sinks={"postgres": {"dsn": {"name": "s"}}}),
     "spec.sinks.postgres.dsn.key", "Required value"),
    ("bad topic", vj("x", kafka={"bootstrap": "k:9092", "topic": "a topic"}),
     "spec.kafka.topic", "should match"),
    ("source outside the volume", vj("x", volume={"mountPath": "/videos", "hostPath": {"path":
                                                                                   "/v"}}),
     "spec.source.uri", "must name a path under spec.volume.mountPath"),
    ("output outside the volume",
     vj("x", source={"uri": "https://h/a.mp4"},
        volume={"mountPath": "/media/in", "persistentVolumeClaim": {"claimName": "c"}}),
     "spec.output.uri", "must name a path under spec.volume.mountPath"),
    ("a prefix that is not the mount", vj("x", volume={"mountPath": "/med",
                                                       "persistentVolumeClaim": {"claimName": "c"}}),
     "spec.source.uri", "must name a path under spec.volume.mountPath"),
    ("volume without mountPath", vj("x", volume={"hostPath": {"path": "/v"}}),
     "spec.volume.mountPath", "Required value"),
    ("relative mountPath", vj("x", volume={"mountPath": "media", "hostPath": {"path": "/v"}}),
     "spec.volume.mountPath", "should match"),
    ("read-only volume", vj("x", volume={"mountPath": "/media", "readOnly": True,
                                         "hostPath": {"path": "/v"}}),
     "spec.volume.readOnly", "Unsupported value"),
    ("worker env without a name", vj("x", workers={"env": [{"value": "x"}]}),
     "spec.workers.env[0].name", "Required value"),
    ("worker env bad name", tw("x", workers={"env": [{"name": "A B", "value": "x"}]}),
     "spec.workers.env[0].name", "should match"),
    ("bad serviceAccountName", tw("x", workers={"serviceAccountName": "Not_A_Name"}),
     "spec.workers.serviceAccountName", "should match"),

    ("missing window", edit(tw("x"), "spec.window", DELETE), "spec.window", "Required value"),
    ("slide not dividing size", tw("x", window={"size": "60s", "slide": "45s"}),
     "spec.window.slide", "slide 45s does not divide size 60s"),
    ("slide longer than size", tw("x", window={"size": "60s", "slide": "2m"}),
     "spec.window.slide", "slide 2m is longer than size 60s"),
    ("more than 1024 windows", tw("x", window={"size": "60s", "slide": "10ms"}),
     "spec.window.slide", "more than 1024 windows"),
    ("bad duration string", tw("x", window={"size": "60sec"}), "spec.window.size",
     "should match"),
    ("zero size", tw("x", window={"size": "0s"}), "spec.window.size",
     "must be longer than 0s"),
    ("size past 10000h", tw("x", window={"size": "10001h"}), "spec.window.size",
     "at most 10000h"),
    ("bad watermarkDelay", tw("x", window={"size": "60s", "watermarkDelay": "ten seconds"}),
     "spec.window.watermarkDelay", "should match"),
    ("unknown format", tw("x", format="xml"), "spec.format", 'Unsupported value: "xml"'),
    ("unknown aggregation", tw("x", aggregations=["count", "p42"]), "spec.aggregations[1]",
     'Unsupported value: "p42"'),
    ("tw minReplicas > maxReplicas", tw("x", workers={"minReplicas": 9, "maxReplicas": 3}),
     "spec.workers.maxReplicas", "must not be below spec.workers.minReplicas"),
    ("csv without columns", tw("x", format="csv"), "spec.csv", "required when format is csv"),
    ("csv block with json", tw("x", csv={"columns": ["ts"]}), "spec.csv",
     "only used with format csv"),
    ("field not a csv column", tw("x", format="csv", csv={"columns": ["ts", "temp"]}),
     "spec.fields", "must be one of spec.csv.columns"),
    ("no timestamp field", tw("x", fields={"keys": ["host"]}), "spec.fields.timestamp",
     "required unless format is influx"),
    ("timestamp field with influx", tw("x", format="influx"), "spec.fields.timestamp",
     "leave it out"),
    ("bad timestampFormat", tw("x", fields={"timestamp": "ts", "timestampFormat": "iso"}),
     "spec.fields.timestampFormat", "strptime pattern"),
    ("too many keys", tw("x", fields={"timestamp": "ts", "keys": [f"k{i}" for i in range(9)]}),
     "spec.fields.keys", "must have at most 8 items"),
    ("dead-letter topic is the topic",
     tw("x", kafka={"bootstrap": "k:9092", "topic": "t", "deadLetterTopic": "t"}),
     "spec.kafka.deadLetterTopic", "must differ from spec.kafka.topic"),
    ("redis ttl under 1s", tw("x", sinks={"redis": {"addr": "r:6379", "ttl": "500ms"}}),
     "spec.sinks.redis.ttl", "at least 1s"),
    ("redis addr without port", tw("x", sinks={"redis": {"addr": "redis"}}),
     "spec.sinks.redis.addr", "should match"),
    ("influx v2 without token",
     tw("x", sinks={"influxdb": {"url": "http://i:8086", "database": "d", "api": "v2"}}),
     "spec.sinks.influxdb.token", "required when api is v2"),
    ("influx writes nothing",
     tw("x", sinks={"influxdb": {"url": "http://i:8086", "database": "d", "windows": False}}),
     "spec.sinks.influxdb", "nothing to write"),
    ("credentials in influx URL",
     tw("x", sinks={"influxdb": {"url": "http://admin:pw@i:8086", "database": "d"}}),
     "spec.sinks.influxdb.url", "should match"),
    ("plain postgres dsn", tw("x", sinks={"postgres": {"dsn": "postgres://u:pw@db/x"}}),
     "spec.sinks.postgres.dsn", "must be of type object"),
    ("bad table name", tw("x", sinks={"postgres": {"dsn": SECRET, "table": "Drop Table"}}),
     "spec.sinks.postgres.table", "should match"),
    ("dedupe horizon 0s", tw("x", dedupe={"horizon": "0s"}), "spec.dedupe.horizon",
     "must be longer than 0s"),
    ("negative retention", tw("x", retention={"maxRowsPerKey": -1}),
     "spec.retention.maxRowsPerKey", "greater than or equal to 0"),
    # spec.workers.scaling: lib/contract/spec_common.c refuses the same (test_spec_common.c).
    ("pollingInterval 0", tw("x", workers={"scaling": {"pollingInterval": "0s"}}),
     "spec.workers.scaling.pollingInterval", "must be more than 0"),
    ("pollingInterval 0 seconds", vj("x", workers={"scaling": {"pollingInterval": 0}}),
     "spec.workers.scaling.pollingInterval", "must be more than 0"),
    ("cooldownPeriod not a duration", tw("x", workers={"scaling": {"cooldownPeriod": "5 min"}}),
     "spec.workers.scaling.cooldownPeriod", "should match"),
    ("stabilizationWindow over 24h", vj("x", workers={"scaling": {"stabilizationWindow": "25h"}}),
     "spec.workers.scaling.stabilizationWindow", "must be 0 to 24h"),
    ("idle consumers with lag limit",
     tw("x", workers={"scaling": {"allowIdleConsumers": True, "limitToPartitionsWithLag": True}}),
     "spec.workers.scaling.limitToPartitionsWithLag", "cannot be true with allowIdleConsumers"),
    ("idle consumers with Even",
     vj("x", workers={"scaling": {"allowIdleConsumers": True, "partitionDistribution": "Even"}}),
     "spec.workers.scaling.partitionDistribution", "cannot be used with allowIdleConsumers"),
    ("fallback without replicas", tw("x", workers={"scaling": {"fallback": {"failureThreshold": 2}}}),
     "spec.workers.scaling.fallback.replicas", "Required value"),
    ("targetUtilization 101", tw("x", workers={"scaling": {"targetUtilization": 101}}),
     "spec.workers.scaling.targetUtilization", "less than or equal to 100"),
    ("unknown partitionDistribution", vj("x", workers={"scaling": {"partitionDistribution": "Odd"}}),
     "spec.workers.scaling.partitionDistribution", 'Unsupported value: "Odd"'),
]


def test_scaling_settings_stored_as_written(stack, ns):
    """spec.workers.scaling has no defaults (unset: the operator's flags); durations are
    strings or whole seconds, as KEDA writes them."""
    scaling = {"pollingInterval": 30, "stabilizationWindow": "2m", "cooldownPeriod": "0",
               "trendWindow": "1m30s", "scaleUpInterval": "500ms", "persistentLagAfter": 45,
               "fallback": {"replicas": 50, "failureThreshold": 5},
               "allowIdleConsumers": False, "limitToPartitionsWithLag": True,
               "excludePersistentLag": True, "targetDrainSeconds": 120,
               "targetUtilization": 70, "partitionDistribution": "Even"}
    apply(stack, ns, tw("scaled", workers={"maxReplicas": 4, "scaling": scaling}))
    assert get(stack, ns, "tw", "scaled")["spec"]["workers"]["scaling"] == scaling
    apply(stack, ns, vj("scaled", workers={"scaling": {}}))
    assert get(stack, ns, "vj", "scaled")["spec"]["workers"]["scaling"] == {}


@pytest.mark.parametrize("what,obj,field,words", INVALID, ids=[c[0] for c in INVALID])
def test_invalid_resource_refused_naming_the_field(stack, ns, what, obj, field, words):
    p = apply(stack, ns, obj, check=False)
    assert p.returncode != 0, f"{what}: accepted:\n{p.stdout}"
    assert f"{field}:" in p.stderr, f"{what}: the message does not name {field}:\n{p.stderr}"
    assert words in p.stderr, f"{what}: {words!r} not in:\n{p.stderr}"
    # Nothing was stored.
    kind = obj["kind"].lower()
    assert kubectl(stack, "get", kind, "x", "-n", ns, check=False).returncode != 0


def test_plain_password_field_never_stored(stack, ns):
    obj = vj("pw", sinks={"postgres": {"dsn": SECRET, "password": "hunter2"}})
    # kubectl's default field validation (Strict) refuses the unknown field...
    p = apply(stack, ns, obj, check=False)
    assert p.returncode != 0
    assert 'unknown field "spec.sinks.postgres.password"' in p.stderr
    # ...and a client that skips validation gets it pruned by the API server:
    # never stored. (`create`, not `apply`: client-side apply would keep its own
    # copy of the input in the last-applied-configuration annotation, which is
    # one more reason kubectl's default, Strict, is the right mode.)
    kubectl(stack, "create", "-n", ns, "--validate=false", "-f", "-", input=json.dumps(obj))
    raw = kubectl(stack, "get", "vj", "pw", "-n", ns, "-o", "json").stdout
    assert "hunter2" not in raw and "password" not in raw
    assert json.loads(raw)["spec"]["sinks"]["postgres"]["dsn"] == SECRET
    # Where a sink does take a password, the field is a Secret reference, so a
    # plain string is refused in every validation mode, not just Strict.
    bad = vj("pw2", sinks={"redis": {"addr": "r:6379", "password": "hunter2"}})
    p = kubectl(stack, "create", "-n", ns, "--validate=false", "-f", "-",
                input=json.dumps(bad), check=False)
    assert p.returncode != 0 and "spec.sinks.redis.password:" in p.stderr


def test_what_a_videojob_is_cannot_change(stack, ns):
    apply(stack, ns, vj("fixed", filters="hue=s=0"))
    for path, value, field in [
            ("spec.source.uri", "file:///media/in/b.mp4", "spec.source"),
            ("spec.output.uri", "file:///media/out/b.mp4", "spec.output"),
            ("spec.encoder", {"crf": 30}, "spec.encoder"),
            ("spec.segmentSeconds", 4, "spec.segmentSeconds"),
            ("spec.filters", "scale=640:-2", "spec.filters"),
            ("spec.filters", DELETE, "spec.filters")]:
        p = apply(stack, ns, edit(vj("fixed", filters="hue=s=0"), path, value), check=False)
        assert p.returncode != 0 and f"{field}:" in p.stderr and "immutable" in p.stderr, \
            f"{path}: {p.stderr}"
    # How it runs may change.
    apply(stack, ns, vj("fixed", filters="hue=s=0", workers={"maxReplicas": 8},
                        kafka={"bootstrap": "other:9092"}))
    spec = get(stack, ns, "vj", "fixed")["spec"]
    assert spec["workers"]["maxReplicas"] == 8 and spec["kafka"]["bootstrap"] == "other:9092"


def test_tumbling_hopping_and_csv_accepted(stack, ns):
    apply(stack, ns, tw("tumbling", window={"size": "1m", "slide": "60s"}))
    apply(stack, ns, tw("hopping", window={"size": "1h", "slide": "1m30s"}))
    apply(stack, ns, tw("csv", format="csv", csv={"columns": ["ts", "host", "temp"],
                                                  "delimiter": ";"}))
    apply(stack, ns, tw("lp", format="influx", fields={"keys": ["host"], "values": ["temp"],
                                                       "timestampFormat": "epoch_ms"}))
    apply(stack, ns, tw("nodedupe", dedupe={"enabled": False, "horizon": "0s"}))
    apply(stack, ns, tw("strptime", fields={"timestamp": "ts",
                                            "timestampFormat": "%Y-%m-%d %H:%M:%S"}))
    names = kubectl(stack, "get", "tw", "-n", ns, "-o", "name").stdout.split()
    assert len(names) == 6


def status_patch(stack, ns, kind, name, status, check=True):
    return kubectl(stack, "patch", kind, name, "-n", ns, "--subresource=status",
                   "--type=merge", "-p", json.dumps({"status": status}), check=check)


def row(stack, ns, kind, name):
    lines = kubectl(stack, "get", kind, name, "-n", ns).stdout.splitlines()
    return dict(zip(lines[0].split(), lines[1].split()))


def test_status_subresource_moves_the_columns(stack, ns):
    apply(stack, ns, vj("job"))
    before = get(stack, ns, "vj", "job")
    status_patch(stack, ns, "vj", "job", {
        "phase": "Processing", "progress": "42%", "lag": 7, "replicas": 3, "desiredReplicas": 4,
        "segmentsTotal": 50, "segmentsDone": 21, "observedGeneration": 1,
        "startTime": "2026-01-01T00:00:00Z",
        "conditions": [{"type": "Progressing", "status": "True", "reason": "SegmentsRunning",
                        "message": "21 of 50 segments done", "observedGeneration": 1,
                        "lastTransitionTime": "2026-01-01T00:00:00Z"}]})
    r = row(stack, ns, "vj", "job")
    assert (r["PHASE"], r["PROGRESS"], r["LAG"], r["REPLICAS"], r["DESIRED"]) == \
        ("Processing", "42%", "7", "3", "4")
    after = get(stack, ns, "vj", "job")
    # A status write does not bump generation: only spec changes do.
    assert after["metadata"]["generation"] == before["metadata"]["generation"]

    # The main endpoint ignores status...
    kubectl(stack, "patch", "vj", "job", "-n", ns, "--type=merge", "-p",
            json.dumps({"status": {"phase": "Failed"}}))
    assert row(stack, ns, "vj", "job")["PHASE"] == "Processing"
    # ...and the status endpoint ignores spec.
    status_patch(stack, ns, "vj", "job", {"phase": "Assembling"})
    kubectl(stack, "patch", "vj", "job", "-n", ns, "--subresource=status", "--type=merge",
            "-p", json.dumps({"spec": {"workers": {"maxReplicas": 9}}}))
    got = get(stack, ns, "vj", "job")
    assert got["spec"]["workers"]["maxReplicas"] == 4 and got["status"]["phase"] == "Assembling"
    # A spec change bumps generation.
    apply(stack, ns, vj("job", workers={"maxReplicas": 6}))
    assert get(stack, ns, "vj", "job")["metadata"]["generation"] == \
        before["metadata"]["generation"] + 1

    status_patch(stack, ns, "vj", "job", {"phase": "Succeeded", "progress": "100%",
                                          "completionTime": "2026-01-01T00:10:00Z"})
    assert row(stack, ns, "vj", "job")["PROGRESS"] == "100%"

    apply(stack, ns, tw("stream"))
    status_patch(stack, ns, "tw", "stream", {
        "phase": "Running", "lag": 1234, "replicas": 2, "desiredReplicas": 3, "windowsEmitted": 17,
        "eventsProcessed": 100000, "duplicates": 5, "late": 2, "malformed": 1,
        "lastWatermark": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 120))})
    r = row(stack, ns, "tw", "stream")
    assert (r["PHASE"], r["LAG"], r["REPLICAS"], r["DESIRED"], r["WINDOWS"]) == \
        ("Running", "1234", "2", "3", "17")
    assert r["WATERMARK"].startswith("2m")  # a date column: shown as its age, "2m" or "2m1s"


# (what, kind, status patch, field, words)
BAD_STATUS = [
    ("unknown vj phase", "vj", {"phase": "Running"}, "status.phase", "Unsupported value"),
    ("unknown tw phase", "tw", {"phase": "Processing"}, "status.phase", "Unsupported value"),
    ("progress over 100%", "vj", {"progress": "142%"}, "status.progress", "should match"),
    ("progress as a number", "vj", {"progress": 42}, "status.progress", "must be of type string"),
    ("negative lag", "tw", {"lag": -1}, "status.lag", "greater than or equal to 0"),
    ("condition status", "vj", {"conditions": [{
        "type": "Ready", "status": "Yes", "reason": "R", "message": "",
        "lastTransitionTime": "2026-01-01T00:00:00Z"}]}, "status.conditions[0].status",
     "Unsupported value"),
    ("condition without reason", "tw", {"conditions": [{
        "type": "Ready", "status": "True", "message": "",
        "lastTransitionTime": "2026-01-01T00:00:00Z"}]}, "status.conditions[0].reason",
     "Required value"),
    ("condition reason syntax", "tw", {"conditions": [{
        "type": "Ready", "status": "True", "reason": "not ok", "message": "",
        "lastTransitionTime": "2026-01-01T00:00:00Z"}]}, "status.conditions[0].reason",
     "should match"),
    ("two conditions of one type", "vj", {"conditions": [
        {"type": "Ready", "status": "True", "reason": "A", "message": "",
         "lastTransitionTime": "2026-01-01T00:00:00Z"},
        {"type": "Ready", "status": "False", "reason": "B", "message": "",
         "lastTransitionTime": "2026-01-01T00:00:00Z"}]}, "status.conditions[1]",
     "Duplicate value"),
]


@pytest.mark.parametrize("what,kind,status,field,words", BAD_STATUS,
                         ids=[c[0] for c in BAD_STATUS])
def test_invalid_status_refused(stack, ns, what, kind, status, field, words):
    apply(stack, ns, vj("s") if kind == "vj" else tw("s"))
    p = status_patch(stack, ns, kind, "s", status, check=False)
    assert p.returncode != 0, f"{what}: accepted"
    assert f"{field}:" in p.stderr and words in p.stderr, f"{what}:\n{p.stderr}"
