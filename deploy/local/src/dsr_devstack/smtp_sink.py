"""A development SMTP server that keeps every message in a Maildir.

Run as `python -m dsr_devstack.smtp_sink --port P --maildir DIR`; read the
mail with any Maildir reader (`mutt -f DIR`) or `SmtpSink.messages()`.
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import mailbox
import signal
import smtplib
import sys
from email.message import EmailMessage
from pathlib import Path

from ._proc import HOST, ManagedProcess, Timing


class MaildirHandler:
    def __init__(self, maildir: Path) -> None:
        self.box = mailbox.Maildir(maildir, create=True)

    async def handle_DATA(self, server, session, envelope) -> str:
        # Envelope headers first, so Bcc recipients are visible too.
        head = f"Return-Path: <{envelope.mail_from}>\n"
        head += "".join(f"Delivered-To: {rcpt}\n" for rcpt in envelope.rcpt_tos)
        body = envelope.original_content.replace(b"\r\n", b"\n")
        # Maildir writes to tmp/ and links into new/: readers never see half.
        self.box.add(head.encode() + body)
        return "250 Message accepted for delivery"


async def serve(host: str, port: int, maildir: Path) -> None:
    from aiosmtpd.smtp import SMTP

    handler = MaildirHandler(maildir)
    loop = asyncio.get_running_loop()
    # A fixed hostname: aiosmtpd would otherwise look up the FQDN on every
    # connection, which stalls on machines without working DNS.
    server = await loop.create_server(lambda: SMTP(handler, hostname="localhost"), host, port)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"smtp sink on {host}:{port}, mail in {maildir}", flush=True)
    await stop.wait()
    server.close()
    await server.wait_closed()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default=HOST)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--maildir", type=Path, required=True)
    args = p.parse_args(argv)
    asyncio.run(serve(args.host, args.port, args.maildir))


class SmtpSink(ManagedProcess):
    """The sink as a managed process; mail lands in state_dir/maildir."""

    def __init__(self, state_dir: Path, port: int, *, start_timeout: float = 30.0) -> None:
        self.name = "smtp"
        self.state_dir = Path(state_dir).resolve()
        self.port = port
        self.host = HOST
        self.start_timeout = start_timeout
        self.stop_timeout = 10.0
        self.pid_file = self.state_dir / "smtp.pid"
        self.log_file = self.state_dir / "smtp.log"
        self.maildir = self.state_dir / "maildir"

    def _prepare(self, timing: Timing) -> None:
        if not self.maildir.exists():
            timing.kind = "cold"

    def _command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "dsr_devstack.smtp_sink",
            "--port",
            str(self.port),
            "--maildir",
            str(self.maildir),
        ]

    def _ready(self) -> bool:
        try:
            with smtplib.SMTP(HOST, self.port, timeout=2) as s:
                return s.noop()[0] == 250
        except (OSError, smtplib.SMTPException):
            return False

    def messages(self) -> list[EmailMessage]:
        """Every message received so far, oldest first."""
        found = []
        for sub in ("new", "cur"):
            for f in (self.maildir / sub).glob("*"):
                if f.is_file():
                    found.append((f.stat().st_mtime_ns, f.name, f))
        out = []
        for _, _, f in sorted(found):
            with open(f, "rb") as fh:
                out.append(email.message_from_binary_file(fh, policy=email.policy.default))
        return out

    def clear(self) -> None:
        """Delete every stored message."""
        for sub in ("new", "cur"):
            for f in (self.maildir / sub).glob("*"):
                f.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
