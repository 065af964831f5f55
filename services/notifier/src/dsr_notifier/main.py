"""Run the notifier service: `python -m dsr_notifier`."""

from dsr_shared.platform.http import run
from dsr_notifier.app import build_app


def main() -> None:
    run(build_app)
