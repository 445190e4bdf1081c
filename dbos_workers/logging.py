"""structlog setup: snake_case events, JSON when not on a TTY, context bound per process."""

from __future__ import annotations

import logging
import os
import sys

import structlog

_LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
_configured_level: str | None = None


def configure(level: str = "INFO") -> None:
    global _configured_level
    if _configured_level == level:
        return
    _configured_level = level
    renderer: structlog.types.Processor = (
        structlog.dev.ConsoleRenderer(colors=False) if sys.stderr.isatty()
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
    app_logger = logging.getLogger("dbos")
    app_logger.setLevel(_LEVELS[level])
    if not app_logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s [%(levelname)s] %(name)s: %(message)s"))
        app_logger.addHandler(handler)


class _StderrLogger:
    """Writes one line per event with a single os.write: no Python-level lock, so a fork taken
    while another thread was logging cannot leave the child stuck on a held lock. Falls back
    to sys.stderr (resolved per use: it may be replaced) when it has no file descriptor."""

    def msg(self, message: str) -> None:
        data = (message + "\n").encode("utf-8", "replace")
        try:
            fd = sys.stderr.fileno()
        except (AttributeError, OSError, ValueError):
            sys.stderr.write(message + "\n")
            return
        while data:
            data = data[os.write(fd, data):]

    debug = info = warning = warn = error = critical = exception = fatal = log = msg


def _stderr_logger(*_: object) -> _StderrLogger:
    return _StderrLogger()


def bind_process(**values: object) -> None:
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(**values)
