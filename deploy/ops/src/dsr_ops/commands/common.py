"""What every command uses: settings, output, the services' HTTP, argument checks."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, TypeVar

import httpx
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.text import Text

from dsr_shared.platform.auth import Role
from dsr_ops.settings import SERVICES, NoToken, OpsSettings

T = TypeVar("T")

Service = StrEnum("Service", {name: name for name in SERVICES})
Target = StrEnum("Target", {"all": "all", **{name: name for name in SERVICES}})


# --- running and output --------------------------------------------------------


def out() -> Console:
    return Console()


def say(console: Console, text: str) -> None:
    """Plain text: brackets in topic names, errors or data are not markup."""
    console.print(text, markup=False, highlight=False)


def fail(message: str, code: int = 1) -> typer.Exit:
    Console(stderr=True).print(Text(message, style="red"), highlight=False)
    return typer.Exit(code)


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


def settings() -> OpsSettings:
    try:
        return OpsSettings()
    except ValidationError as exc:
        raise fail(f"settings: {reasons(exc)}") from None


def reasons(exc: ValidationError) -> str:
    """The fields and what is wrong, never the values (one may be an NHS number)."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(value)'}: {e['msg']}" for e in exc.errors())


def targets(target: Target) -> list[str]:
    return list(SERVICES) if target.value == "all" else [target.value]


# --- HTTP ------------------------------------------------------------------------


class Unreachable(Exception):
    pass


async def request(
    client: httpx.AsyncClient,
    settings: OpsSettings,
    service: str,
    method: str,
    path: str,
    role: Role | None = None,
    **kwargs: Any,
) -> httpx.Response:
    url = f"{settings.url(service)}{path}"
    try:
        headers = await settings.bearer(client, role) if role else {}
        return await client.request(method, url, headers=headers, **kwargs)
    except NoToken as exc:
        raise Unreachable(f"without a token: {exc}") from exc
    except httpx.TransportError as exc:
        raise Unreachable(f"unreachable at {settings.url(service)} ({type(exc).__name__})") from exc


def client(settings: OpsSettings) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=settings.http_timeout_seconds)


def refusal(service: str, answer: httpx.Response) -> str:
    if answer.status_code in (401, 403):
        return (
            f"{service}: the token was refused ({answer.status_code}): set DSR_TOKEN to a register access token "
            "of a person with the role this needs"
        )
    try:
        detail = answer.json()
    except ValueError:
        detail = answer.text[:300]
    return f"{service}: {answer.status_code} {detail}"


# --- arguments ---------------------------------------------------------------------


def nhs_number(value: str) -> str:
    """The digits of a valid NHS number (spaces and hyphens allowed); the
    message never repeats the value."""
    from nhs_number import is_valid

    digits = value.replace(" ", "").replace("-", "")
    if not (len(digits) == 10 and digits.isdigit() and is_valid(digits)):
        raise typer.BadParameter(
            "not a valid NHS number (10 digits, the last a modulus-11 check digit); nothing was published"
        )
    return digits


def moment(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO 8601 time, e.g. 2027-01-01T09:00:00+00:00") from None
    if moment.tzinfo is None:
        raise typer.BadParameter(f"{value!r} has no offset: add one, e.g. {value}Z or {value}+01:00")
    return moment


NhsNumberArg = Annotated[
    str,
    typer.Argument(
        callback=nhs_number,
        show_default=False,
        help="The person's NHS number (10 digits; spaces allowed). It keys the message and is never printed.",
    ),
]
AtOpt = Annotated[
    str | None,
    typer.Option(
        "--at",
        callback=moment,
        show_default="now",
        help="When it happened: ISO 8601 with an offset, e.g. 2027-01-01T09:00:00Z.",
    ),
]
