"""Run the scheduler service: `python -m dsr_scheduler`."""

from dsr_shared.platform.http import run
from dsr_scheduler.app import build_app


def main() -> None:
    run(build_app)
