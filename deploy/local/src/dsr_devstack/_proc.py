"""Process plumbing shared by every part: ports, pid files, spawn, stop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"


class DevstackError(RuntimeError):
    """A part failed to start or stop; the message carries its log tail."""


# Where free ports are looked for: above the well-known and common server
# ports, outside the kernel's ephemeral range (see ephemeral_ports()).
FREE_PORTS = range(20000, 65536)
_handed_out: set[int] = set()


def ephemeral_ports() -> range:
    """The kernel's range for the local ports of outgoing connections. A
    server port in it can be taken by a client meanwhile: a client reconnecting
    to a stopped server on such a port may even connect to itself, and the
    server then cannot start again ("address in use")."""
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999  # Linux's default
    return range(low, high + 1)


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now, outside the
    ephemeral range, and not handed out before by this process."""
    ephemeral = ephemeral_ports()
    candidates = [p for p in FREE_PORTS if p not in ephemeral]
    for port in random.sample(candidates, min(len(candidates), 200)):
        if port not in _handed_out and port_free(port) and not port_answers(port):
            _handed_out.add(port)
            return port
    raise DevstackError(
        f"no free port in {FREE_PORTS.start}-{FREE_PORTS.stop - 1} outside the ephemeral range "
        f"{ephemeral.start}-{ephemeral.stop - 1}"
    )


def port_answers(port: int, host: str = HOST) -> bool:
    """True when something accepts TCP connections on the port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def port_free(port: int, host: str = HOST) -> bool:
    """True when a server could bind the port again.

    SO_REUSEADDR as the servers themselves use it, so sockets left in
    TIME_WAIT by clients do not count as taken.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def pid_alive(pid: int) -> bool:
    """True for a live process; a zombie counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    # The state letter follows the parenthesised command name.
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def group_alive(pgid: int) -> bool:
    """True while a live (non-zombie) process is in the process group."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    # killpg also counts zombies, which an init that never reaps would keep
    # around forever; look for a member that is really running.
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        if fields[2] == str(pgid) and fields[0] != "Z":
            return True
    return False


