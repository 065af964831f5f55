"""SecantusDB, the MongoDB-wire-compatible database, as a local server."""

from __future__ import annotations

import sys
from pathlib import Path

from pymongo import MongoClient

from ._proc import HOST, ManagedProcess, Timing


class SecantusDB(ManagedProcess):
    """A single-node `secantus` replica set with data on disk in state_dir."""

    def __init__(self, state_dir: Path, port: int, *, start_timeout: float = 60.0) -> None:
        self.name = "secantusdb"
        self.state_dir = Path(state_dir).resolve()
        self.port = port
        self.start_timeout = start_timeout
        self.pid_file = self.state_dir / "secantusdb.pid"
        self.log_file = self.state_dir / "secantusdb.log"
        self.data_dir = self.state_dir / "data"
        self.config = self.state_dir / "secantusd.toml"

    @property
    def uri(self) -> str:
        # The server advertises itself as primary of replica set `secantus`
        # at host:port; naming the set gives transactions and change streams
        # the same replica-set topology the services see in production.
        # No retryable writes: SecantusDB 0.7 keeps a record of each one and,
        # past 10,000, sorts them all on every write (two thirds of its CPU
        # under load, bench/README.md). On a local server they guard against
        # little (no failover, no network between); transactions retry whole,
        # and the writes outside one that the services retry are idempotent.
        return f"mongodb://{HOST}:{self.port}/?replicaSet=secantus&retryWrites=false"

    def _prepare(self, timing: Timing) -> None:
        if not self.data_dir.exists():
            timing.kind = "cold"
        self.state_dir.mkdir(parents=True, exist_ok=True)
        # An explicit config file turns off the server's search of the cwd
        # and home dir for one, so a stray file there can't change it.
        self.config.write_text("# all settings are given on the command line\n")

    def _command(self) -> list[str]:
        # `python -m secantus` is what the `secantusd-py` script runs; going
        # through this interpreter needs no script dir on PATH.
        return [
            sys.executable,
            "-m",
            "secantus",
            "--config",
            str(self.config),
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--storage-path",
            str(self.data_dir),
            "--sync-on-commit",
            "--cache-size",
            "256M",
            "--log-level",
            "INFO",
        ]

    def _ready(self) -> bool:
        client = MongoClient(self.uri, serverSelectionTimeoutMS=2000, connectTimeoutMS=2000)
        try:
            return client.admin.command("ping").get("ok") == 1
        except Exception:
            return False
        finally:
            client.close()
