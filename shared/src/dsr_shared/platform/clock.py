"""The one clock every service reads, so tests and demos can move time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import Protocol

import structlog


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class FixedClock:
    """A clock that moves only when told to."""

    def __init__(self, at: datetime) -> None:
        self._at = at

    def now(self) -> datetime:
        return self._at

    def advance(self, by: timedelta) -> None:
        self._at += by


class SimulatedClock:
    """Real time plus an offset that an operator moves forward, for demos and
    tests (DSR_SIMULATED_CLOCK=true; off in production). Sweepers waiting on
    `pause` wake at once when time moves, and act as if that time had come."""

    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self.offset = offset
        self._moved = asyncio.Event()

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset

    def advance(self, by: timedelta) -> None:
        if by < timedelta(0):
            raise ValueError("time only moves forward")
        self.offset += by
        self._moved.set()

    async def pause(self, seconds: float) -> None:
        # Cleared after waking, so a move during the last round is not missed.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._moved.wait(), seconds)
        self._moved.clear()


async def pause(clock: Clock, seconds: float) -> None:
    """Wait between sweeps: `seconds`, or less when a simulated clock moves."""
    if isinstance(clock, SimulatedClock):
        await clock.pause(seconds)
    else:
        await asyncio.sleep(seconds)


async def every(clock: Clock, seconds: float, work: Callable[[], Awaitable[object]], name: str) -> None:
    """Run `work` now and then after each pause, for ever; a failed round is
    logged and the next one tries again."""
    log = structlog.get_logger()
    while True:
        try:
            await work()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the next round retries
            log.warning("periodic work failed", work=name, error=repr(exc))
        await pause(clock, seconds)
