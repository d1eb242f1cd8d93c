"""The test stack proves itself with real clients: each server accepts what a
user's client sends and gives it back."""
import json
import subprocess
import time
import urllib.parse
import urllib.request

from conftest import run, stack_sh


def kafka_tool(stack, cls, *args):
    """Runs one of Kafka's own command-line tools (the class behind
    bin/kafka-*.sh) from the jars the stack runs."""
    return run(["java", "-Xmx256m", "-Dlog4j.configuration=file:/dev/null", "-cp",
                stack["KAFKA_LIBS"] + "/*", cls, "--bootstrap-server",
                stack["KAFKA_BOOTSTRAP"], *args])


def test_kafka_message_produced_and_consumed(stack, unique):
    topic = f"e2e-{unique}"
    kafka_tool(stack, "org.apache.kafka.tools.TopicCommand", "--create", "--topic", topic,
               "--partitions", "3", "--replication-factor", stack["KAFKA_BROKERS"])
    listing = kafka_tool(stack, "org.apache.kafka.tools.TopicCommand", "--describe",
                         "--topic", topic).stdout
    assert "PartitionCount: 3" in listing

    sent = [f"key{i}:value {i} {unique}" for i in range(20)]
    run(["kcat", "-b", stack["KAFKA_BOOTSTRAP"], "-P", "-t", topic, "-K:"],
        input="\n".join(sent) + "\n")
    got = run(["kcat", "-b", stack["KAFKA_BOOTSTRAP"], "-C", "-t", topic, "-o", "beginning",
               "-e", "-q", "-f", "%k:%s\n"]).stdout.splitlines()
    assert sorted(got) == sorted(sent)


def test_kafka_topics_are_not_created_by_accident(stack, unique):
    # auto.create.topics.enable=false: producing to an unknown topic fails
    # rather than quietly creating it with default settings.
    p = run(["kcat", "-b", stack["KAFKA_BOOTSTRAP"], "-P", "-t", f"missing-{unique}",
             "-X", "message.timeout.ms=3000"], input="x\n", check=False)
    assert p.returncode != 0
    meta = run(["kcat", "-b", stack["KAFKA_BOOTSTRAP"], "-L", "-J"]).stdout
    assert f"missing-{unique}" not in [t["topic"] for t in json.loads(meta)["topics"]]


def psql(stack, sql):
    return run(["psql", "-X", "-v", "ON_ERROR_STOP=1", "-tA", "-d", stack["PG_DSN"], "-c", sql],
               env={**stack}).stdout.strip()


def test_postgres_row_written_and_read(stack, unique):
    table = f"e2e_{unique}"
    psql(stack, f"CREATE TABLE {table} (id int PRIMARY KEY, label text)")
    psql(stack, f"INSERT INTO {table} VALUES (1, 'one'), (2, 'two') "
                f"ON CONFLICT (id) DO UPDATE SET label = excluded.label")
    assert psql(stack, f"SELECT label FROM {table} ORDER BY id") == "one\ntwo"
    assert psql(stack, "SHOW listen_addresses") == "127.0.0.1"


def test_redis_key_with_ttl(stack, unique):
    cli = ["redis-cli", "-h", stack["REDIS_HOST"], "-p", stack["REDIS_PORT"]]
    assert run(cli + ["SET", f"e2e:{unique}", "hello", "EX", "3600"]).stdout.strip() == "OK"
    assert run(cli + ["GET", f"e2e:{unique}"]).stdout.strip() == "hello"
    ttl = int(run(cli + ["TTL", f"e2e:{unique}"]).stdout)
    assert 3590 <= ttl <= 3600


def test_influxdb_point_written_and_queried(stack, unique):
    url, db = stack["INFLUX_URL"], stack["INFLUX_DB"]
    line = f"e2e_{unique},host=a value=1.5 1700000000000000000\n"
    req = urllib.request.Request(f"{url}/write?db={db}", data=line.encode(), method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 204
    q = urllib.parse.urlencode({"db": db, "q": f"SELECT value, host FROM e2e_{unique}"})
    with urllib.request.urlopen(f"{url}/query?{q}", timeout=10) as r:
        series = json.load(r)["results"][0]["series"][0]
    assert series["columns"] == ["time", "value", "host"]
    assert series["values"] == [["2023-11-14T22:13:20Z", 1.5, "a"]]


def test_every_server_listens_on_loopback_only(stack):
    pids = run(["bash", "-c", f"cat {stack['SLUICE_STACK_DIR']}/pids/*.pid"]).stdout.split()
    assert pids
    listening = run(["ss", "-Hltnp"]).stdout.splitlines()
    ours = [l for l in listening if any(f"pid={p}," in l for p in pids)]
    assert ours, listening
    for l in ours:
        local = l.split()[3]
        assert local.startswith(("127.0.0.1:", "[::ffff:127.0.0.1]:")), l


def test_server_stopped_and_started_again_keeps_its_data(stack, unique):
    table = f"restart_{unique}"
    psql(stack, f"CREATE TABLE {table} (v int); INSERT INTO {table} VALUES (42)")
    stack_sh(stack, "stop", "postgres")
    p = subprocess.run(["psql", "-X", "-tA", "-d", stack["PG_DSN"], "-c", "select 1"],
                       capture_output=True, text=True)
    assert p.returncode != 0  # really down
    stack_sh(stack, "start", "postgres")
    assert psql(stack, f"SELECT v FROM {table}") == "42"


def test_influxdb_v2_write_api_with_token(stack, unique):
    # InfluxDB 1.8's /api/v2/write (bucket = database/retention policy), the
    # API the telemetry sinks offer besides v1 /write.
    url, db = stack["INFLUX_URL"], stack["INFLUX_DB"]
    req = urllib.request.Request(
        f"{url}/api/v2/write?bucket={db}/autogen&precision=s",
        data=f"v2_{unique},host=b value=7i 1700000000\n".encode(), method="POST",
        headers={"Authorization": "Token sluice:unused"})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 204
    q = urllib.parse.urlencode({"db": db, "q": f"SELECT value FROM v2_{unique}"})
    with urllib.request.urlopen(f"{url}/query?{q}", timeout=10) as r:
        assert json.load(r)["results"][0]["series"][0]["values"] == [["2023-11-14T22:13:20Z", 7]]
