"""Sluice's own Kafka clients over the stack's security listeners
(docs/kafka-security.md), through `sluice-worker load`, whose producer is
made by lib/kafka.c like every other client: SASL_SSL with each mechanism
and the stack's CA, mutual TLS with the client certificate, the server
name check; and each way it must fail (a wrong password, an unknown CA, an
expired client certificate, a server name the certificate does not carry,
options that do not go together), with the cause in the log. kcat reads
back over plaintext what was loaded.

Needs a stack with the SASL_SSL and MTLS listeners (KAFKA_BOOTSTRAP_SASL_SSL);
skipped otherwise."""
import os
import pathlib

import pytest

from conftest import run
from test_kafka_security import consume, create_topic

ROOT = pathlib.Path(__file__).resolve().parents[2]
WORKER = os.environ.get("SLUICE_WORKER", str(ROOT / "build" / "sluice-worker"))
ROWS = ["ts,host,temp", "2024-01-01T00:00:00Z,a,1", "2024-01-01T00:00:01Z,b,2",
        "2024-01-01T00:00:02Z,c,3"]


@pytest.fixture(scope="module")
def secure(stack):
    if "KAFKA_BOOTSTRAP_SASL_SSL" not in stack:
        pytest.skip("the stack has no SASL_SSL listener (tests/e2e/stack.sh up makes one)")
    return stack


@pytest.fixture
def csv_file(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("\n".join(ROWS) + "\n")
    return path


def load(stack, csv_file, topic, *args, password=None, check=True):
    """Runs sluice-worker load with ARGS; the password (if any) in its
    environment, never a flag."""
    env = {k: v for k, v in os.environ.items() if k != "SLUICE_KAFKA_SASL_PASSWORD"}
    if password is not None:
        env["SLUICE_KAFKA_SASL_PASSWORD"] = password
    return run([WORKER, "load", "--file", str(csv_file), "--topic", topic, "--progress", "none",
                *args], env=env, check=check, timeout=90)


def sasl(stack, mechanism):
    user = stack["KAFKA_SASL_PLAIN_USER" if mechanism == "PLAIN" else "KAFKA_SASL_USER"]
    return ["--bootstrap", stack["KAFKA_BOOTSTRAP_SASL_SSL"], "--tls-ca-file",
            stack["KAFKA_CA_PEM"], "--sasl-mechanism", mechanism, "--sasl-username", user]


def password(stack, mechanism):
    return stack["KAFKA_SASL_PLAIN_PASSWORD" if mechanism == "PLAIN" else "KAFKA_SASL_PASSWORD"]


def plain(stack):
    return ["-b", stack["KAFKA_BOOTSTRAP"]]


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_load_over_sasl_ssl(secure, csv_file, unique, mechanism):
    topic = f"sasl-load-{unique}"
    create_topic(secure, topic, partitions=2)
    load(secure, csv_file, topic, *sasl(secure, mechanism), password=password(secure, mechanism))
    got = sorted(line.split(":", 1)[1] for line in consume(plain(secure), topic))
    assert got == sorted(ROWS[1:])


def test_load_password_from_a_file(secure, csv_file, tmp_path, unique):
    topic = f"sasl-file-{unique}"
    create_topic(secure, topic)
    pw = tmp_path / "password"
    pw.write_text(secure["KAFKA_SASL_PASSWORD"] + "\n")
    load(secure, csv_file, topic, *sasl(secure, "SCRAM-SHA-512"), "--sasl-password-file", str(pw))
    assert len(consume(plain(secure), topic)) == 3


def test_load_over_mutual_tls(secure, csv_file, unique):
    topic = f"mtls-load-{unique}"
    create_topic(secure, topic)
    load(secure, csv_file, topic, "--bootstrap", secure["KAFKA_BOOTSTRAP_MTLS"],
         "--tls-ca-file", secure["KAFKA_CA_PEM"], "--tls-cert-file",
         secure["KAFKA_CLIENT_CERT_PEM"], "--tls-key-file", secure["KAFKA_CLIENT_KEY_PEM"])
    assert len(consume(plain(secure), topic)) == 3


def test_server_name_the_certificate_carries(secure, csv_file, unique):
    """The brokers' certificate carries localhost and 127.0.0.1: a server
    name goes through Sluice's own check (ssl_cert_verify_cb)."""
    topic = f"sni-{unique}"
    create_topic(secure, topic)
    load(secure, csv_file, topic, *sasl(secure, "SCRAM-SHA-512"), "--tls-server-name",
         "localhost", password=secure["KAFKA_SASL_PASSWORD"])
    assert len(consume(plain(secure), topic)) == 3


def failed(p):
    assert p.returncode == 1, p.stderr
    return p.stderr


def test_server_name_the_certificate_lacks(secure, csv_file, unique):
    topic = f"sni-bad-{unique}"
    create_topic(secure, topic)
    err = failed(load(secure, csv_file, topic, *sasl(secure, "SCRAM-SHA-512"),
                      "--tls-server-name", "kafka.example", password=secure["KAFKA_SASL_PASSWORD"],
                      check=False))
    assert 'the certificate does not carry the name \\"kafka.example\\"' in err


def test_wrong_password(secure, csv_file, unique):
    topic = f"sasl-bad-{unique}"
    create_topic(secure, topic)
    err = failed(load(secure, csv_file, topic, *sasl(secure, "SCRAM-SHA-512"),
                      password="not-the-password", check=False))
    assert "SASL authentication error" in err and "invalid credentials" in err
    assert "not-the-password" not in err
    assert consume(plain(secure), topic) == []


def test_unknown_ca(secure, csv_file, unique):
    topic = f"ca-bad-{unique}"
    create_topic(secure, topic)
    args = sasl(secure, "SCRAM-SHA-512")
    args[args.index("--tls-ca-file") + 1] = secure["KAFKA_OTHER_CA_PEM"]
    err = failed(load(secure, csv_file, topic, *args, password=secure["KAFKA_SASL_PASSWORD"],
                      check=False))
    assert "certificate verify failed" in err


def test_expired_client_certificate(secure, csv_file, unique):
    topic = f"mtls-expired-{unique}"
    create_topic(secure, topic)
    p = load(secure, csv_file, topic, "--bootstrap", secure["KAFKA_BOOTSTRAP_MTLS"],
             "--tls-ca-file", secure["KAFKA_CA_PEM"], "--tls-cert-file",
             secure["KAFKA_EXPIRED_CLIENT_CERT_PEM"], "--tls-key-file",
             secure["KAFKA_EXPIRED_CLIENT_KEY_PEM"], check=False)
    failed(p)
    assert consume(plain(secure), topic) == []


@pytest.mark.parametrize("args,message", [
    (["--tls-cert-file", "CERT"], "ssl.certificate.pem and ssl.key.pem: give both or neither"),
    (["--sasl-mechanism", "SCRAM-SHA-512", "--sasl-username", "u"],
     "sasl.password: required with sasl.mechanism SCRAM-SHA-512"),
    (["--sasl-mechanism", "GSSAPI", "--sasl-username", "u"], '"GSSAPI" is not one of'),
    (["--tls-ca-file", "/nonexistent/ca.pem"], "--tls-ca-file: cannot open /nonexistent/ca.pem"),
])
def test_bad_options_are_usage_errors(secure, csv_file, args, message):
    args = [secure["KAFKA_CLIENT_CERT_PEM"] if a == "CERT" else a for a in args]
    p = load(secure, csv_file, "unused", "--bootstrap", secure["KAFKA_BOOTSTRAP_SASL_SSL"], *args,
             check=False)
    assert p.returncode == 2, p.stderr
    assert message in p.stderr
