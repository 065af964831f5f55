"""A single-node KRaft Kafka broker run from jars fetched with Maven."""

from __future__ import annotations

import base64
import fcntl
import hashlib
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from .._proc import HOST, DevstackError, ManagedProcess, Timing, port_free, run_coro, tail, wait_for

HERE = Path(__file__).parent
POM = HERE / "pom.xml"
LOG4J = HERE / "log4j2.properties"


def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    found = shutil.which("java")
    if not found:
        raise DevstackError("kafka: no `java` on PATH (Java 17+ is needed)")
    return found


def fetch_jars(cache_dir: Path) -> tuple[Path, bool]:
    """Return (classpath dir, whether it was fetched now).

    The dir is keyed by the pom's hash, so a version bump fetches anew, and
    counts as complete only once the marker exists: a fetch cut short is
    redone from scratch. A file lock keeps parallel callers from fetching
    into the same dir at once.
    """
    pom = POM.read_bytes()
    home = Path(cache_dir) / f"kafka-{hashlib.sha256(pom).hexdigest()[:12]}"
    libs, marker = home / "libs", home / ".complete"
    if marker.exists():
        return libs, False
    home.mkdir(parents=True, exist_ok=True)
    with open(home / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():
            return libs, False
        mvn = shutil.which("mvn")
        if not mvn:
            raise DevstackError("kafka: no `mvn` on PATH to fetch the broker jars")
        shutil.rmtree(libs, ignore_errors=True)
        (home / "pom.xml").write_bytes(pom)
        log = home / "fetch.log"
        with open(log, "wb") as out:
            rc = subprocess.call(
                [mvn, "-q", "-B", "dependency:copy-dependencies", "-DoutputDirectory=libs"],
                cwd=home,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        if rc != 0 or not any(libs.glob("kafka_2.13-*.jar")):
            raise DevstackError(f"kafka: jar fetch failed (mvn exit {rc})\n{tail(log)}")
        marker.write_text(f"{len(list(libs.glob('*.jar')))} jars\n")
        return libs, True


def _cluster_id() -> str:
    # What `StorageTool random-uuid` prints (base64url of 16 random bytes),
    # made here to save a JVM start; Kafka rejects ids starting with '-'.
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


class Kafka(ManagedProcess):
    """Broker and controller in one JVM, listening on loopback only."""

    stop_timeout = 30.0

    def __init__(
        self,
        state_dir: Path,
        port: int,
        controller_port: int,
        cache_dir: Path,
        *,
        start_timeout: float = 120.0,
        heap: str = "512m",
    ) -> None:
        self.name = "kafka"
        self.state_dir = Path(state_dir).resolve()
        self.port = port
        self.controller_port = controller_port
        self.cache_dir = Path(cache_dir).resolve()
        self.start_timeout = start_timeout
        self.heap = heap
        self.pid_file = self.state_dir / "kafka.pid"
        self.log_file = self.state_dir / "kafka.out"  # JVM stdout/stderr
        self.broker_log = self.state_dir / "kafka.log"  # log4j
        self.config = self.state_dir / "server.properties"
        self.data_dir = self.state_dir / "data"
        self.libs: Path | None = None

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"

    def _logs(self) -> list[Path]:
        return [self.log_file, self.broker_log]

    def _java_cmd(self, main: str, *args: str) -> list[str]:
        return [
            _java(),
            f"-Xmx{self.heap}",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={LOG4J}",
            f"-Dkafka.logs.dir={self.state_dir}",
            "-cp",
            f"{self.libs}/*",
            main,
            *args,
        ]

    def _write_config(self) -> None:
        c = self.controller_port
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{HOST}:{c}",
            "listeners": f"PLAINTEXT://{HOST}:{self.port},CONTROLLER://{HOST}:{c}",
            "advertised.listeners": f"PLAINTEXT://{HOST}:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "num.partitions": "3",
            "auto.create.topics.enable": "true",
        }
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.config.write_text("".join(f"{k}={v}\n" for k, v in props.items()))

    def _prepare(self, timing: Timing) -> None:
        t = time.monotonic()
        self.libs, fetched = fetch_jars(self.cache_dir)
        if fetched:
            timing.phases["fetch"] = time.monotonic() - t
            timing.kind = "cold"
        # Rewritten each start so changed ports apply; the data stays.
        self._write_config()
        if not (self.data_dir / "meta.properties").exists():
            t = time.monotonic()
            self._format()
            timing.phases["format"] = time.monotonic() - t
            timing.kind = "cold"

    def _format(self) -> None:
        # A dir without meta.properties is a format cut short: start clean.
        shutil.rmtree(self.data_dir, ignore_errors=True)
        cmd = self._java_cmd("kafka.tools.StorageTool", "format", "-t", _cluster_id(), "-c", str(self.config))
        with open(self.log_file, "ab") as out:
            rc = subprocess.call(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        if rc != 0:
            raise DevstackError(self._failure(f"storage format failed (exit {rc})"))

    def _command(self) -> list[str]:
        return self._java_cmd("kafka.Kafka", str(self.config))

    def _ready(self) -> bool:
        async def probe() -> bool:
            admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=5000)
            try:
                await admin.start()
                info = await admin.describe_cluster()
                return bool(info["brokers"]) and info.get("controller_id", -1) >= 0
            finally:
                await admin.close()

        try:
            return run_coro(probe(), timeout=10)
        except Exception:
            return False

    def stop(self) -> None:
        super().stop()
        if not wait_for(lambda: port_free(self.controller_port), 15):
            raise DevstackError(f"kafka: controller port {self.controller_port} still taken")
