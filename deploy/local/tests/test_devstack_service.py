from __future__ import annotations

import os
import signal
import textwrap

import httpx
import pytest

from dsr_devstack import DevstackError, ServiceProcess, free_port
from dsr_devstack._proc import pid_alive, port_free, wait_for

# A stand-in for a DSR service: answers /health/ready, tells its pid and
# that of a child it spawned (to check that stopping reaches children).
FAKE = textwrap.dedent(
    """
    import json, os, subprocess, sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"pid": os.getpid(), "child": child.pid,
                               "name": os.environ["DSR_SERVICE_NAME"]}).encode()
            self.send_response(200 if self.path in ("/health/ready", "/info") else 404)
            self.end_headers()
            self.wfile.write(body)

    print("fake service up", flush=True)
    ThreadingHTTPServer(("127.0.0.1", int(os.environ["DSR_HTTP_PORT"])), Handler).serve_forever()
    """
)


@pytest.fixture
def fake_module(tmp_path, monkeypatch):
    (tmp_path / "fake_dsr_service.py").write_text(FAKE)
    (tmp_path / "broken_dsr_service.py").write_text("raise SystemExit('no config')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    return "fake_dsr_service"


def service(tmp_path, module, port=None):
    port = port or free_port()
    env = {"DSR_HTTP_PORT": str(port), "DSR_SERVICE_NAME": "fake"}
    return ServiceProcess("fake", module, port, env, tmp_path / "logs" / "fake.log")


def info(svc):
    return httpx.get(f"{svc.url}/info", timeout=5).json()


def test_start_kill_restart(tmp_path, fake_module, cleanup):
    svc = service(tmp_path, fake_module)
    cleanup(svc)
    svc.start()
    first = info(svc)
    assert first["name"] == "fake" and svc.running and svc.pid == first["pid"]

    svc.kill()  # as a crash would: no chance to clean up
    assert not pid_alive(first["pid"]) and port_free(svc.port)
    # The child was in the service's process group, so it went too.
    assert wait_for(lambda: not pid_alive(first["child"]), 10)
    assert not svc.running

    svc.start()
    second = info(svc)
    assert second["pid"] != first["pid"]

    svc.restart()
    third = info(svc)
    assert third["pid"] != second["pid"]
    assert wait_for(lambda: not pid_alive(second["child"]), 10)

    svc.stop()
    assert not pid_alive(third["pid"]) and port_free(svc.port)
    assert wait_for(lambda: not pid_alive(third["child"]), 10)
    assert "fake service up" in (tmp_path / "logs" / "fake.log").read_text()


def test_start_of_failing_module_reports_its_log(tmp_path, fake_module, cleanup):
    svc = service(tmp_path, "broken_dsr_service")
    cleanup(svc)
    with pytest.raises(DevstackError, match="no config"):
        svc.start()


def test_stop_reaches_children_of_a_dead_service(tmp_path, fake_module, cleanup):
    svc = service(tmp_path, fake_module)
    cleanup(svc)
    svc.start()
    first = info(svc)
    os.kill(first["pid"], signal.SIGKILL)  # the child is left running
    assert wait_for(lambda: not pid_alive(first["pid"]), 10)
    assert pid_alive(first["child"])

    svc.stop()
    assert wait_for(lambda: not pid_alive(first["child"]), 10)
