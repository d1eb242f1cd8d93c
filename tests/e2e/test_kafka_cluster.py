"""Three Kafka brokers on request (KAFKA_BROKERS=3), as the systems Sluice
replaces ran: a replicated topic keeps taking and serving messages while one
broker is down, and the broker rejoins when started again. Every broker
has the SASL_SSL and MTLS listeners too (test_kafka_security.py).

Starts a Kafka-only stack of its own beside the stack under test."""
import json
import os
import subprocess

import pytest

from conftest import STACK_SH, load_env, run
from test_kafka_security import brokers, create_topic, mtls_args, sasl_args
from test_operator import wait_for


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("kafka3")
    env = {**os.environ, "TMPDIR": str(tmp), "SLUICE_STACK_ENV": str(tmp / "stack.env"),
           "SLUICE_STACK_COMPONENTS": "kafka", "KAFKA_BROKERS": "3"}
    up = subprocess.run([str(STACK_SH), "up"], env=env, capture_output=True, text=True,
                        timeout=300)
    assert up.returncode == 0, up.stderr
    yield env, load_env(tmp / "stack.env")
    subprocess.run([str(STACK_SH), "down"], env=env, capture_output=True, timeout=300)


def wait_topic_on_every_broker(bootstrap, topic, partitions, timeout=60):
    """Waits until each broker, asked on its own (kcat -b <that broker> -L),
    lists TOPIC with PARTITIONS partitions, each with a leader. CreateTopics
    returns once the controller has the topic; the other brokers learn it a
    moment later, and a producer whose first metadata request reaches one of
    them is told "partition count changed from 3 to 0 ... Unknown
    partition" (issue 17)."""
    def ready(broker):
        p = run(["kcat", "-b", broker, "-L", "-J", "-t", topic, "-m", "5"], check=False)
        if p.returncode != 0:
            return None
        meta = json.loads(p.stdout)
        t = next((t for t in meta.get("topics", []) if t.get("topic") == topic), None)
        parts = t.get("partitions", []) if t and not t.get("err") else []
        return len(parts) == partitions and all(x.get("leader", -1) >= 0 for x in parts)

    for broker in bootstrap.split(","):
        wait_for(f"topic {topic}: {partitions} partitions with leaders on {broker}",
                 lambda b=broker: ready(b), timeout=timeout, interval=0.2)


def produce(bootstrap, topic, lines):
    run(["kcat", "-b", bootstrap, "-P", "-t", topic, "-X", "acks=all",
         "-X", "message.timeout.ms=30000"], input="".join(l + "\n" for l in lines))


def consume(bootstrap, topic):
    return run(["kcat", "-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q"]
               ).stdout.splitlines()


def test_three_brokers_survive_one_stopping(cluster):
    env, stack = cluster
    bootstrap = stack["KAFKA_BOOTSTRAP"]
    assert stack["KAFKA_BROKERS"] == "3" and len(bootstrap.split(",")) == 3
    meta = run(["kcat", "-b", bootstrap, "-L"]).stdout
    assert " 3 brokers:" in meta

    run(["java", "-Xmx256m", "-Dlog4j.configuration=file:/dev/null", "-cp",
         stack["KAFKA_LIBS"] + "/*", "org.apache.kafka.tools.TopicCommand",
         "--bootstrap-server", bootstrap, "--create", "--topic", "replicated",
         "--partitions", "3", "--replication-factor", "3", "--config", "min.insync.replicas=2"])
    wait_topic_on_every_broker(bootstrap, "replicated", 3)
    produce(bootstrap, "replicated", [f"before {i}" for i in range(30)])

    run([str(STACK_SH), "stop", "kafka2"], env=env)
    alive = ",".join(b for i, b in enumerate(bootstrap.split(",")) if i != 1)
    produce(alive, "replicated", [f"during {i}" for i in range(30)])
    got = consume(alive, "replicated")
    assert sorted(got) == sorted([f"before {i}" for i in range(30)] +
                                 [f"during {i}" for i in range(30)])

    run([str(STACK_SH), "start", "kafka2"], env=env)
    broker2 = bootstrap.split(",")[1]
    assert len(consume(broker2, "replicated")) == 60
    # Its SASL_SSL listener is back on the same port, with the same users.
    sasl = stack["KAFKA_BOOTSTRAP_SASL_SSL"].split(",")
    assert brokers(sasl_args(stack, "SCRAM-SHA-512", bootstrap=sasl[1])) == sorted(sasl)


def test_every_broker_has_the_security_listeners(cluster, tmp_path):
    _, stack = cluster
    sasl = stack["KAFKA_BOOTSTRAP_SASL_SSL"].split(",")
    mtls = stack["KAFKA_BOOTSTRAP_MTLS"].split(",")
    assert len(sasl) == len(mtls) == 3
    for i in range(3):
        assert brokers(sasl_args(stack, "PLAIN", bootstrap=sasl[i])) == sorted(sasl)
        assert brokers(mtls_args(stack, bootstrap=mtls[i])) == sorted(mtls)
    # A topic on all three, created by Kafka's own tool over SASL_SSL, written
    # over SASL_SSL (SCRAM-SHA-256) and read back over MTLS through one broker.
    create_topic(stack, "secured", partitions=3, tmp_path=tmp_path)
    wait_topic_on_every_broker(stack["KAFKA_BOOTSTRAP"], "secured", 3)
    wait_topic_on_every_broker(stack["KAFKA_BOOTSTRAP"], "secured", 3)
    sent = [f"k{i}:secured {i}" for i in range(30)]
    run(["kcat", *sasl_args(stack, "SCRAM-SHA-256"), "-P", "-t", "secured", "-K:",
         "-X", "acks=all", "-X", "message.timeout.ms=30000"], input="\n".join(sent) + "\n")
    got = run(["kcat", *mtls_args(stack, bootstrap=mtls[2]), "-C", "-t", "secured",
               "-o", "beginning", "-e", "-q", "-f", "%k:%s\n"]).stdout.splitlines()
    assert sorted(got) == sorted(sent)
