"""`dsr clock show|advance`: the services' simulated clocks (demos and tests only)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Annotated

import httpx
import typer
from pydantic import TypeAdapter, ValidationError
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from dsr_shared.platform.auth import Role
from dsr_ops.commands import common
from dsr_ops.commands.common import Target, Unreachable
from dsr_ops.settings import OpsSettings

clock_app = typer.Typer(no_args_is_help=True, help="Simulated clocks (demos and tests only): show, advance.")

ServiceOpt = Annotated[Target, typer.Option("--service", help="Which service's clock; all by default.")]


async def _read_clocks(client: httpx.AsyncClient, settings: OpsSettings, services: list[str]) -> dict[str, dict | str]:
    """service -> its clock reading, or why there is none."""

    async def one(service: str) -> dict | str:
        try:
            answer = await common.request(client, settings, service, "GET", "/clock", Role.OPS)
        except Unreachable as exc:
            return str(exc)
        if answer.status_code == 404:
            return "no simulated clock (DSR_SIMULATED_CLOCK is off)"
        if answer.status_code != 200:
            return common.refusal(service, answer)
        return answer.json()

    return dict(zip(services, await asyncio.gather(*(one(s) for s in services)), strict=True))


def _clock_table(title: str, readings: dict[str, dict | str], before: dict[str, dict | str] | None = None) -> Table:
    table = Table(title=title)
    table.add_column("service")
    if before is not None:
        table.add_column("was")
    table.add_column("now")
    table.add_column("ahead of real time", justify="right")
    for service, reading in readings.items():
        if isinstance(reading, str):
            cells = [f"[yellow]{escape(reading)}[/yellow]", ""]
        else:
            cells = [escape(str(reading["now"])), str(timedelta(seconds=round(reading["offset_seconds"])))]
        if before is not None:
            was = before.get(service)
            cells.insert(0, escape(str(was["now"])) if isinstance(was, dict) else "")
        table.add_row(service, *cells)
    return table


@clock_app.command("show")
def clock_show(service: ServiceOpt = Target["all"]) -> None:
    """Each service's simulated time (GET /clock)."""
    settings = common.settings()

    async def read() -> dict[str, dict | str]:
        async with common.client(settings) as client:
            return await _read_clocks(client, settings, common.targets(service))

    readings = common.run(read())
    common.out().print(_clock_table("simulated clocks", readings))
    if not any(isinstance(r, dict) for r in readings.values()):
        raise typer.Exit(1)


def _duration(value: str | None) -> timedelta | None:
    if value is None:
        return None
    try:
        by = TypeAdapter(timedelta).validate_python(value)
    except ValidationError:
        raise typer.BadParameter(f"{value!r} is not an ISO 8601 duration, e.g. P3D or PT2H") from None
    if by < timedelta(0):
        raise typer.BadParameter("time only moves forward")
    return by


@clock_app.command("advance")
def clock_advance(
    by: Annotated[
        str | None, typer.Option("--by", callback=_duration, help="How far: an ISO 8601 duration, e.g. P3D, PT2H.")
    ] = None,
    to: Annotated[
        str | None,
        typer.Option(
            "--to", callback=common.moment, help="To when: ISO 8601 with an offset, e.g. 2027-01-01T09:00:00Z."
        ),
    ] = None,
    service: ServiceOpt = Target["all"],
) -> None:
    """Move simulated time forward (POST /clock/advance).

    Every service chosen moves by the same amount, so clocks that agreed still
    agree; with --to, the amount takes the clock furthest ahead to that time. A
    service that does not answer or has no simulated clock is left as it is,
    and said so."""
    if (by is None) == (to is None):
        raise typer.BadParameter("give either --by or --to", param_hint="--by / --to")
    settings = common.settings()
    services = common.targets(service)
    console = common.out()

    async def advance() -> tuple[dict[str, dict | str], dict[str, dict | str]]:
        async with common.client(settings) as client:
            before = await _read_clocks(client, settings, services)
            ready = {s: r for s, r in before.items() if isinstance(r, dict)}
            if not ready:
                return before, before
            amount: timedelta = by  # type: ignore[assignment]
            if to is not None:
                ahead = max(ready, key=lambda s: datetime.fromisoformat(ready[s]["now"]))
                amount = to - datetime.fromisoformat(ready[ahead]["now"])
                if amount < timedelta(0):
                    raise common.fail(
                        f"not advanced: the {ahead} service's clock is already at {ready[ahead]['now']}, after --to"
                    )

            # One clock: exactly to --to. Several: all by the same amount.
            body = {"to": to.isoformat()} if to is not None and len(ready) == 1 else {"by": amount.total_seconds()}

            async def one(s: str) -> dict | str:
                try:
                    answer = await common.request(client, settings, s, "POST", "/clock/advance", Role.OPS, json=body)
                except Unreachable as exc:
                    return str(exc)
                return answer.json() if answer.status_code == 200 else common.refusal(s, answer)

            after = dict(zip(ready, await asyncio.gather(*(one(s) for s in ready)), strict=True))
            return before, {s: after.get(s, before[s]) for s in services}

    before, after = common.run(advance())
    console.print(_clock_table("simulated clocks, advanced", after, before))
    advanced = [s for s in services if isinstance(after[s], dict) and after[s] is not before[s]]
    if len(advanced) < len(services):
        left = ", ".join(s for s in services if s not in advanced)
        console.print(Text(f"Not advanced: {left}. Clocks that agreed before may now differ.", style="yellow"))
    if not advanced:
        raise typer.Exit(1)


def add_to(app: typer.Typer) -> None:
    app.add_typer(clock_app, name="clock")
