"""`python -m dsr_devstack up/status/down` as separate processes, the way a
developer uses them, with stand-ins for the services."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import httpx

from dsr_devstack import SERVICES, free_port
from dsr_devstack._proc import port_free

# Echoes its DSR_* environment, to check what `up` hands each service.
STANDIN = textwrap.dedent(
    """
    import json, os
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            env = {k: v for k, v in os.environ.items() if k.startswith("DSR_")}
            self.send_response(200)
            self.end_headers()
            self.wfile.write(json.dumps(env).encode())

    ThreadingHTTPServer(("127.0.0.1", int(os.environ["DSR_HTTP_PORT"])), Handler).serve_forever()
    """
)


def devstack(env, *args):
    return subprocess.run(
        [sys.executable, "-m", "dsr_devstack", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_up_status_down(tmp_path, jar_cache):
    for name in SERVICES:
        (tmp_path / f"dsr_{name}.py").write_text(STANDIN)
    ports = {
        "DSR_KAFKA_PORT": free_port(),
        "DSR_KAFKA_CONTROLLER_PORT": free_port(),
        "DSR_MONGO_PORT": free_port(),
        "DSR_SMTP_PORT": free_port(),
        "DSR_OIDC_PORT": free_port(),
        "DSR_MLLP_PORT": free_port(),
        **{f"DSR_{name.upper()}_PORT": free_port() for name in SERVICES},
    }
    env = {
        **os.environ,
        **{k: str(v) for k, v in ports.items()},
        "DSR_DEVSTACK_DIR": str(tmp_path / "state"),
        "DSR_DEVSTACK_CACHE": str(jar_cache),
        "PYTHONPATH": str(tmp_path),  # the stand-ins shadow real services
        "COLUMNS": "200",
    }
    try:
        up = devstack(env, "up")
        assert up.returncode == 0, up.stdout + up.stderr
        assert "make stop" in up.stdout and "cold" in up.stdout

        seen = httpx.get(f"http://127.0.0.1:{ports['DSR_RATING_PORT']}/", timeout=5).json()
        expected = {
            "DSR_KAFKA_BOOTSTRAP": f"127.0.0.1:{ports['DSR_KAFKA_PORT']}",
            "DSR_MONGO_URI": f"mongodb://127.0.0.1:{ports['DSR_MONGO_PORT']}/?replicaSet=secantus&retryWrites=false",
            "DSR_SMTP_HOST": "127.0.0.1",
            "DSR_SMTP_PORT": str(ports["DSR_SMTP_PORT"]),
            "DSR_HTTP_PORT": str(ports["DSR_RATING_PORT"]),
            "DSR_SERVICE_NAME": "rating",
            "DSR_DEVELOPMENT_MODE": "true",
            "DSR_AUTH_ISSUER": f"http://127.0.0.1:{ports['DSR_IDENTITY_PORT']}",
        }
        assert {k: seen.get(k) for k in expected} == expected
        # The demo personas, and the provider they sign in at.
        provider = f"http://127.0.0.1:{ports['DSR_OIDC_PORT']}"
        assert provider in up.stdout and "demo-dsr-team" in up.stdout
        assert httpx.get(f"{provider}/.well-known/openid-configuration", timeout=5).json()["issuer"] == provider

        again = devstack(env, "up", "--infra-only")
        assert again.returncode == 0 and again.stdout.count("s reused") == 4, again.stdout

        status = devstack(env, "status")
        assert status.returncode == 0
        assert status.stdout.count(" up ") == 4 + len(SERVICES), status.stdout
        assert (tmp_path / "state" / "timings.jsonl").exists()
    finally:
        down = devstack(env, "down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert all(port_free(p) for p in ports.values())

    status = devstack(env, "status")
    assert " up " not in status.stdout
