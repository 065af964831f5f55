"""Newcomer papercuts: ports outside the ephemeral range, and tables whose
URLs stay whole when the output is not a terminal."""

from __future__ import annotations

import os
import subprocess
import sys

from dsr_devstack import SERVICES, Stack, free_port
from dsr_devstack._proc import ephemeral_ports


def test_free_ports_are_outside_the_ephemeral_range_and_never_handed_out_twice():
    ephemeral = ephemeral_ports()
    ports = [free_port() for _ in range(50)]
    assert not [p for p in ports if p in ephemeral]
    assert len(set(ports)) == len(ports)


def test_the_fixed_ports_of_make_run_are_outside_the_ephemeral_range(tmp_path, monkeypatch):
    for name in [n for n in os.environ if n.startswith("DSR_") and n.endswith("_PORT")]:
        monkeypatch.delenv(name)
    ephemeral = ephemeral_ports()
    assert [(name, port) for name, port in Stack(tmp_path).ports() if port in ephemeral] == []


def test_status_prints_every_url_whole_into_a_pipe(tmp_path):
    # A long state path: at 80 columns its log paths and the URLs would wrap.
    root = tmp_path / ("a-rather-long-directory-name-for-the-devstack-state-" * 2)
    env = {**os.environ, "DSR_DEVSTACK_DIR": str(root)}
    env.pop("COLUMNS", None)
    out = subprocess.run(
        [sys.executable, "-m", "dsr_devstack", "status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    stack = Stack(root)
    for service in SERVICES:
        assert stack.services[service].url in out
        assert str(stack.services[service].log_file) in out
    assert stack.db.uri in out