def cmdline(pid: int) -> str | None:
    """The process's command line, or None where /proc can't tell."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return raw.replace(b"\0", b" ").decode(errors="replace")


def run_coro(coro, timeout: float):
    """Run a coroutine to completion from sync code.

    A fresh loop in a worker thread, so it works whether or not the caller
    is itself inside a running event loop (as async tests are).
    """
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, asyncio.wait_for(coro, timeout)).result()


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


def wait_for(cond: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if cond():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


@dataclass
class Timing:
    """How long one start() took; `kind` is cold, warm or reused."""

    seconds: float
    kind: str
    phases: dict[str, float] = field(default_factory=dict)

    def describe(self) -> str:
        parts = ", ".join(f"{k} {v:.1f}s" for k, v in self.phases.items())
        return f"{self.seconds:.1f}s {self.kind}" + (f" ({parts})" if parts else "")


class ManagedProcess:
    """One server process, found again through its pid file.

    Subclasses set `name`, `port`, `pid_file`, `log_file` and implement
    `_command()`, `_ready()` and optionally `_prepare()`.
    """

    name: str
    port: int
    pid_file: Path
    log_file: Path
    start_timeout: float = 60.0
    stop_timeout: float = 20.0

    _popen: subprocess.Popen | None = None
    timing: Timing | None = None

    # -- to override ------------------------------------------------------
    def _command(self) -> list[str]:
        raise NotImplementedError

    def _ready(self) -> bool:
        raise NotImplementedError

    def _env(self) -> dict[str, str] | None:
        return None

    def _prepare(self, timing: Timing) -> None:
        """Work done before spawning (fetch, format); may set timing.kind."""

    def _owner_token(self) -> str:
        """A string that appears in this part's command line, to tell a
        recycled pid from ours."""
        return str(self.pid_file.parent) + os.sep

    def _logs(self) -> list[Path]:
        return [self.log_file]

    # -- state -------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        if not pid_alive(pid):
            return None
        line = cmdline(pid)
        if line is not None and self._owner_token() not in line:
            return None
        return pid

    @property
    def running(self) -> bool:
        return self.pid is not None and port_answers(self.port)

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> Timing:
        """Start, or reuse the process from the pid file; block until ready."""
        t0 = time.monotonic()
        timing = Timing(0.0, "warm")
        pid = self.pid
        if pid is None:
            if port_answers(self.port):
                raise DevstackError(f"{self.name}: port {self.port} is taken by a process this devstack did not start")
            self._prepare(timing)
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            t_spawn = time.monotonic()
            self._spawn()
        else:
            timing.kind = "reused"
            t_spawn = time.monotonic()
        try:
            self._wait_ready()
        except DevstackError:
            if pid is None:
                # Ours and not ready: leave no half-started process behind.
                try:
                    self.kill()
                except DevstackError:
                    pass
            raise
        now = time.monotonic()
        if timing.phases:
            timing.phases["start"] = now - t_spawn
        timing.seconds = now - t0
        self.timing = timing
        return timing

    def _spawn(self) -> None:
        with open(self.log_file, "ab") as log:
            log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting\n".encode())
            log.flush()
            # Own session: stop() signals the whole group, children included.
            self._popen = subprocess.Popen(
                self._command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._env(),
                start_new_session=True,
            )
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        self.pid_file.write_text(f"{self._popen.pid}\n")

    def _exited(self) -> bool:
        if self._popen is not None:
            return self._popen.poll() is not None
        pid = self.pid
        return pid is None

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self._exited():
                raise DevstackError(self._failure("exited before it was ready"))
            if port_answers(self.port) and self._ready():
                return
            if time.monotonic() >= deadline:
                raise DevstackError(self._failure(f"not ready after {self.start_timeout:.0f}s"))
            time.sleep(0.2)

    def down(self, patience: float = 20.0) -> str | None:
        """None while it serves; else what is wrong and its log's tail. A busy
        server gets `patience` seconds to answer before it counts as hung."""
        if self.pid is None:
            return self._failure("has exited")
        if wait_for(lambda: port_answers(self.port) and self._ready(), patience, interval=1.0):
            return None
        return self._failure(f"has not answered for {patience:.0f}s")

    def _failure(self, what: str) -> str:
        logs = "\n".join(f"--- {p}\n{tail(p)}" for p in self._logs())
        return f"{self.name} on port {self.port} {what}\n{logs}"

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL it if it lingers, then wait
        until the pid is gone and the port is free."""
        self._signal(signal.SIGTERM, self.stop_timeout)

    def kill(self) -> None:
        """SIGKILL at once, as a crash would."""
        self._signal(signal.SIGKILL, 0)

    def _signal(self, sig: signal.Signals, grace: float) -> None:
        pid = self.pid
        if pid is None and self._popen is not None and self._popen.poll() is None:
            pid = self._popen.pid
        if pid is None:
            pid = self._orphan_group()
        if pid is not None:
            self._killpg(pid, sig)
            if not wait_for(lambda: self._gone(pid), grace):
                self._killpg(pid, signal.SIGKILL)
                if not wait_for(lambda: self._gone(pid), 10):
                    raise DevstackError(self._failure(f"pid {pid} survived SIGKILL"))
        self._popen = None
        self.pid_file.unlink(missing_ok=True)
        if not wait_for(lambda: port_free(self.port), 15):
            raise DevstackError(f"{self.name}: port {self.port} still taken after stop")

    def _orphan_group(self) -> int | None:
        """The group of a leader that died leaving children running.

        Linux hands out no pid still in use as a process group id, so a
        live group named by the pid file's dead pid can only be ours.
        """
        try:
            pgid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        if pid_alive(pgid) or not group_alive(pgid):
            return None
        return pgid

    def _killpg(self, pid: int, sig: signal.Signals) -> None:
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            pass

    def _gone(self, pid: int) -> bool:
        if self._popen is not None and self._popen.pid == pid:
            self._popen.poll()  # reap our own child so it is not a zombie
        return not pid_alive(pid) and not group_alive(pid)
