"""Run the rating service: `python -m dsr_rating`."""

from dsr_shared.platform.http import run
from dsr_rating.app import build_app


def main() -> None:
    run(build_app, nhs_hash_key=True)
