"""`dsr`: operations and demos of the Dynamic Support Register.

The app and its entry point; the commands live in `dsr_ops.commands`, a module
per section, added here in the order `dsr --help` lists them."""

from __future__ import annotations

import logging

import typer

from dsr_ops.commands import (
    audit_trail,
    clock,
    dead_letters,
    demo_people,
    hl7,
    hospital_events,
    outbox,
    practices,
    register,
    rewind,
    skip,
    status,
)

HELP = """Operations and demos of the Dynamic Support Register.

Settings come from the environment, as the services' do (prefix DSR_):
DSR_KAFKA_BOOTSTRAP, DSR_MONGO_URI, DSR_TOPIC_PREFIX, DSR_AREA_PROFILE, and the
services at DSR_REFERRAL_URL, DSR_RATING_URL, DSR_SCHEDULER_URL and
DSR_NOTIFIER_URL, DSR_HOSPITAL_GATEWAY_URL (default: the local stack,
http://127.0.0.1:8001 to 8004, the gateway 8006), and the gateway's HL7 v2 listener at
DSR_GATEWAY_MLLP (default 127.0.0.1:2575).

Bearer tokens come from the register's identity service (DSR_IDENTITY_URL,
default http://127.0.0.1:8005): for commands that need the ops role, the
command's own client credentials (DSR_OPS_CLIENT_ID, default dsr_ops, and
DSR_OPS_CLIENT_SECRET; on a local stack in development mode, its development
secret). `dsr register` needs a DSR team member and `dsr audit` a DSR team
member or an auditor: set DSR_TOKEN to their register access token.
"""

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None, help=HELP)

for section in (
    status,
    register,
    hospital_events,
    audit_trail,
    hl7,
    dead_letters,
    clock,
    demo_people,
    rewind,
    skip,
    outbox,
    practices,
):
    section.add_to(app)


@app.callback()
def _quiet() -> None:
    # aiokafka reports a refused connection through logging's last-resort
    # handler; the commands say it themselves.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


def main() -> None:
    app()
