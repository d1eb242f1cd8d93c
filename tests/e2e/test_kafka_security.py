"""The stack's Kafka security listeners, judged with kcat (librdkafka, the
library Sluice's clients use) and Kafka's own Java tools:

- SASL_SSL (KAFKA_BOOTSTRAP_SASL_SSL): TLS from the stack's CA
  (KAFKA_CA_PEM), users KAFKA_SASL_PLAIN_USER (PLAIN) and KAFKA_SASL_USER
  (SCRAM-SHA-256 and SCRAM-SHA-512);
- MTLS (KAFKA_BOOTSTRAP_MTLS): TLS that requires a client certificate the
  stack's CA signed (KAFKA_CLIENT_CERT_PEM / KAFKA_CLIENT_KEY_PEM).

The helpers are shared with test_kafka_cluster.py."""
import json
import uuid

import pytest

from conftest import run

MECHANISMS = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


def sasl_args(stack, mechanism, password=None, ca=None, bootstrap=None):
    """kcat's options for the SASL_SSL listener as the stack's user of
    MECHANISM (its password unless PASSWORD is given)."""
    if mechanism == "PLAIN":
        user, pw = stack["KAFKA_SASL_PLAIN_USER"], stack["KAFKA_SASL_PLAIN_PASSWORD"]
    else:
        user, pw = stack["KAFKA_SASL_USER"], stack["KAFKA_SASL_PASSWORD"]
    return ["-b", bootstrap or stack["KAFKA_BOOTSTRAP_SASL_SSL"],
            "-X", "security.protocol=SASL_SSL", "-X", f"sasl.mechanisms={mechanism}",
            "-X", f"sasl.username={user}", "-X", f"sasl.password={password or pw}",
            "-X", f"ssl.ca.location={ca or stack['KAFKA_CA_PEM']}"]


def mtls_args(stack, cert="KAFKA_CLIENT", ca=None, bootstrap=None):
    """kcat's options for the MTLS listener with the client certificate
    named by CERT's env prefix (None: no certificate)."""
    args = ["-b", bootstrap or stack["KAFKA_BOOTSTRAP_MTLS"], "-X", "security.protocol=SSL",
            "-X", f"ssl.ca.location={ca or stack['KAFKA_CA_PEM']}"]
    if cert:
        args += ["-X", f"ssl.certificate.location={stack[cert + '_CERT_PEM']}",
                 "-X", f"ssl.key.location={stack[cert + '_KEY_PEM']}"]
    return args


def create_topic(stack, topic, partitions=1, replicas=None, tmp_path=None):
    """Creates TOPIC with Kafka's own TopicCommand, over SASL_SSL as the
    SCRAM-SHA-512 user when TMP_PATH is given (for its client config),
    over plaintext otherwise."""
    extra, bootstrap = [], stack["KAFKA_BOOTSTRAP"]
    if tmp_path is not None:
        conf = tmp_path / "client.properties"
        conf.write_text(
            "security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\n"
            "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{stack["KAFKA_SASL_USER"]}" password="{stack["KAFKA_SASL_PASSWORD"]}";\n'
            f"ssl.truststore.type=PEM\nssl.truststore.location={stack['KAFKA_CA_PEM']}\n")
        extra, bootstrap = ["--command-config", str(conf)], stack["KAFKA_BOOTSTRAP_SASL_SSL"]
    run(["java", "-Xmx256m", "-Dlog4j.configuration=file:/dev/null", "-cp",
         stack["KAFKA_LIBS"] + "/*", "org.apache.kafka.tools.TopicCommand",
         "--bootstrap-server", bootstrap, *extra, "--create", "--topic", topic,
         "--partitions", str(partitions),
         "--replication-factor", str(replicas or stack["KAFKA_BROKERS"])])


def produce(client, topic, lines):
    run(["kcat", *client, "-P", "-t", topic, "-K:", "-X", "acks=all",
         "-X", "message.timeout.ms=30000"], input="".join(l + "\n" for l in lines))


def consume(client, topic):
    return run(["kcat", *client, "-C", "-t", topic, "-o", "beginning", "-e", "-q",
                "-f", "%k:%s\n"]).stdout.splitlines()


def brokers(client):
    """The brokers the metadata lists, as host:port, through CLIENT."""
    meta = json.loads(run(["kcat", *client, "-L", "-J", "-m", "10"]).stdout)
    return sorted(b["name"] for b in meta["brokers"])


def refused(client):
    """Runs a metadata request that must fail; returns kcat's stderr."""
    p = run(["kcat", *client, "-L", "-m", "3"], check=False)
    assert p.returncode != 0, p.stdout
    return p.stderr


@pytest.fixture(scope="module", autouse=True)
def security_listeners(stack):
    if "KAFKA_BOOTSTRAP_SASL_SSL" not in stack:
        pytest.fail("the stack has no SASL_SSL listener (started by an older stack.sh, or "
                    "without kafka): restart it (make stack-down stack-up)")


@pytest.fixture(scope="module")
def topic(stack):
    name = f"security-{uuid.uuid4().hex[:8]}"
    create_topic(stack, name, partitions=2)
    return name


