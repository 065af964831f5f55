"""A local OpenID Connect provider for development and tests: the PyPI
package oidc-provider-mock (authorization code flow, a sign-in form where any
subject can be typed, any client id and secret accepted), with the demo
personas offered on its form.

Run as `python -m dsr_devstack.oidc_provider --port P --state DIR`."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import timedelta
from pathlib import Path

import httpx

from ._proc import HOST, ManagedProcess
from .personas import PERSONAS


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default=HOST)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--state", type=Path, required=True)
    p.add_argument("--token-minutes", type=int, default=60)
    args = p.parse_args(argv)
    # Plain HTTP on loopback; the library refuses it otherwise.
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"
    import uvicorn
    from oidc_provider_mock import User, app

    provider = app(
        user_claims=[User(sub=persona.subject, claims=persona.claims()) for persona in PERSONAS],
        access_token_max_age=timedelta(minutes=args.token_minutes),
    )
    print(f"OpenID provider on http://{args.host}:{args.port}", flush=True)
    uvicorn.run(provider, host=args.host, port=args.port, interface="wsgi", log_level="warning")


class OidcProvider(ManagedProcess):
    """The provider as a managed process; its issuer is its own URL."""

    def __init__(self, state_dir: Path, port: int, *, start_timeout: float = 90.0) -> None:
        self.name = "oidc provider"
        self.state_dir = Path(state_dir).resolve()
        self.port = port
        self.start_timeout = start_timeout
        self.stop_timeout = 10.0
        self.pid_file = self.state_dir / "oidc-provider.pid"
        self.log_file = self.state_dir / "oidc-provider.log"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    issuer = url

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/jwks"

    def _owner_token(self) -> str:
        return f"--state {self.state_dir}"

    def _command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "dsr_devstack.oidc_provider",
            "--port",
            str(self.port),
            "--state",
            str(self.state_dir),
        ]

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/.well-known/openid-configuration", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False


if __name__ == "__main__":
    main()
