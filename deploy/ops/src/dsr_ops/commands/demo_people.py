"""`dsr demo`: fictional people on a local stack's register."""

from __future__ import annotations

from typing import Annotated

import httpx
import typer

from dsr_ops.commands import common


def demo(people: Annotated[int, typer.Option("--people", help="How many fictional people.")] = 36) -> None:
    """Fill a local stack's register with fictional people across every rating,
    with history (see dsr_ops/demo.py). Local stacks only: the demo personas
    sign in at the local OpenID provider."""
    from dsr_ops.demo import DemoSettings, load

    settings = DemoSettings(people=people)
    console = common.out()
    try:
        counts = common.run(load(settings, lambda line: common.say(console, line)))
    except (httpx.HTTPError, RuntimeError) as exc:
        raise common.fail(f"the demo stopped: {exc}") from None
    common.say(console, ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items())))


def add_to(app: typer.Typer) -> None:
    app.command()(demo)
