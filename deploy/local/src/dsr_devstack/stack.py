"""The whole local stack: where its state lives, its ports, up and down."""

from __future__ import annotations

import importlib.util
import json
import os
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

from dsr_shared.contract.topology import SERVICES as TOPOLOGY
from ._proc import HOST, DevstackError, ManagedProcess, Timing, port_free
from .identity import identity_env
from .kafka import Kafka
from .oidc_provider import OidcProvider
from .secantus import SecantusDB
from .service import ServiceProcess
from .smtp_sink import SmtpSink
from .web import web_env

# Service name -> default HTTP port, in starting order (the identity service
# first: the others verify tokens with its keys); each runs as `python -m dsr_<name>`.
SERVICES = {name: service.port for name, service in TOPOLOGY.items()}
# Where the hospital gateway takes HL7 v2 over MLLP (DSR_MLLP_PORT).
MLLP_PORT = 2575


def find_repo_root(start: Path | None = None) -> Path:
    """The nearest dir at or above `start` whose pyproject.toml declares
    the uv workspace."""
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        pyproject = d / "pyproject.toml"
        if pyproject.is_file():
            try:
                data = tomllib.loads(pyproject.read_text())
            except (OSError, tomllib.TOMLDecodeError):
                continue
            if "workspace" in data.get("tool", {}).get("uv", {}):
                return d
    raise DevstackError(f"no uv workspace root at or above {here}")


def state_root(repo_root: Path | None = None) -> Path:
    """DSR_DEVSTACK_DIR, or `.devstack/` at the repository root (found from
    the cwd unless given)."""
    env = os.environ.get("DSR_DEVSTACK_DIR")
    if env:
        return Path(env).resolve()
    return (repo_root or find_repo_root()) / ".devstack"


def _cache_in(state: Path) -> Path:
    # DSR_DEVSTACK_CACHE lets several state dirs (tests, other checkouts)
    # share one fetch of the Kafka jars.
    env = os.environ.get("DSR_DEVSTACK_CACHE")
    return Path(env).resolve() if env else state / "cache"


def cache_root(repo_root: Path | None = None) -> Path:
    """Where the Kafka jars are kept: DSR_DEVSTACK_CACHE, else `cache/` in
    state_root(repo_root)."""
    return _cache_in(state_root(repo_root))


def _port(var: str, default: int) -> int:
    return int(os.environ.get(var, default))


class Stack:
    """Every part, with state under `root` (default: state_root()) and the
    ports from the environment (defaults in brackets):
    DSR_KAFKA_PORT [19092], DSR_KAFKA_CONTROLLER_PORT [19093],
    DSR_MONGO_PORT [27018], DSR_SMTP_PORT [2525], DSR_OIDC_PORT [9400],
    DSR_<NAME>_PORT [8001-8006, web 8080], DSR_MLLP_PORT [2575] (the hospital
    gateway's HL7 v2 listener). Development mode: the shipped development
    values are accepted, and the directory knows the demo personas.
    """

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root).resolve() if root else state_root()
        self.kafka = Kafka(
            self.root / "kafka",
            _port("DSR_KAFKA_PORT", 19092),
            _port("DSR_KAFKA_CONTROLLER_PORT", 19093),
            _cache_in(self.root),
        )
        self.db = SecantusDB(self.root / "secantusdb", _port("DSR_MONGO_PORT", 27018))
        self.smtp = SmtpSink(self.root / "smtp", _port("DSR_SMTP_PORT", 2525))
        self.provider = OidcProvider(self.root / "oidc", _port("DSR_OIDC_PORT", 9400))
        self.identity_url = f"http://{HOST}:{_port('DSR_IDENTITY_PORT', SERVICES['identity'])}"
        self.mllp_port = _port("DSR_MLLP_PORT", MLLP_PORT)
        self.services: dict[str, ServiceProcess] = {}
        for name, default in SERVICES.items():
            port = _port(f"DSR_{name.upper()}_PORT", default)
            self.services[name] = ServiceProcess(
                name,
                f"dsr_{name}",
                port,
                self.service_env(name, port),
                self.root / "services" / f"{name}.log",
            )

    def service_env(self, name: str, port: int) -> dict[str, str]:
        env = {
            "DSR_KAFKA_BOOTSTRAP": self.kafka.bootstrap,
            "DSR_MONGO_URI": self.db.uri,
            "DSR_SMTP_HOST": HOST,
            "DSR_SMTP_PORT": str(self.smtp.port),
            "DSR_HTTP_PORT": str(port),
            "DSR_SERVICE_NAME": name,
            "DSR_DEVELOPMENT_MODE": "true",
            "DSR_AUTH_ISSUER": self.identity_url,
        }
        if name == "identity":
            env.update(
                identity_env(
                    issuer=self.identity_url,
                    provider=self.provider,
                    key_file=self.root / "identity" / "signing-key.pem",
                    seed_personas=True,
                )
            )
        if name == "web":
            urls = {
                other: f"http://{HOST}:{_port(f'DSR_{other.upper()}_PORT', default)}"
                for other, default in SERVICES.items()
                if other != "web"
            }
            env.update(web_env(public_url=f"http://{HOST}:{port}", service_urls=urls, provider=self.provider))
        if name == "hospital_gateway":
            env["DSR_MLLP_PORT"] = str(self.mllp_port)
        return env

    @property
    def infra(self) -> list[ManagedProcess]:
        return [self.kafka, self.db, self.smtp, self.provider]

    @property
    def parts(self) -> list[ManagedProcess]:
        return [*self.infra, *self.services.values()]

    def up(
        self,
        infra_only: bool = False,
        on_start: Callable[[ManagedProcess], None] = lambda part: None,
    ) -> dict[str, Timing]:
        """Start the parts in order; return each one's start-up timing."""
        parts = self.infra if infra_only else self.parts
        for svc in self.services.values():
            if svc in parts and importlib.util.find_spec(svc.module) is None:
                raise DevstackError(f"{svc.module} is not installed in this environment (run `uv sync`)")
        timings = {}
        for part in parts:
            on_start(part)
            timings[part.name] = part.start()
            self._record(part.name, timings[part.name])
        return timings

    def _record(self, name: str, timing: Timing) -> None:
        # One JSON line per start, so start-up times can be compared later.
        line = {
            "at": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "part": name,
            "seconds": round(timing.seconds, 2),
            "kind": timing.kind,
            "phases": {k: round(v, 2) for k, v in timing.phases.items()},
        }
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "timings.jsonl", "a") as f:
            f.write(json.dumps(line) + "\n")

    def ports(self) -> list[tuple[str, int]]:
        out = [(p.name, p.port) for p in self.parts]
        out.insert(1, ("kafka controller", self.kafka.controller_port))
        out.append(("hospital_gateway mllp", self.mllp_port))
        return out

    def down(self) -> tuple[list[str], list[tuple[str, int]]]:
        """Stop every part this devstack started, services first.

        Returns (errors, ports still taken); both empty means all is down.
        """
        errors = []
        for part in reversed(self.parts):
            if part.pid is None:
                continue  # not ours, or not running: leave it alone
            try:
                part.stop()
            except DevstackError as e:
                errors.append(str(e))
        busy = [(name, port) for name, port in self.ports() if not port_free(port)]
        return errors, busy
