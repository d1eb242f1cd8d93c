"""The operator's own Kafka clients (topics, lag) with a resource's
spec.kafka.tls and spec.kafka.sasl (issue 17): the credentials come from
the Secrets the resource names, read through the API server, and a bad one
is reported on that resource alone: a wrong SASL password gives TopicReady
and Ready False with reason KafkaAuthenticationFailed and a Warning Event,
a CA that did not sign the brokers KafkaTLSFailed, a missing Secret or key
SecretNotFound, while a good resource in the same namespace runs on.

The brokers' SASL_SSL listener and its CA come from the shared stack
(KAFKA_BOOTSTRAP_SASL_SSL, KAFKA_CA_PEM, ...), or, when it has none, from
the env file SLUICE_SECURE_KAFKA_ENV names (a Kafka-only stack:
SLUICE_STACK_COMPONENTS=kafka tests/e2e/stack.sh up); skipped without
either. The operator runs as a process (test_operator.py's op fixture;
SLUICE_OPERATOR names the binary)."""
import os
import pathlib
import shlex

import pytest

import test_operator
from test_operator import apply_tw, cond, get, kubectl, ns, op, reasons, wait_for  # noqa: F401

if os.environ.get("SLUICE_OPERATOR"):
    test_operator.OPERATOR = pathlib.Path(os.environ["SLUICE_OPERATOR"]).resolve()


def read_env(path):
    env = {}
    for line in pathlib.Path(path).read_text().splitlines():
        line = line.strip()
        if line.startswith("export "):
            for word in shlex.split(line[len("export "):]):
                k, _, v = word.partition("=")
                env[k] = v
    return env


@pytest.fixture(scope="module")
def secure(stack):
    if stack.get("KAFKA_BOOTSTRAP_SASL_SSL"):
        return stack
    path = os.environ.get("SLUICE_SECURE_KAFKA_ENV")
    if path and pathlib.Path(path).exists():
        env = read_env(path)
        if env.get("KAFKA_BOOTSTRAP_SASL_SSL"):
            return env
    pytest.skip("no SASL_SSL listener: restart the stack, or set SLUICE_SECURE_KAFKA_ENV")


def secret(stack, ns, name, **files_or_literals):
    """A Secret in ns: key=("file", path) or key="literal"."""
    args = ["create", "secret", "generic", name, "-n", ns]
    for k, v in files_or_literals.items():
        args.append(f"--from-file={k}={v[1]}" if isinstance(v, tuple) else
                    f"--from-literal={k}={v}")
    kubectl(stack, *args)


def kafka(secure, topic, creds="kafka-creds", ca="kafka-ca"):
    return {"bootstrap": secure["KAFKA_BOOTSTRAP_SASL_SSL"], "topic": topic,
            "createTopic": {"partitions": 2},
            "tls": {"ca": {"name": ca, "key": "ca.crt"}},
            "sasl": {"mechanism": "SCRAM-SHA-512",
                     "username": {"name": creds, "key": "username"},
                     "password": {"name": creds, "key": "password"}}}


def topic_reason(stack, name, ns):
    c = cond(get(stack, "tw", name, ns, check=False), "TopicReady") or {}
    return c.get("reason")


def wait_reason(stack, name, ns, want, timeout=60):
    wait_for(f"{name}: TopicReady {want}",
             lambda: topic_reason(stack, name, ns) == want, timeout=timeout)
    tw = get(stack, "tw", name, ns)
    return tw


def test_sasl_ssl_and_a_wrong_password_beside_it(stack, secure, op, ns):
    secret(stack, ns, "kafka-ca", **{"ca.crt": ("file", secure["KAFKA_CA_PEM"])})
    secret(stack, ns, "kafka-creds", username=secure["KAFKA_SASL_USER"],
           password=secure["KAFKA_SASL_PASSWORD"])
    secret(stack, ns, "bad-creds", username=secure["KAFKA_SASL_USER"], password="not-it")
    apply_tw(stack, "good", ns, f"sec-good-{ns}", kafka=kafka(secure, f"sec-good-{ns}"))
    tw = wait_reason(stack, "good", ns, "TopicFound")
    assert "created by the operator" in cond(tw, "TopicReady")["message"]

    apply_tw(stack, "bad", ns, f"sec-bad-{ns}",
             kafka=kafka(secure, f"sec-bad-{ns}", creds="bad-creds"))
    tw = wait_reason(stack, "bad", ns, "KafkaAuthenticationFailed")
    ready = cond(tw, "Ready")
    assert ready["status"] == "False" and ready["reason"] == "KafkaAuthenticationFailed"
    assert "SASL authentication error" in ready["message"]
    assert "not-it" not in str(tw)
    wait_for("the Warning Event", lambda: "KafkaAuthenticationFailed" in reasons(stack, ns, "bad"))

    # The good one is untouched, pass after pass.
    assert topic_reason(stack, "good", ns) == "TopicFound"
    assert cond(get(stack, "tw", "good", ns), "Ready")["reason"] != "KafkaAuthenticationFailed"

    # The password fixed in the Secret: the resource recovers (the
    # operator's Secret cache holds a read for 15 s).
    kubectl(stack, "delete", "secret", "bad-creds", "-n", ns)
    secret(stack, ns, "bad-creds", username=secure["KAFKA_SASL_USER"],
           password=secure["KAFKA_SASL_PASSWORD"])
    wait_reason(stack, "bad", ns, "TopicFound", timeout=90)


def test_a_missing_secret_or_key(stack, secure, op, ns):
    secret(stack, ns, "kafka-ca", **{"ca.crt": ("file", secure["KAFKA_CA_PEM"])})
    apply_tw(stack, "nosecret", ns, f"sec-ns-{ns}",
             kafka=kafka(secure, f"sec-ns-{ns}", creds="absent"))
    tw = wait_reason(stack, "nosecret", ns, "SecretNotFound")
    assert f'Secret "absent" does not exist in namespace "{ns}"' in \
        cond(tw, "TopicReady")["message"]
    wait_for("the Warning Event", lambda: "SecretNotFound" in reasons(stack, ns, "nosecret"))

    secret(stack, ns, "nopw", username=secure["KAFKA_SASL_USER"])
    apply_tw(stack, "nokey", ns, f"sec-nk-{ns}", kafka=kafka(secure, f"sec-nk-{ns}", creds="nopw"))
    tw = wait_reason(stack, "nokey", ns, "SecretNotFound")
    assert f'Secret "nopw" in namespace "{ns}" has no key "password"' in \
        cond(tw, "Ready")["message"]


def test_a_ca_that_did_not_sign_the_brokers(stack, secure, op, ns):
    secret(stack, ns, "other-ca", **{"ca.crt": ("file", secure["KAFKA_OTHER_CA_PEM"])})
    secret(stack, ns, "kafka-creds", username=secure["KAFKA_SASL_USER"],
           password=secure["KAFKA_SASL_PASSWORD"])
    apply_tw(stack, "otherca", ns, f"sec-ca-{ns}",
             kafka=kafka(secure, f"sec-ca-{ns}", ca="other-ca"))
    tw = wait_reason(stack, "otherca", ns, "KafkaTLSFailed")
    assert "certificate verify failed" in cond(tw, "TopicReady")["message"]
    wait_for("the Warning Event", lambda: "KafkaTLSFailed" in reasons(stack, ns, "otherca"))
