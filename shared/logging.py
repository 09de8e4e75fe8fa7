"""structlog JSON logging; ``submission_id``, ``invoice_id`` and ``tenant`` bound per message."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog

_CONTEXT_KEYS = ("submission_id", "invoice_id", "tenant")


def configure(service: str, level: str = "INFO") -> None:
    """JSON lines on stderr, one per event, with the service name and ISO timestamps."""
    logging.basicConfig(stream=sys.stderr, level=level, format="%(message)s")
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)


@contextmanager
def bound(**ids: Any) -> Iterator[None]:
    """Bind the message's ids on every log line inside the block (absent ones as null)."""
    values = {k: (str(ids[k]) if ids.get(k) is not None else None) for k in _CONTEXT_KEYS}
    values.update({k: v for k, v in ids.items() if k not in _CONTEXT_KEYS})
    tokens = structlog.contextvars.bind_contextvars(**values)
    try:
        yield
    finally:
        structlog.contextvars.reset_contextvars(**tokens)


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
