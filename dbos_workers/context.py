"""Context variables: the running workflow/step, and options for the next workflow start."""

from __future__ import annotations

import contextvars
import json
import threading
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal

from .db.records import Checkpoint, StepRecord
from .errors import DBOSConfigError, DBOSException

# On a collision with another workflow holding the same deduplication id on the queue:
# "reject" (the default) raises DBOSQueueDeduplicatedError; "return-existing" returns that
# workflow's handle (as DBOS).
DuplicationPolicy = Literal["reject", "return-existing"]
# On a workflow id already in use: "return-existing" (default) attaches to it; "reject"
# raises DBOSWorkflowIDInUseError (as DBOS).
WorkflowIDReusePolicy = Literal["return-existing", "reject"]
MIN_PRIORITY, MAX_PRIORITY = 1, 2**31 - 1


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
    # Identity the workflow runs as (recorded on its row, restored on recovery).
    authenticated_user: str | None = None
    authenticated_roles: list[str] | None = None
    assumed_role: str | None = None
    trace_parent: str | None = None  # the enqueue span's traceparent (tracing.py)
    # Monotonic time this execution last knew it owned its row (lease.py): claimed, or re-read.
    lease_checked: float = field(default_factory=time.monotonic)

    def next_function_id(self) -> int:
        with self.lock:
            self.next_id += 1
            return self.next_id


@dataclass(frozen=True)
class StepContext:
    """DBOS.step_status: the step's id and, for steps with retries, the attempt running now
    (zero-indexed, as DBOS) and the most that will be made; both None without retries."""

    step_id: int
    current_attempt: int | None = None
    max_attempts: int | None = None
    # The step's name, for log lines only (logging.add_workflow_context): not part of DBOS's
    # StepStatus, so it is left out of equality and repr.
    name: str | None = field(default=None, compare=False, repr=False)


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
    reuse_policy: WorkflowIDReusePolicy | None = None
    duplication_policy: DuplicationPolicy | None = None
    app_version: str | None = None
    queue_partition_key: str | None = None
    attributes: dict[str, Any] | None = None
    record_version: bool = True  # False: NULL application_version unless app_version (by name)
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
    """SetWorkflowID applies to the next workflow started in the block only (with its reuse
    policy: read start_options() before consuming)."""
    opts = _options.get()
    if opts.workflow_id is None:
        return None
    _options.set(StartOptions(**{**opts.__dict__, "workflow_id": None, "reuse_policy": None}))
    return opts.workflow_id


class _OptionBlock:
    _token: contextvars.Token[StartOptions] | None = None

    def _changes(self) -> dict[str, Any]:
        raise NotImplementedError

    def __enter__(self) -> _OptionBlock:
        if self._token is not None:
            raise DBOSException(f"This {type(self).__name__} is already in use; create a new one "
                                "for each with block.")
        current = _options.get()
        self._token = _options.set(StartOptions(**{**current.__dict__, **self._changes()}))
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        token, self._token = self._token, None
        if token is not None:
            _options.reset(token)


class SetWorkflowID(_OptionBlock):
    """Use this id (an idempotency key) for the next workflow started in the block. With
    workflow_id_reuse_policy="reject", starting it when the id is in use raises
    DBOSWorkflowIDInUseError instead of returning the existing workflow."""

    def __init__(self, wfid: str, *, workflow_id_reuse_policy: WorkflowIDReusePolicy | None = None) -> None:
        if not isinstance(wfid, str) or not wfid.strip():
            raise DBOSException(f"Invalid workflow ID {wfid!r}: workflow IDs must be non-empty and "
                                "cannot be only whitespace.")
        if "\x00" in wfid:
            raise DBOSConfigError("SetWorkflowID: workflow ids cannot contain NUL bytes")
        if workflow_id_reuse_policy not in (None, "return-existing", "reject"):
            raise DBOSException(f"Invalid workflow_id_reuse_policy {workflow_id_reuse_policy}. "
                                "Must be either 'return-existing' or 'reject'.")
        self.wfid = wfid
        self.workflow_id_reuse_policy = workflow_id_reuse_policy

    def _changes(self) -> dict[str, Any]:
        return {"workflow_id": self.wfid, "reuse_policy": self.workflow_id_reuse_policy}


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
    """Deduplication id (and what a collision does), priority, delay, application version and
    partition key for workflows enqueued in the block."""

    def __init__(self, *, deduplication_id: str | None = None, priority: int | None = None,
                 app_version: str | None = None, queue_partition_key: str | None = None,
                 delay_seconds: float | None = None,
                 duplication_policy: DuplicationPolicy | None = None) -> None:
        if priority is not None and (isinstance(priority, bool) or not isinstance(priority, int)
                                     or not MIN_PRIORITY <= priority <= MAX_PRIORITY):
            raise DBOSConfigError(f"Invalid priority {priority}. Priority must be between "
                                  f"{MIN_PRIORITY}~{MAX_PRIORITY}.")
        if delay_seconds is not None and (not isinstance(delay_seconds, int | float) or delay_seconds < 0):
            raise DBOSConfigError(f"delay_seconds must be >= 0, got {delay_seconds!r}")
        for key, value in (("deduplication_id", deduplication_id), ("app_version", app_version),
                           ("queue_partition_key", queue_partition_key)):
            if value is not None and (not isinstance(value, str) or "\x00" in value):
                raise DBOSConfigError(f"{key} must be a string, got {value!r}")
        if queue_partition_key is not None and deduplication_id is not None:
            raise DBOSConfigError("Deduplication is not supported for partitioned queues")
        if duplication_policy not in (None, "reject", "return-existing"):
            raise DBOSException(f"Invalid duplication_policy {duplication_policy}. "
                                "Must be either 'reject' or 'return-existing'.")
        self.changes = {"deduplication_id": deduplication_id, "priority": priority,
                        "delay_seconds": delay_seconds, "app_version": app_version,
                        "queue_partition_key": queue_partition_key,
                        "duplication_policy": duplication_policy}

    def _changes(self) -> dict[str, Any]:
        return self.changes


class SetWorkflowAttributes(_OptionBlock):
    """Key-value attributes (a JSON-serializable dict) recorded on workflows started or
    enqueued in the block; not inherited by their children."""

    def __init__(self, attributes: dict[str, Any] | None) -> None:
        if attributes is not None and not isinstance(attributes, dict):
            raise DBOSException(f"Invalid workflow attributes {attributes}. Attributes must be a dict.")
        if attributes is not None:
            try:
                json.dumps(attributes)
            except (TypeError, ValueError) as exc:
                raise DBOSException(f"Invalid workflow attributes {attributes}. "
                                    "Attributes must be JSON-serializable.") from exc
        self.attributes = attributes

    def _changes(self) -> dict[str, Any]:
        return {"attributes": None if self.attributes is None else dict(self.attributes)}


def enter_workflow(ctx: WorkflowContext) -> contextvars.Token[WorkflowContext | None]:
    return _workflow.set(ctx)


def exit_workflow(token: contextvars.Token[WorkflowContext | None]) -> None:
    _workflow.reset(token)


def enter_step(step: StepContext) -> contextvars.Token[StepContext | None]:
    return _step.set(step)


def exit_step(token: contextvars.Token[StepContext | None]) -> None:
    _step.reset(token)
