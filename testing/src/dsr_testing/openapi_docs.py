"""The OpenAPI document of each service, checked in under docs/openapi/.
`python -m dsr_testing.openapi_docs` rewrites them (`make openapi`)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

from dsr_devstack import find_repo_root

SERVICES = ("referral", "rating", "scheduler", "notifier", "identity", "hospital_gateway")
DOCS = find_repo_root(Path(__file__).parent) / "docs" / "openapi"


def render(service: str) -> str:
    build_app = importlib.import_module(f"dsr_{service}.app").build_app
    if service == "identity":
        from dsr_identity.settings import IdentitySettings

        # A key made for the occasion: the document does not depend on it.
        app = build_app(IdentitySettings(development_mode=True))
    else:
        app = build_app()
    return json.dumps(app.openapi(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    DOCS.mkdir(parents=True, exist_ok=True)
    for name in SERVICES:
        (DOCS / f"{name}.json").write_text(render(name))
        print(f"wrote docs/openapi/{name}.json")