def test_listeners_advertise_their_own_ports(stack):
    assert brokers(sasl_args(stack, "SCRAM-SHA-512")) == sorted(
        stack["KAFKA_BOOTSTRAP_SASL_SSL"].split(","))
    assert brokers(mtls_args(stack)) == sorted(stack["KAFKA_BOOTSTRAP_MTLS"].split(","))


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_sasl_ssl_produce_and_consume(stack, topic, mechanism, unique):
    client = sasl_args(stack, mechanism)
    sent = [f"{mechanism}-{unique}:message {i}" for i in range(20)]
    produce(client, topic, sent)
    got = [l for l in consume(client, topic) if l.startswith(f"{mechanism}-{unique}:")]
    assert sorted(got) == sorted(sent)


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_sasl_wrong_password_is_an_authentication_error(stack, mechanism):
    err = refused(sasl_args(stack, mechanism, password="not-the-password"))
    assert "Authentication failed" in err, err


def test_sasl_unknown_user_is_an_authentication_error(stack):
    client = sasl_args(stack, "SCRAM-SHA-512")
    client[client.index(f"sasl.username={stack['KAFKA_SASL_USER']}")] = "sasl.username=nobody"
    err = refused(client)
    assert "Authentication failed" in err, err


def test_sasl_ssl_refused_when_the_client_trusts_another_ca(stack):
    err = refused(sasl_args(stack, "SCRAM-SHA-512", ca=stack["KAFKA_OTHER_CA_PEM"]))
    assert "certificate verify failed" in err, err


def test_sasl_ssl_demands_tls_and_sasl(stack):
    # Plain TCP, or TLS without SASL, gets nowhere on the SASL_SSL listener.
    refused(["-b", stack["KAFKA_BOOTSTRAP_SASL_SSL"]])
    refused(["-b", stack["KAFKA_BOOTSTRAP_SASL_SSL"], "-X", "security.protocol=SSL",
             "-X", f"ssl.ca.location={stack['KAFKA_CA_PEM']}"])


def test_mtls_produce_and_consume_with_the_client_certificate(stack, topic, unique):
    client = mtls_args(stack)
    sent = [f"mtls-{unique}:message {i}" for i in range(20)]
    produce(client, topic, sent)
    got = [l for l in consume(client, topic) if l.startswith(f"mtls-{unique}:")]
    assert sorted(got) == sorted(sent)


def test_mtls_with_pem_strings(stack, topic, unique):
    # The PEM given inline (ssl.ca.pem, ssl.certificate.pem, ssl.key.pem),
    # as Sluice's clients pass it, rather than as files.
    pem = {k: open(stack[k]).read() for k in
           ("KAFKA_CA_PEM", "KAFKA_CLIENT_CERT_PEM", "KAFKA_CLIENT_KEY_PEM")}
    client = ["-b", stack["KAFKA_BOOTSTRAP_MTLS"], "-X", "security.protocol=SSL",
              "-X", f"ssl.ca.pem={pem['KAFKA_CA_PEM']}",
              "-X", f"ssl.certificate.pem={pem['KAFKA_CLIENT_CERT_PEM']}",
              "-X", f"ssl.key.pem={pem['KAFKA_CLIENT_KEY_PEM']}"]
    produce(client, topic, [f"pem-{unique}:one"])
    assert f"pem-{unique}:one" in consume(client, topic)


def test_mtls_refused_without_a_client_certificate(stack):
    err = refused(mtls_args(stack, cert=None))
    assert "alert" in err, err


def test_mtls_refused_with_an_expired_client_certificate(stack):
    cert, ca = stack["KAFKA_EXPIRED_CLIENT_CERT_PEM"], stack["KAFKA_CA_PEM"]
    # The certificate is the CA's and only out of date: it verifies when
    # time is not checked, and is expired when it is.
    run(["openssl", "verify", "-no_check_time", "-CAfile", ca, cert])
    now = run(["openssl", "verify", "-CAfile", ca, cert], check=False)
    assert now.returncode != 0 and "certificate has expired" in now.stdout + now.stderr
    err = refused(mtls_args(stack, cert="KAFKA_EXPIRED_CLIENT"))
    assert "alert" in err, err


def test_mtls_refused_when_the_client_trusts_another_ca(stack):
    err = refused(mtls_args(stack, ca=stack["KAFKA_OTHER_CA_PEM"]))
    assert "certificate verify failed" in err, err


def test_java_tools_work_over_sasl_ssl(stack, tmp_path, unique):
    # Kafka's own Java client (PEM trust store, hostname verification on)
    # creates a topic over SASL_SSL with SCRAM-SHA-512.
    create_topic(stack, f"java-{unique}", tmp_path=tmp_path)
    meta = json.loads(run(["kcat", *sasl_args(stack, "SCRAM-SHA-256"), "-L", "-J",
                           "-t", f"java-{unique}"]).stdout)
    assert [t["topic"] for t in meta["topics"]] == [f"java-{unique}"]
    assert "error" not in meta["topics"][0]
