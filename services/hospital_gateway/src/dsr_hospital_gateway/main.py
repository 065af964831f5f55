"""Run the hospital gateway: `python -m dsr_hospital_gateway`."""

from dsr_shared.platform.http import run
from dsr_hospital_gateway.app import build_app


def main() -> None:
    run(build_app)
