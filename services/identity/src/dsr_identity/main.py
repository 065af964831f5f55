"""Run the identity service: `python -m dsr_identity`."""

from dsr_shared.platform.http import run
from dsr_identity.app import build_app


def main() -> None:
    run(build_app)
