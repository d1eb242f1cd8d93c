"""Three Kafka brokers on request (KAFKA_BROKERS=3), as the systems Sluice
replaces ran: a replicated topic keeps taking and serving messages while one
broker is down, and the broker rejoins when started again.

Starts a Kafka-only stack of its own beside the stack under test."""
import os
import subprocess

import pytest

from conftest import STACK_SH, load_env, run


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
