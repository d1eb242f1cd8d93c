"""The two binaries, driven from outside as a user or a kubelet would: version
and help, JSON logs on stderr, the /metrics, /healthz and /readyz endpoint,
configuration from a YAML file, the environment and flags, clear errors for
bad input, and a clean exit on SIGTERM."""
import json
import pathlib
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import ROOT, run

BIN = ROOT / "build"


def start(args, env=None):
    p = subprocess.Popen([str(BIN / args[0]), *args[1:]], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env)
    # The endpoint's port is in the "http endpoint listening" log line.
    deadline = time.time() + 10
    lines = []
    while time.time() < deadline:
        line = p.stderr.readline()
        if not line:
            break
        lines.append(json.loads(line))
        if lines[-1]["msg"] == "http endpoint listening":
            return p, lines, int(lines[-1]["port"])
    p.kill()
    pytest.fail(f"{args[0]} did not report its endpoint: {lines}")


def get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


@pytest.mark.parametrize("binary", ["sluice-operator", "sluice-worker"])
def test_version_and_help(binary):
    version = (ROOT / "VERSION").read_text().strip()
    v = subprocess.run([str(BIN / binary), "--version"], capture_output=True, text=True)
    assert v.returncode == 0 and v.stdout.startswith(f"{binary} {version} (git ")
    h = subprocess.run([str(BIN / binary), "--help"], capture_output=True, text=True)
    assert h.returncode == 0 and "--metrics-port" in h.stdout and "SLUICE_LOG_LEVEL" in h.stdout


def test_operator_serves_metrics_and_health_then_stops_on_sigterm(stack):
    # Its caches list VideoJobs and TelemetryWindows: /readyz waits for the CRDs.
    run(["kubectl", "--kubeconfig", stack["KUBECONFIG"], "apply", "-f", str(ROOT / "crds")])
    p, lines, port = start(["sluice-operator", "--metrics-port", "0", "--kubeconfig",
                            stack["KUBECONFIG"], "--leader-elect=false"])
    try:
        assert all({"ts", "level", "component", "msg"} <= set(l) for l in lines)
        assert lines[0]["component"] == "operator" and lines[0]["msg"] == "starting"
        assert get(port, "/healthz")[0] == 200
        # Ready once its caches have listed from the API server.
        deadline = time.time() + 20
        while get(port, "/readyz")[0] != 200 and time.time() < deadline:
            time.sleep(0.2)
        assert get(port, "/readyz")[0] == 200
        status, ctype, body = get(port, "/metrics")
        assert status == 200 and ctype.startswith("text/plain; version=0.0.4")
        assert "# TYPE sluice_build_info gauge" in body
        assert get(port, "/nothing")[0] == 404
    finally:
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=10)
    assert rc == 0
    msgs = [json.loads(l)["msg"] for l in p.stderr.read().splitlines()]
    assert "stop requested" in msgs and msgs[-1] == "stopped"


def test_configuration_precedence_file_env_flag(stack, tmp_path):
    cfg = tmp_path / "operator.yaml"
    cfg.write_text("log:\n  level: debug\nmetrics:\n  port: 0\nnamespace: from-file\n")
    env = {"SLUICE_NAMESPACE": "from-env", "PATH": "/usr/bin:/bin",
           "KUBECONFIG": stack["KUBECONFIG"], "SLUICE_LEADER_ELECT": "false"}
    p, lines, port = start(["sluice-operator", "--config", str(cfg)], env=env)
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=10)
    running = [l for l in lines + [json.loads(l) for l in p.stderr.read().splitlines()]
               if l["msg"] == "operator running"]
    assert running[0]["namespace"] == "from-env"       # env beats file
    p, lines, port = start(["sluice-operator", "--config", str(cfg), "--namespace", "flag"],
                           env=env)
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=10)
    running = [l for l in lines + [json.loads(l) for l in p.stderr.read().splitlines()]
               if l["msg"] == "operator running"]
    assert running[0]["namespace"] == "flag"           # flag beats env


def test_bad_input_gives_clear_errors(tmp_path):
    bad = subprocess.run([str(BIN / "sluice-operator"), "--metrics-port", "70000"],
                         capture_output=True, text=True)
    assert bad.returncode == 2
    assert "--metrics-port" in bad.stderr and "70000" in bad.stderr
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("metrics:\n  prot: 1\n")
    bad = subprocess.run([str(BIN / "sluice-operator"), "--config", str(cfg)],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "metrics.prot" in bad.stderr and str(cfg) in bad.stderr
    bad = subprocess.run([str(BIN / "sluice-worker"), "no-such-mode"], capture_output=True,
                         text=True)
    assert bad.returncode == 2 and "unknown mode 'no-such-mode'" in bad.stderr


def test_port_in_use_is_reported():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = subprocess.run([str(BIN / "sluice-operator"), "--metrics-port", str(port)],
                           capture_output=True, text=True, timeout=10)
    assert r.returncode != 0
    assert f"127.0.0.1:{port}" in r.stderr and "Address already in use" in r.stderr
