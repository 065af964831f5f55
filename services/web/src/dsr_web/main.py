"""Run the web service: `python -m dsr_web`."""

import logging

import uvicorn

from dsr_shared.platform.logging import configure_logging
from dsr_web.app import build_app


def main() -> None:
    app = build_app()
    settings = app.state.settings
    configure_logging(settings.service_name, settings.log_level)
    # Each backend call at INFO would repeat every request line; the web logs its own.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        proxy_headers=settings.behind_proxy,
        forwarded_allow_ips="*" if settings.behind_proxy else None,
    )
