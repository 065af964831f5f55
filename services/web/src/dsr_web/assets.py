"""Where the NHS.UK frontend's precompiled CSS, JavaScript and images are:
the npm package `nhsuk-frontend` that `make install` fetches (npm ci, from
package-lock.json) next to this service, or DSR_WEB_ASSETS_DIR (a container
image copies them there)."""

from __future__ import annotations

import os
from pathlib import Path

SERVICE_ROOT = Path(__file__).resolve().parents[2]


def frontend_dist() -> Path:
    configured = os.environ.get("DSR_WEB_ASSETS_DIR")
    dist = Path(configured) if configured else SERVICE_ROOT / "node_modules" / "nhsuk-frontend" / "dist" / "nhsuk"
    if not (dist / "nhsuk-frontend.min.css").is_file():
        raise RuntimeError(f"the NHS.UK frontend is not installed at {dist}: run `make install` (npm ci)")
    return dist
