"""The topics the operator creates, and only those, go with the resource
(issue 17): a TelemetryWindow's createTopic makes a missing input topic with
the asked partitions and replication factor, a pre-existing input topic is
left alone and never deleted, the dead-letter topic the operator made is
deleted with the resource; a VideoJob's task topic grows when maxReplicas
grows. Runs on the shared stack (one broker: replication factor 1) with the
operator as a process, as test_operator.py does.

SLUICE_OPERATOR names the operator binary to run (default build/sluice-operator)."""
import json
import os
import pathlib

import test_operator
from test_operator import (apply_tw, apply_vj, cond, create_topic, get, kubectl, ns, op,  # noqa: F401
                           reasons, wait_for)

if os.environ.get("SLUICE_OPERATOR"):
    test_operator.OPERATOR = pathlib.Path(os.environ["SLUICE_OPERATOR"]).resolve()


def describe(stack, topic):
    """{partitions, replicas of partition 0} of topic, or None when absent."""
    out = test_operator.run(["kcat", "-b", stack["KAFKA_BOOTSTRAP"], "-L", "-J", "-t", topic,
                             "-m", "5"]).stdout
    for t in json.loads(out).get("topics", []):
        if t["topic"] == topic and not t.get("err") and t.get("partitions"):
            return {"partitions": len(t["partitions"]),
                    "replicas": len(t["partitions"][0]["replicas"])}
    return None


def topic_ready(stack, name, ns):
    tw = get(stack, "tw", name, ns, check=False)
    c = cond(tw, "TopicReady") or {}
    return tw if c.get("status") == "True" else None


def gone(stack, kind, name, ns):
    return get(stack, kind, name, ns, check=False) is None


def test_create_topic_makes_the_input_and_deletes_what_it_made(stack, op, ns):
    topic = f"lc-in-{ns}"
    assert describe(stack, topic) is None
    apply_tw(stack, "made", ns, topic, kafka={
        "bootstrap": stack["KAFKA_BOOTSTRAP"], "topic": topic,
        "createTopic": {"partitions": 4}})
    tw = wait_for("TopicReady", lambda: topic_ready(stack, "made", ns), timeout=60)
    tw = wait_for("created by the operator", lambda: (lambda t: t if "created by the operator" in
                  (cond(t, "TopicReady") or {}).get("message", "") else None)(
        get(stack, "tw", "made", ns)), timeout=30)
    brokers = int(stack["KAFKA_BROKERS"])
    assert describe(stack, topic) == {"partitions": 4, "replicas": min(3, brokers)}
    # The dead-letter topic, with the input's partitions.
    assert describe(stack, topic + ".dlq")["partitions"] == 4
    created = wait_for("createdTopics", lambda: get(stack, "tw", "made", ns)["status"]
                       .get("kafka", {}).get("createdTopics"))
    assert sorted(created) == sorted([topic, topic + ".dlq"])

    kubectl(stack, "delete", "tw", "made", "-n", ns, "--wait=false")
    wait_for("resource gone", lambda: gone(stack, "tw", "made", ns), timeout=60)
    assert describe(stack, topic) is None and describe(stack, topic + ".dlq") is None


def test_a_pre_existing_input_topic_is_never_deleted(stack, op, ns):
    topic = f"lc-pre-{ns}"
    create_topic(stack, topic, 2)
    apply_tw(stack, "pre", ns, topic, kafka={
        "bootstrap": stack["KAFKA_BOOTSTRAP"], "topic": topic,
        "createTopic": {"partitions": 5}})
    tw = wait_for("TopicReady", lambda: topic_ready(stack, "pre", ns), timeout=60)
    # Left as it was: its 2 partitions, not createTopic's 5.
    assert "created by the operator" not in cond(tw, "TopicReady")["message"]
    assert describe(stack, topic)["partitions"] == 2
    created = wait_for("createdTopics", lambda: get(stack, "tw", "pre", ns)["status"]
                       .get("kafka", {}).get("createdTopics") is not None and
                       get(stack, "tw", "pre", ns)["status"]["kafka"]["createdTopics"])
    assert created == [topic + ".dlq"]

    kubectl(stack, "delete", "tw", "pre", "-n", ns, "--wait=false")
    wait_for("resource gone", lambda: gone(stack, "tw", "pre", ns), timeout=60)
    assert describe(stack, topic)["partitions"] == 2
    assert describe(stack, topic + ".dlq") is None


def test_without_create_topic_a_missing_input_stays_missing(stack, op, ns):
    topic = f"lc-none-{ns}"
    apply_tw(stack, "none", ns, topic)
    tw = wait_for("TopicNotFound", lambda: (lambda t: t if (cond(t, "TopicReady") or {})
                                            .get("reason") == "TopicNotFound" else None)(
        get(stack, "tw", "none", ns, check=False)), timeout=60)
    assert tw and describe(stack, topic) is None


def test_create_topic_refused_is_a_condition(stack, op, ns):
    topic = f"lc-rf-{ns}"
    brokers = int(stack["KAFKA_BROKERS"])
    apply_tw(stack, "rf", ns, topic, kafka={
        "bootstrap": stack["KAFKA_BOOTSTRAP"], "topic": topic,
        "createTopic": {"partitions": 1, "replicationFactor": brokers + 1}})
    tw = wait_for("TopicCreateFailed", lambda: (lambda t: t if (cond(t, "Ready") or {})
                                                .get("reason") == "TopicCreateFailed" else None)(
        get(stack, "tw", "rf", ns, check=False)), timeout=60)
    assert "REPLICATION_FACTOR" in cond(tw, "TopicReady")["message"]
    wait_for("the Event", lambda: "TopicCreateFailed" in reasons(stack, ns, "rf"))
    assert describe(stack, topic) is None


def test_videojob_partitions_grow_with_max_replicas(stack, op, ns):
    apply_vj(stack, "grow", ns)
    topic = f"sluice-vj-{ns}-grow"
    wait_for("task topic", lambda: (describe(stack, topic) or {}).get("partitions") == 3,
             timeout=60)
    apply_vj(stack, "grow", ns, workers={"minReplicas": 1, "maxReplicas": 5})
    wait_for("5 partitions", lambda: (describe(stack, topic) or {}).get("partitions") == 5,
             timeout=60)
    # Never shrinks.
    apply_vj(stack, "grow", ns, workers={"minReplicas": 1, "maxReplicas": 2})
    wait_for("observed", lambda: get(stack, "vj", "grow", ns)["status"].get(
        "observedGeneration") == get(stack, "vj", "grow", ns)["metadata"]["generation"])
    assert describe(stack, topic)["partitions"] == 5
    kubectl(stack, "delete", "vj", "grow", "-n", ns, "--wait=false")
    wait_for("resource gone", lambda: gone(stack, "vj", "grow", ns), timeout=60)
    assert describe(stack, topic) is None and describe(stack, topic + ".dlq") is None
