"""One DSR microservice run as `python -m <module>`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import httpx

from ._proc import HOST, ManagedProcess


class ServiceProcess(ManagedProcess):
    """Ready when GET /health/ready answers 200. The pid file sits next to
    the log file, so another process (`down`) can find it again."""

    def __init__(
        self,
        name: str,
        module: str,
        port: int,
        env: dict[str, str],
        log_file: Path,
        *,
        start_timeout: float = 60.0,
        stop_timeout: float = 15.0,
    ) -> None:
        self.name = name
        self.module = module
        self.port = port
        self.env = dict(env)
        self.log_file = Path(log_file).resolve()
        self.pid_file = self.log_file.with_suffix(".pid")
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def _owner_token(self) -> str:
        return f"-m {self.module}"

    def _env(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    def _command(self) -> list[str]:
        return [sys.executable, "-m", self.module]

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def restart(self) -> None:
        self.stop()
        self.start()
