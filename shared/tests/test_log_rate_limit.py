"""While Kafka or the database is away, the same fault is logged a few times a
minute, not many times a second; the next line let through says how many
were left out. Other lines are never held back."""

from __future__ import annotations

import io
import json
import logging

import structlog

from dsr_shared.platform.logging import RateLimit, configure_logging, throttled


def test_repeated_lines_are_held_back_per_logger_and_message():
    now = [0.0]
    limit = RateLimit(per_window=5, window=60, clock=lambda: now[0])

    def line(name: str, msg: str) -> logging.LogRecord:
        return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, (), None)

    reconnect = [limit.filter(line("aiokafka.conn", "Unable connect to node with id %s: %s")) for _ in range(100)]
    assert reconnect.count(True) == 5
    assert limit.filter(line("aiokafka.producer.sender", "Got error produce response: %s"))  # another message
    assert all(limit.filter(line("dsr_rating.handlers", "event handled")) for _ in range(100))  # ours: not limited
    now[0] = 61
    next_window = line("aiokafka.conn", "Unable connect to node with id %s: %s")
    assert limit.filter(next_window) and next_window.dsr_suppressed == 95


def test_a_throttled_structlog_line_says_how_many_were_suppressed(monkeypatch):
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    configure_logging("probe")
    try:
        log = structlog.get_logger()
        for _ in range(20):
            throttled(log).warning("transient fault, message will be read again", error="AutoReconnect()")
            log.info("event handled")
        lines = [json.loads(line) for line in out.getvalue().splitlines()]
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers[:] = []
    faults = [line for line in lines if line["event"].startswith("transient fault")]
    assert len(faults) == 5 and len([line for line in lines if line["event"] == "event handled"]) == 20
    assert all("_throttle" not in line for line in lines)
