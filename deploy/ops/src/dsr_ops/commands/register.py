"""`dsr register`: the register by rating, with counts."""

from __future__ import annotations

from typing import Annotated

import httpx
import typer
from rich.markup import escape
from rich.table import Table

from dsr_shared.contract.events import Cohort, Rating
from dsr_shared.platform.auth import Role
from dsr_ops.commands import common
from dsr_ops.commands.common import Unreachable
from dsr_ops.settings import OpsSettings

RATING_ORDER = [r.value for r in Rating]


def _rating_cell(rating: str) -> str:
    colour = {"red": "red", "amber": "dark_orange", "green": "green", "blue": "blue"}.get(rating)
    return f"[{colour}]{rating}[/{colour}]" if colour else escape(rating)


async def _register(settings: OpsSettings, params: dict[str, str]) -> httpx.Response:
    """The listing, page after page (the service gives at most 500 people a
    page): the last answer, holding everyone it listed."""
    async with common.client(settings) as client:
        people: list = []
        after: str | None = None
        while True:
            paged = {**params, **({"after": after} if after else {})}
            answer = await common.request(client, settings, "rating", "GET", "/register", Role.DSR_TEAM, params=paged)
            if answer.status_code != 200:
                return answer
            body = answer.json()
            people += body["people"]
            after = body.get("next_after")
            if not after:
                return httpx.Response(200, json={**body, "people": people})


def register(
    rating: Annotated[Rating | None, typer.Option("--rating", help="Only people with this rating.")] = None,
    cohort: Annotated[
        Cohort | None, typer.Option("--cohort", help="Only adults, or children and young people.")
    ] = None,
    status_: Annotated[str, typer.Option("--status", help="on_register, or removed.")] = "on_register",
    counts_only: Annotated[bool, typer.Option("--counts-only", help="Only the counts, not the people.")] = False,
) -> None:
    """The register by rating, with counts.

    From the rating service's GET /register (role dsr_team)."""
    settings = common.settings()
    params = {
        "status": status_,
        "limit": "0" if counts_only else "500",
        **({"rating": rating.value} if rating else {}),
        **({"cohort": cohort.value} if cohort else {}),
    }
    try:
        answer = common.run(_register(settings, params))
    except Unreachable as exc:
        raise common.fail(f"rating service {exc}") from None
    if answer.status_code != 200:
        raise common.fail(common.refusal("rating", answer))
    body = answer.json()
    by_rating, by_cohort = body["counts"]["by_rating"], body["counts"]["by_cohort"]
    console = common.out()
    counts = Table(
        title=f"register ({status_}{', ' + rating.value if rating else ''}{', ' + cohort.value if cohort else ''})"
    )
    counts.add_column("rating")
    counts.add_column("people", justify="right")
    for name in sorted(by_rating, key=lambda r: (RATING_ORDER.index(r) if r in RATING_ORDER else 99, r)):
        counts.add_row(_rating_cell(name), str(by_rating[name]))
    counts.add_row("[bold]total[/bold]", f"[bold]{body['total']}[/bold]")
    console.print(counts)
    if by_cohort:
        common.say(console, "by cohort: " + ", ".join(f"{name} {count}" for name, count in sorted(by_cohort.items())))
    if counts_only or not body["people"]:
        return
    people = Table(title="people")
    for column in ("register id", "rating", "since", "cohort", "age band", "in hospital", "last update"):
        people.add_column(column, overflow="fold")
    rank = {r: i for i, r in enumerate(RATING_ORDER)}
    for person in sorted(body["people"], key=lambda p: (rank.get(p["rating"], 99), p["register_id"])):
        people.add_row(
            escape(person["register_id"]),
            _rating_cell(person["rating"]),
            escape(str(person.get("rating_since") or "")[:16]),
            escape(person["cohort"]),
            escape(str(person.get("age_band") or "")),
            "yes" if person.get("in_hospital") else "",
            escape(str(person.get("last_update_at") or "")[:16]),
        )
    console.print(people)


def add_to(app: typer.Typer) -> None:
    app.command()(register)
