"""`dsr audit`: one person's audit trail across the four services, merged in
time order. Each service keeps its own audit and serves it at GET /audit,
a page at a time; this reads every page of each."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

PAGE = 500

# One GET /audit request: (service, params) → the answer.
Fetch = Callable[[str, dict[str, Any]], Awaitable[httpx.Response]]


@dataclass
class Trail:
    entries: list[dict[str, Any]] = field(default_factory=list)
    # service → why its part is missing
    failures: dict[str, str] = field(default_factory=dict)


class Refused(Exception):
    def __init__(self, answer: httpx.Response) -> None:
        super().__init__(answer.status_code)
        self.answer = answer


async def _one(fetch: Fetch, service: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    after = None
    while True:
        answer = await fetch(service, {**params, "limit": PAGE, **({"after": after} if after else {})})
        if answer.status_code != 200:
            raise Refused(answer)
        page = answer.json()
        found += [{**entry, "service": entry.get("service") or service} for entry in page["entries"]]
        after = page.get("next")
        if not after:
            return found


async def trail(
    fetch: Fetch,
    services: list[str],
    register_id: str,
    since: datetime | None,
    describe: Callable[[str, Exception], str],
) -> Trail:
    """Every service's entries about `register_id`, merged by time (then
    service, for entries at the same instant)."""
    params: dict[str, Any] = {"register_id": register_id, **({"since": since.isoformat()} if since else {})}
    answers = await asyncio.gather(*(_one(fetch, s, params) for s in services), return_exceptions=True)
    merged = Trail()
    for service, answer in zip(services, answers, strict=True):
        if isinstance(answer, BaseException):
            merged.failures[service] = describe(service, answer)  # type: ignore[arg-type]
        else:
            merged.entries += answer
    merged.entries.sort(key=lambda e: (datetime.fromisoformat(e["at"]), e["service"], e["entry_id"]))
    return merged
