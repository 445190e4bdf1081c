"""Context variables: the running workflow/step, and options for the next workflow start."""

from __future__ import annotations

import contextvars
import threading
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from .db.records import Checkpoint, StepRecord
from .errors import DBOSConfigError


class CancelFlag:
    """threading.Event's is_set/set/wait, with the Event (and its Condition) made only when
    someone waits: most workflows are never cancelled and never sleep."""

    __slots__ = ("_event", "_flag")
    _guard = threading.Lock()

    def __init__(self) -> None:
        self._flag = False
        self._event: threading.Event | None = None

    def is_set(self) -> bool:
        return self._flag

    def set(self) -> None:
        with CancelFlag._guard:
            self._flag = True
            event = self._event
        if event is not None:
            event.set()

    def wait(self, timeout: float | None = None) -> bool:
        with CancelFlag._guard:
            if self._flag:
                return True
            if self._event is None:
                self._event = threading.Event()
            event = self._event
        return event.wait(timeout)


@dataclass
class WorkflowContext:
    """State of one workflow execution in this thread."""

    workflow_id: str
    owner_token: str
    name: str
    recorded: dict[int, StepRecord]
    deadline_ms: int | None = None
    queue_name: str | None = None
    next_id: int = 0
    cancelled: CancelFlag = field(default_factory=CancelFlag)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # The last step's checkpoint, written with the next operation (or with the outcome).
    pending: Checkpoint | None = None

    def next_function_id(self) -> int:
        with self.lock:
            self.next_id += 1
            return self.next_id


@dataclass(frozen=True)
class StepContext:
    step_id: int
    current_attempt: int
    max_attempts: int


StepStatus = StepContext

_workflow: contextvars.ContextVar[WorkflowContext | None] = contextvars.ContextVar(
    "dbos_workflow", default=None)
_step: contextvars.ContextVar[StepContext | None] = contextvars.ContextVar(
    "dbos_step", default=None)


@dataclass(frozen=True)
class StartOptions:
    """What SetWorkflowID / SetWorkflowTimeout / SetEnqueueOptions set for the next start."""

    workflow_id: str | None = None
    timeout_sec: float | None = None
    timeout_set: bool = False
    deduplication_id: str | None = None
    priority: int | None = None
    delay_seconds: float | None = None
    queue_partition_key: str | None = None
    # Set by Debouncer only: the row is a debounced DELAYED workflow with this deadline.
    debounced: bool = False
    debounce_deadline_ms: int | None = None


_options: contextvars.ContextVar[StartOptions] = contextvars.ContextVar(
    "dbos_start_options", default=StartOptions())  # noqa: B039 (frozen)


def current_workflow() -> WorkflowContext | None:
    return _workflow.get()


def current_step() -> StepContext | None:
    return _step.get()


def start_options() -> StartOptions:
    return _options.get()


def consume_workflow_id() -> str | None:
    """SetWorkflowID applies to the next workflow started in the block only."""
    opts = _options.get()
    if opts.workflow_id is None:
        return None
    _options.set(StartOptions(**{**opts.__dict__, "workflow_id": None}))
    return opts.workflow_id


class _OptionBlock:
    _token: contextvars.Token[StartOptions] | None = None

    def _changes(self) -> dict[str, Any]:
        raise NotImplementedError

    def __enter__(self) -> _OptionBlock:
        current = _options.get()
        self._token = _options.set(StartOptions(**{**current.__dict__, **self._changes()}))
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._token is not None:
            _options.reset(self._token)


class SetWorkflowID(_OptionBlock):
    """Use this id (an idempotency key) for the next workflow started in the block."""

    def __init__(self, wfid: str) -> None:
        if not isinstance(wfid, str) or not wfid:
            raise DBOSConfigError(f"SetWorkflowID needs a non-empty string, got {wfid!r}")
        if "\x00" in wfid:
            raise DBOSConfigError("SetWorkflowID: workflow ids cannot contain NUL bytes")
        self.wfid = wfid

    def _changes(self) -> dict[str, Any]:
        return {"workflow_id": self.wfid}


class SetWorkflowTimeout(_OptionBlock):
    """Workflows started in the block are cancelled after this many seconds (None clears)."""

    def __init__(self, workflow_timeout_sec: float | None) -> None:
        if workflow_timeout_sec is not None and (
            isinstance(workflow_timeout_sec, bool)
            or not isinstance(workflow_timeout_sec, int | float)
            or workflow_timeout_sec <= 0
        ):
            raise DBOSConfigError(f"workflow timeout must be a positive number, got {workflow_timeout_sec!r}")
        self.timeout = workflow_timeout_sec

    def _changes(self) -> dict[str, Any]:
        return {"timeout_sec": self.timeout, "timeout_set": True}


class SetEnqueueOptions(_OptionBlock):
    """Deduplication id, priority and delay for workflows enqueued in the block."""

    def __init__(self, *, deduplication_id: str | None = None, priority: int | None = None,
                 delay_seconds: float | None = None, app_version: str | None = None,
                 queue_partition_key: str | None = None) -> None:
        if priority is not None and (not isinstance(priority, int) or not 0 <= priority < 2**31):
            raise DBOSConfigError(f"priority must be an integer in [0, 2**31), got {priority!r}")
        if delay_seconds is not None and (not isinstance(delay_seconds, int | float) or delay_seconds < 0):
            raise DBOSConfigError(f"delay_seconds must be >= 0, got {delay_seconds!r}")
        if deduplication_id is not None and not isinstance(deduplication_id, str):
            raise DBOSConfigError(f"deduplication_id must be a string, got {deduplication_id!r}")
        if queue_partition_key is not None and (not isinstance(queue_partition_key, str)
                                                or "\x00" in queue_partition_key):
            raise DBOSConfigError(f"queue_partition_key must be a string, got {queue_partition_key!r}")
        if queue_partition_key is not None and deduplication_id is not None:
            raise DBOSConfigError("Deduplication is not supported for partitioned queues")
        self.changes = {"deduplication_id": deduplication_id, "priority": priority,
                        "delay_seconds": delay_seconds, "queue_partition_key": queue_partition_key}

    def _changes(self) -> dict[str, Any]:
        return self.changes


def enter_workflow(ctx: WorkflowContext) -> contextvars.Token[WorkflowContext | None]:
    return _workflow.set(ctx)


def exit_workflow(token: contextvars.Token[WorkflowContext | None]) -> None:
    _workflow.reset(token)


def enter_step(step: StepContext) -> contextvars.Token[StepContext | None]:
    return _step.set(step)


def exit_step(token: contextvars.Token[StepContext | None]) -> None:
    _step.reset(token)
