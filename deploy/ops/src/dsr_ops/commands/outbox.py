"""`dsr outbox list|retry`: outbox entries the broker refused for good (parked)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import httpx
import typer
from rich.table import Table
from rich.text import Text

from dsr_shared.platform.auth import Role
from dsr_ops.commands import common
from dsr_ops.commands.common import Service, Target, Unreachable

outbox_app = typer.Typer(no_args_is_help=True, help="Outbox entries the broker refused for good (parked): list, retry.")


@outbox_app.command("list")
def outbox_list(
    service: Annotated[Target, typer.Option("--service", help="Which service; all by default.")] = Target["all"],
) -> None:
    """Outbox entries each service could not publish (GET /ops/outbox/parked).

    An entry is parked when the broker refuses it for good (too large, say);
    the entries after it are published. Shown: event id, type, topic, when it
    was staged and parked, and the error; never the event's data. Exit code 1
    when any is parked or a service does not answer."""
    settings = common.settings()
    services = common.targets(service)

    async def read() -> dict[str, list[dict] | str]:
        async with common.client(settings) as client:

            async def one(s: str) -> list[dict] | str:
                try:
                    answer = await common.request(client, settings, s, "GET", "/ops/outbox/parked", Role.OPS)
                except Unreachable as exc:
                    return str(exc)
                return answer.json()["parked"] if answer.status_code == 200 else common.refusal(s, answer)

            return dict(zip(services, await asyncio.gather(*(one(s) for s in services)), strict=True))

    found = common.run(read())
    console = common.out()
    table = Table(title="parked outbox entries")
    for column in ("service", "event id", "event type", "topic", "staged", "parked", "error"):
        table.add_column(column, overflow="fold")
    for s, entries in found.items():
        if isinstance(entries, str):
            table.add_row(s, "", "", "", "", "", Text(entries, style="red"))
            continue
        for e in entries:
            table.add_row(
                s,
                e["event_id"],
                str(e.get("event_type") or ""),
                str(e.get("topic") or ""),
                str(e.get("created_at") or "")[:19],
                str(e.get("parked_at") or "")[:19],
                str(e.get("error") or "")[:300],
            )
    if table.row_count:
        console.print(table)
    else:
        common.say(console, "No parked outbox entries.")
    if table.row_count:
        raise typer.Exit(1)


@outbox_app.command("retry")
def outbox_retry(
    service: Annotated[Service, typer.Argument(help="The service that parked it.")],
    event_id: Annotated[str, typer.Argument(help="The parked entry's event id (`dsr outbox list`).")],
) -> None:
    """Give a parked entry back to the service's outbox relay, once its cause is
    fixed (POST /ops/outbox/{id}/retry); a refusal parks it again."""
    settings = common.settings()

    async def retry() -> httpx.Response:
        async with common.client(settings) as client:
            return await common.request(
                client, settings, service.value, "POST", f"/ops/outbox/{event_id}/retry", Role.OPS
            )

    try:
        answer = common.run(retry())
    except Unreachable as exc:
        raise common.fail(f"{service.value} service {exc}") from None
    if answer.status_code != 200:
        raise common.fail(common.refusal(service.value, answer))
    common.say(common.out(), f"{event_id}: back to {service.value}'s outbox relay, which publishes it within seconds.")


def add_to(app: typer.Typer) -> None:
    app.add_typer(outbox_app, name="outbox")
