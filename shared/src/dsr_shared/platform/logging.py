"""structlog as JSON lines, for our own log calls and for libraries' stdlib
logging alike. Context (service, event_id, correlation_id, register_id) is
bound per handled event or request through contextvars. Personal data never
goes into a log line: log the register identifier.

While the broker or the database is away, the same fault would be logged many
times a second (the Kafka client's reconnects, every retry): those lines are
rate-limited, per logger and message, to a few a minute; the next line let
through says how many were left out (`similar_lines_suppressed`)."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, MutableMapping
from typing import Any

import structlog

_SHARED: list[structlog.typing.Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.processors.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


# Libraries that log each reconnect attempt while a server is away.
NOISY_LIBRARIES = frozenset({"aiokafka", "kafka", "faststream"})
_THROTTLE = "_throttle"


def throttled(logger: Any) -> Any:
    """`logger`, with its lines rate-limited: for faults that repeat while
    something is away (a transient fault retried, the relay failing)."""
    return logger.bind(**{_THROTTLE: True})


class RateLimit(logging.Filter):
    """Lets through at most `per_window` lines of one logger and message per
    `window` seconds, for the noisy libraries and for `throttled` loggers."""

    def __init__(self, per_window: int = 5, window: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.per_window, self.window, self.clock = per_window, window, clock
        # (logger, message) -> (window start, lines shown, lines held back)
        self._seen: dict[tuple[str, str], tuple[float, int, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.msg
        if isinstance(message, dict):  # a structlog line
            if not message.get(_THROTTLE):
                return True
            template = str(message.get("event"))
        elif record.name.split(".")[0] in NOISY_LIBRARIES:
            template = str(message)
        else:
            return True
        key, now = (record.name, template), self.clock()
        start, shown, held = self._seen.get(key, (now, 0, 0))
        if now - start >= self.window:
            if held:
                record.dsr_suppressed = held
            start, shown, held = now, 0, 0
        if shown < self.per_window:
            self._seen[key] = (start, shown + 1, held)
            return True
        self._seen[key] = (start, shown, held + 1)
        return False


def _note_suppressed(logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    event_dict.pop(_THROTTLE, None)
    held = getattr(event_dict.get("_record"), "dsr_suppressed", 0)
    if held:
        event_dict["similar_lines_suppressed"] = held
    return event_dict


def configure_logging(service: str, level: str = "INFO") -> None:
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(RateLimit())
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *_SHARED],
            processors=[
                _note_suppressed,
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Libraries that log every connection at INFO.
    for name in ("aiokafka", "pymongo", "faststream", "uvicorn.access"):
        logging.getLogger(name).setLevel(logging.WARNING)
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)
