"""The people a local stack lets anyone sign in as, with the roles the
identity service's directory gives them there (development mode only)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Persona:
    subject: str
    name: str
    email: str
    # ODS code of their organisation.
    org: str
    roles: tuple[str, ...]
    what: str

    def claims(self) -> dict[str, object]:
        return {"sub": self.subject, "name": self.name, "email": self.email, "org": self.org}


PERSONAS = (
    Persona(
        "demo-referrer",
        "Sam Referrer",
        "sam.referrer@example.org",
        "RXM",
        ("referrer",),
        "a community nurse who refers people and keeps their records up to date",
    ),
    Persona(
        "demo-dsr-team",
        "Dana Keyworker",
        "dana.keyworker@example.org",
        "15M",
        ("dsr_team",),
        "a DSR team member who sees the whole register",
    ),
    Persona(
        "demo-dsr-admin",
        "Alex Lead",
        "alex.lead@example.org",
        "15M",
        ("dsr_team", "dsr_admin"),
        "the DSR team lead, who also gives people their roles",
    ),
    Persona("demo-ops", "Oli Engineer", "oli.engineer@example.org", "15M", ("ops",), "an operations engineer"),
)

# The web front end's client id at the local provider (the audience of its ID tokens).
WEB_CLIENT_ID = "dsr-web"
