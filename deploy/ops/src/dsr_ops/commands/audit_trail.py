"""`dsr audit`: who read or changed a person's record, across the services."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from dsr_shared.contract.topology import REGISTER_SERVICES
from dsr_shared.platform.auth import Role
from dsr_ops import audit
from dsr_ops.commands import common
from dsr_ops.settings import OpsSettings


async def _audit_trail(settings: OpsSettings, register_id: str, since: datetime | None) -> audit.Trail:
    async with common.client(settings) as client:

        async def fetch(service: str, params: dict[str, Any]) -> httpx.Response:
            return await common.request(client, settings, service, "GET", "/audit", Role.AUDITOR, params=params)

        def describe(service: str, exc: Exception) -> str:
            return common.refusal(service, exc.answer) if isinstance(exc, audit.Refused) else f"{service}: {exc}"

        return await audit.trail(fetch, list(REGISTER_SERVICES), register_id, since, describe)


def audit_command(
    register_id: Annotated[str, typer.Argument(help="The person's register identifier.")],
    since: Annotated[
        str | None,
        typer.Option(
            "--since", callback=common.moment, help="Only entries at or after this time: ISO 8601 with an offset."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line, instead of a table.")] = False,
) -> None:
    """Who read or changed a person's record: when, through which endpoint,
    with what outcome, across the four services, in time order.

    From each service's GET /audit (role auditor or dsr_team); reading it is
    audited too. Exit code 1 when a service could not be read: what the others
    said is still shown."""
    settings = common.settings()
    found = common.run(_audit_trail(settings, register_id, since))
    console = common.out()
    if as_json:
        for entry in found.entries:
            print(json.dumps(entry, sort_keys=True))
    else:
        table = Table(title=f"audit of {register_id}")
        for column in ("at", "service", "actor", "roles", "action", "outcome", "endpoint"):
            table.add_column(column, overflow="fold")
        for e in found.entries:
            cells = [
                e["at"],
                e["service"],
                e.get("actor_email") or e["actor"],
                ",".join(e.get("roles") or []),
                e["action"],
                e["outcome"],
                e.get("endpoint") or "(an event)",
            ]
            table.add_row(*(escape(str(cell)) for cell in cells))
        console.print(table)
        common.say(console, f"{len(found.entries)} entr{'y' if len(found.entries) == 1 else 'ies'}.")
    for failure in found.failures.values():
        Console(stderr=True).print(Text(failure, style="red"), highlight=False)
    if found.failures:
        raise typer.Exit(1)


def add_to(app: typer.Typer) -> None:
    app.command("audit")(audit_command)
