"""Run the referral service: `python -m dsr_referral`."""

from dsr_shared.platform.http import run
from dsr_referral.app import build_app


def main() -> None:
    run(build_app, nhs_hash_key=True)
