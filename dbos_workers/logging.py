"""structlog setup: one stream of snake_case events, JSON when not on a TTY, context bound per
process, and the running workflow's id and step on every line logged while it runs.

Standard-library records (`DBOS.logger`, psycopg_pool, the app's own loggers) go through
structlog's ProcessorFormatter into the same stream, with the same processors: the
`logging.getLogger("dbos")` handler always, the root logger's when the app configured none.
Repeated database errors are rate-limited: the first line passes, then at most one line per
`REPEAT_WINDOW_SEC` per event, carrying `repeated=<lines suppressed>`.

Every line is written with a single os.write and no Python-level lock we own, so a fork
taken while another thread was logging cannot leave the child stuck on a held lock (the
stdlib handler's own lock is re-created after fork by `logging` itself).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, MutableMapping
from typing import Any

import structlog

_LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
_configured_level: str | None = None
_process_context: dict[str, object] = {}
_handler: logging.Handler | None = None

REPEAT_WINDOW_SEC = 10.0
DATABASE_EVENTS = frozenset({
    "database_retry", "lease_heartbeat_failed", "worker_database_unavailable", "listener_error",
    "listener_stalled", "leader_tick_failed", "leader_listener_failed", "elector_error",
    "claim_failed", "queue_wake_failed", "transaction_checkpoints_prune_failed",
})
_UNAVAILABLE = "system database unavailable"

EventDict = MutableMapping[str, Any]


def configure(level: str = "INFO") -> None:
    global _configured_level
    if _configured_level == level:
        return
    _configured_level = level
    renderer: structlog.types.Processor = (
        structlog.dev.ConsoleRenderer(colors=False) if sys.stderr.isatty()
        else structlog.processors.JSONRenderer()
    )
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        add_process_context,
        add_workflow_context,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, limit_repeats, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
    _install_stdlib(level, shared, renderer)


def _install_stdlib(level: str, shared: list[structlog.types.Processor],
                    renderer: structlog.types.Processor) -> None:
    global _handler
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name,
                           structlog.stdlib.ExtraAdder({"repeated"}), *shared],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info, renderer],
    )
    root, app_logger = logging.getLogger(), logging.getLogger("dbos")
    for logger in (root, app_logger):
        if _handler is not None and _handler in logger.handlers:
            logger.removeHandler(_handler)
    handler = _FdHandler()
    handler.setFormatter(formatter)
    handler.addFilter(_limit_records)
    _handler = handler
    app_logger.setLevel(_LEVELS[level])
    # The app configured logging: DBOS.logger joins our stream (and still reaches the app's
    # handlers); otherwise every stdlib logger does, through the root logger.
    (app_logger if root.handlers else root).addHandler(handler)


class _StderrLogger:
    """Writes one line per event with a single os.write: no Python-level lock, so a fork
    taken while another thread was logging cannot leave the child stuck on a held lock. Falls back
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


class _FdHandler(logging.Handler):
    """A stdlib handler that writes the formatted record like `_StderrLogger`."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            _StderrLogger().msg(self.format(record))
        except Exception:
            self.handleError(record)


_context_getters: tuple[Callable[[], Any], Callable[[], Any]] | None = None


def add_workflow_context(_logger: object, _method: str, event: EventDict) -> EventDict:
    """workflow_id, step_id and step_name of the workflow running in this thread (if any)."""
    global _context_getters
    if _context_getters is None:
        from .context import current_step, current_workflow  # not at import: a cycle

        _context_getters = (current_workflow, current_step)
    workflow = _context_getters[0]()
    if workflow is not None:
        event.setdefault("workflow_id", workflow.workflow_id)
        step = _context_getters[1]()
        if step is not None:
            event.setdefault("step_id", step.step_id)
            name = getattr(step, "name", None)
            if name:
                event.setdefault("step_name", name)
    return event


class RepeatLimiter:
    """Per key: the first line passes, then one per window with the count suppressed since.
    No lock (a fork must not inherit a held one): under the GIL a race only blurs a count."""

    def __init__(self, window_sec: float = REPEAT_WINDOW_SEC,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.window_sec, self.clock = window_sec, clock
        self._state: dict[tuple[str, str], list[float]] = {}

    def admit(self, key: tuple[str, str]) -> int | None:
        """None: suppress this line; else the number of lines suppressed before it."""
        now = self.clock()
        state = self._state.get(key)
        if state is None or now - state[0] >= self.window_sec:
            suppressed = 0 if state is None else int(state[1])
            self._state[key] = [now, 0.0]
            return suppressed
        state[1] += 1
        return None


_limiter = RepeatLimiter()


def limit_repeats(logger: object, _method: str, event: EventDict) -> EventDict:
    name = str(event.get("event", ""))
    if name not in DATABASE_EVENTS and not str(event.get("error", "")).startswith(_UNAVAILABLE):
        return event
    suppressed = _limiter.admit((getattr(logger, "name", ""), name))
    if suppressed is None:
        raise structlog.DropEvent
    if suppressed:
        event["repeated"] = suppressed
    return event


def _limit_records(record: logging.LogRecord) -> bool:
    """psycopg / psycopg_pool warnings (a dead server: one per connection attempt)."""
    if record.levelno < logging.WARNING or not record.name.startswith("psycopg"):
        return True
    suppressed = _limiter.admit((record.name, str(record.msg)))
    if suppressed is None:
        return False
    if suppressed:
        record.repeated = suppressed
    return True


def add_process_context(_logger: object, _method: str, event: EventDict) -> EventDict:
    """The values bound by bind_process (every thread of the process) and the pid."""
    for key, value in _process_context.items():
        event.setdefault(key, value)
    event.setdefault("pid", os.getpid())
    return event


def bind_process(**values: object) -> None:
    """Context for every line of this process, whichever thread logs it (contextvars do not
    reach threads started later)."""
    _process_context.clear()
    _process_context.update(values)
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(**values)
