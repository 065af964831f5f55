"""structlog as JSON lines. Context (service, event_id, correlation_id,
register_id) is bound per handled event or request through contextvars.
Personal data never goes into a log line: log the register identifier."""

from __future__ import annotations

import logging
import sys

import structlog


def configure_logging(service: str, level: str = "INFO") -> None:
    logging.basicConfig(format="%(message)s", stream=sys.stdout, level=level.upper())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)
    # Quieten libraries that log every connection at INFO.
    for name in ("aiokafka", "pymongo", "faststream", "uvicorn.access"):
        logging.getLogger(name).setLevel(logging.WARNING)


def get_logger() -> structlog.stdlib.BoundLogger:
    return structlog.get_logger()
