"""`python -m dsr_devstack up | down | status`."""

from __future__ import annotations

import logging
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from ._proc import DevstackError, ManagedProcess, ephemeral_ports, port_answers
from .kafka import Kafka
from .personas import PERSONAS
from .secantus import SecantusDB
from .service import ServiceProcess
from .smtp_sink import SmtpSink
from .stack import Stack

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Start and stop the local DSR stack (no Docker needed)."
)


def _console() -> Console:
    """Rich wraps at 80 columns when the output is not a terminal (a pipe, a
    CI log); there nothing is wrapped, so every URL and path stays whole."""
    console = Console()
    return console if console.is_terminal else Console(width=100_000)


def _rel(path: Path) -> str:
    """Short for paths under the cwd, whole otherwise."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _address(part: ManagedProcess) -> str:
    if isinstance(part, Kafka):
        return f"{part.bootstrap} (controller :{part.controller_port})"
    if isinstance(part, SecantusDB):
        return part.uri
    if isinstance(part, SmtpSink):
        return f"smtp://{part.host}:{part.port}"
    mllp = part.env.get("DSR_MLLP_PORT") if isinstance(part, ServiceProcess) else None
    return f"{part.url} (HL7 v2 over MLLP :{mllp})" if mllp else part.url


def _logs(part: ManagedProcess) -> str:
    return "\n".join(_rel(p) for p in part._logs())


@app.command()
def up(
    infra_only: bool = typer.Option(False, "--infra-only", help="Start Kafka, SecantusDB and the SMTP sink only."),
) -> None:
    """Start the stack (reusing parts already up) and wait until it is ready."""
    console = _console()
    stack = Stack()
    ephemeral = ephemeral_ports()
    for name, port in stack.ports():
        if port in ephemeral:
            console.print(
                f"[yellow]{name}: port {port} is in the ephemeral range {ephemeral.start}-{ephemeral.stop - 1}, "
                "where a client may take it while the part is down; choose another (see `make run`)[/yellow]"
            )
    with console.status("starting") as spinner:
        try:
            timings = stack.up(infra_only, on_start=lambda p: spinner.update(f"starting {p.name}"))
        except DevstackError as e:
            console.print(f"[red]{e}[/red]")
            console.print("Parts already started keep running; `make stop` stops them.")
            raise typer.Exit(1) from None
    table = Table(title=f"DSR devstack ({_rel(stack.root)})")
    for col in ("part", "listens on", "logs", "start-up"):
        table.add_column(col, overflow="fold")
    for part in stack.infra if infra_only else stack.parts:
        table.add_row(part.name, _address(part), _logs(part), timings[part.name].describe())
    console.print(table)
    console.print(f"Mail received by the sink: {_rel(stack.smtp.maildir)} (a Maildir)")
    if not infra_only:
        _personas(console, stack)
        if "web" in stack.services:
            _open_the_register(console, stack.services["web"].url)
    console.print("start-up: cold = first fetch/format, warm = fresh process, reused = was already running")
    console.print("Stop with [bold]make stop[/bold] (python -m dsr_devstack down).")


def _personas(console: Console, stack: Stack) -> None:
    """Who can sign in, and where: each persona's subject at the local provider."""
    table = Table(title=f"Sign in at the OpenID provider {stack.provider.url} as", show_lines=False)
    for col in ("subject", "who", "roles"):
        table.add_column(col, no_wrap=True)
    for persona in PERSONAS:
        table.add_row(persona.subject, f"{persona.name}: {persona.what}", ", ".join(persona.roles))
    console.print(table)
    console.print(
        f"Register access tokens: {stack.identity_url}/token (the web front end exchanges the ID token there)",
        soft_wrap=True,
    )


def _open_the_register(console: Console, url: str) -> None:
    # Printed whole, never wrapped: the address must stay clickable and copyable.
    console.print("The register in a browser (sign in there as one of the people above):", style="bold")
    print(url, flush=True)
    console.print("`uv run dsr demo` fills the register with fictional people.", soft_wrap=True)


@app.command()
def down() -> None:
    """Stop everything in reverse order and check that the ports are free."""
    console = _console()
    stack = Stack()
    errors, busy = stack.down()
    for e in errors:
        console.print(f"[red]{e}[/red]")
    for name, port in busy:
        console.print(f"[red]{name}: port {port} is still taken[/red]")
    if errors or busy:
        raise typer.Exit(1)
    console.print(f"All stopped; ports {', '.join(str(p) for _, p in stack.ports())} are free.")


@app.command()
def status() -> None:
    """Show each part as up or down."""
    console = _console()
    stack = Stack()
    table = Table(title=f"DSR devstack ({_rel(stack.root)})")
    for col in ("part", "state", "pid", "listens on", "logs"):
        table.add_column(col, overflow="fold")
    for part in stack.parts:
        pid = part.pid
        if pid is not None and port_answers(part.port):
            state = "[green]up[/green]"
        elif pid is not None:
            state = "[yellow]starting[/yellow]"
        elif port_answers(part.port):
            state = "[red]port taken by another process[/red]"
        else:
            state = "down"
        table.add_row(part.name, state, str(pid or ""), _address(part), _logs(part))
    console.print(table)


def main() -> None:
    # The readiness probe expects refused connections while Kafka boots;
    # aiokafka would print each one through logging's last-resort handler.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    app()
