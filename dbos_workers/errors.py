"""Typed errors: DBOS's classes, codes and message words (dbos/_error.py, 3.4), plus ours.

One root, `DBOSException` (`DBOSWorkersError` is the same class), whose `str()` reads
"DBOS Error <code>: <message>" as in DBOS. Control-flow signals that user code must not
swallow (cancellation, loss of ownership) derive from `DBOSBaseException`, a
``BaseException``, so a bare ``except Exception`` in a workflow cannot eat them.
"""

from __future__ import annotations

from enum import Enum


class DBOSErrorCode(Enum):
    ConflictingIDError = 1
    RecoveryError = 2
    InitializationError = 3
    WorkflowFunctionNotFound = 4
    NonExistentWorkflowError = 5
    MaxRecoveryAttemptsExceeded = 6
    MaxStepRetriesExceeded = 7
    NotAuthorized = 8
    ConflictingWorkflowError = 9
    WorkflowCancelled = 10
    UnexpectedStep = 11
    QueueDeduplicated = 12
    AwaitedWorkflowCancelled = 13
    AwaitedWorkflowMaxRecoveryAttemptsExceeded = 14
    PatchNondeterminism = 15
    StreamTimeout = 16
    StreamNondeterminism = 17
    StepTimeout = 18
    QueryTimeout = 26
    WorkflowIDInUse = 27
    StepNondeterminism = 28


def _rebuild(cls: type[BaseException], args: tuple[object, ...], state: dict[str, object]) -> BaseException:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


def _text(self: BaseException) -> str:
    code = getattr(self, "dbos_error_code", None)
    message = getattr(self, "message", "")
    return f"DBOS Error {code}: {message}" if code else f"DBOS Error: {message}"


class DBOSException(Exception):
    """dbos-workers failed."""

    code: DBOSErrorCode | None = None

    def __init__(self, message: str | None = None, dbos_error_code: int | None = None) -> None:
        self.message = message or (type(self).__doc__ or "").strip()
        self.dbos_error_code = dbos_error_code if dbos_error_code is not None else (
            self.code.value if self.code else None)
        super().__init__(self.message)

    __str__ = _text

    def __reduce__(self) -> tuple[object, ...]:
        # Stored errors round-trip whatever a subclass's __init__ takes.
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


DBOSWorkersError = DBOSException


class DBOSBaseException(BaseException):
    """A DBOS signal user code must not catch."""

    code: DBOSErrorCode | None = None

    def __init__(self, message: str | None = None, dbos_error_code: int | None = None) -> None:
        self.message = message or (type(self).__doc__ or "").strip()
        self.dbos_error_code = dbos_error_code if dbos_error_code is not None else (
            self.code.value if self.code else None)
        super().__init__(self.message)

    __str__ = _text

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


# DBOS's exceptions ---------------------------------------------------------------------------
class DBOSQueryTimeoutError(DBOSException):
    code = DBOSErrorCode.QueryTimeout

    def __init__(self, timeout_seconds: float) -> None:
        self.timeout_seconds = timeout_seconds
        super().__init__(f"This query was cancelled after exceeding its {timeout_seconds:g}s statement timeout.")


class DBOSConflictingWorkflowError(DBOSException):
    """Different workflows started with the same workflow ID."""

    code = DBOSErrorCode.ConflictingWorkflowError

    def __init__(self, workflow_id: str, message: str | None = None) -> None:
        self.workflow_id, self.detail = workflow_id, message
        super().__init__(f"Conflicting workflow invocation with the same ID ({workflow_id}): {message}")


class DBOSRecoveryError(DBOSException):
    code = DBOSErrorCode.RecoveryError

    def __init__(self, workflow_id: str, message: str | None = None) -> None:
        self.workflow_id, self.detail = workflow_id, message
        super().__init__(f"Recovery error for workflow ID {workflow_id}: {message}")


class DBOSInitializationError(DBOSException):
    code = DBOSErrorCode.InitializationError

    def __init__(self, message: str) -> None:
        self.detail = message
        super().__init__(f"Error initializing DBOS Transact: {message}")


class DBOSWorkflowFunctionNotFoundError(DBOSException):
    """The database refers to a workflow function (or class instance) not registered here."""

    code = DBOSErrorCode.WorkflowFunctionNotFound

    def __init__(self, workflow_id: str, message: str | None = None) -> None:
        self.workflow_id, self.detail = workflow_id, message
        super().__init__(f"Could not execute workflow {workflow_id}: {message}")


class DBOSNonExistentWorkflowError(DBOSException):
    """A workflow record does not exist for a given ID. DBOS's signature is
    (destination, destination_id); a single argument is taken as the id of the target."""

    code = DBOSErrorCode.NonExistentWorkflowError

    def __init__(self, destination: str, destination_id: str | None = None) -> None:
        if destination_id is None:
            destination, destination_id = "target", destination
        self.destination, self.destination_id = destination, destination_id
        self.workflow_id = destination_id
        super().__init__(f"Non-existent {destination} workflow ID: {destination_id}")


class DBOSStreamTimeoutError(DBOSException):
    code = DBOSErrorCode.StreamTimeout

    def __init__(self, workflow_id: str, key: str, timeout_seconds: float | None = None) -> None:
        self.workflow_id, self.key, self.timeout_seconds = workflow_id, key, timeout_seconds
        within = f" within {timeout_seconds} seconds" if timeout_seconds is not None else ""
        super().__init__(f"No value arrived on stream {key} of workflow {workflow_id}{within}")


class DBOSStreamNondeterminismError(DBOSException):
    code = DBOSErrorCode.StreamNondeterminism

    def __init__(self, workflow_id: str, key: str) -> None:
        self.workflow_id, self.key = workflow_id, key
        super().__init__(
            f"Cannot deterministically read stream {key} in workflow {workflow_id}: another "
            "stream read in the same workflow is still in progress, so which read records which "
            "value would depend on task scheduling. Read streams from sequential workflow code, "
            "or read them from a step.")


class MaxRecoveryAttemptsExceededError(DBOSException):
    code = DBOSErrorCode.MaxRecoveryAttemptsExceeded

    def __init__(self, wf_id: str, max_retries: int | None = None) -> None:
        self.workflow_id, self.max_retries = wf_id, max_retries
        limit = "its maximum" + (f" of {max_retries}" if max_retries is not None else " number of")
        super().__init__(
            f"Workflow {wf_id} has exceeded {limit} execution or recovery attempts. Further attempts "
            "to execute or recover it will fail. See documentation for details: "
            "https://docs.dbos.dev/python/reference/decorators")


class DBOSNotAuthorizedError(DBOSException):
    """Role-based security: the caller holds none of the function's required roles."""

    code = DBOSErrorCode.NotAuthorized

    def __init__(self, msg: str) -> None:
        self.msg = msg
        super().__init__(msg)


class DBOSMaxStepRetriesExceeded(DBOSException):
    """A step was retried the maximum number of times without success."""

    code = DBOSErrorCode.MaxStepRetriesExceeded

    def __init__(self, step_name: str, max_retries: int, errors: list[Exception]) -> None:
        self.step_name, self.max_retries, self.errors = step_name, max_retries, errors
        self.max_attempts = max_retries
        super().__init__(f"Step {step_name} has exceeded its maximum of {max_retries} retries")


class DBOSStepTimeoutError(DBOSException):
    code = DBOSErrorCode.StepTimeout

    def __init__(self, step_name: str, timeout_seconds: float) -> None:
        self.step_name, self.timeout_seconds = step_name, timeout_seconds
        super().__init__(
            f"Step {step_name} was cancelled after exceeding its timeout of {timeout_seconds} seconds")


class DBOSUnexpectedStepError(DBOSException):
    """A step has an unexpected recorded name: workflow code must be deterministic."""

    code = DBOSErrorCode.UnexpectedStep

    def __init__(self, workflow_id: str, step_id: int, expected_name: str, recorded_name: str) -> None:
        self.inputs = (workflow_id, step_id, expected_name, recorded_name)
        super().__init__(
            f"During execution of workflow {workflow_id} step {step_id}, function {recorded_name} "
            f"was recorded when {expected_name} was expected. Check that your workflow is deterministic.")


class DBOSStepNondeterminismError(DBOSException):
    code = DBOSErrorCode.StepNondeterminism

    def __init__(self, workflow_id: str, step_id: int) -> None:
        self.inputs = (workflow_id, step_id)
        super().__init__(
            f"Step {step_id} of workflow {workflow_id} was recorded twice by the same execution with "
            "different results. Check that your workflow is deterministic.")


class DBOSPatchNondeterminismError(DBOSException):
    code = DBOSErrorCode.PatchNondeterminism

    def __init__(self, workflow_id: str, patch_name: str, details: str) -> None:
        self.inputs = (workflow_id, patch_name, details)
        super().__init__(
            f"Cannot deterministically apply patch {patch_name} in workflow {workflow_id}: {details}. "
            "Check that your workflow is deterministic.")


class DBOSQueueDeduplicatedError(DBOSException):
    """A workflow with this deduplication ID is already active on the queue."""

    code = DBOSErrorCode.QueueDeduplicated

    def __init__(self, workflow_id: str, queue_name: str, deduplication_id: str) -> None:
        self.workflow_id, self.queue_name, self.deduplication_id = workflow_id, queue_name, deduplication_id
        super().__init__(
            f"Workflow {workflow_id} was deduplicated due to an existing workflow in queue {queue_name} "
            f"with deduplication ID {deduplication_id}.")


class DBOSWorkflowIDInUseError(DBOSException):
    """A workflow_id_reuse_policy 'reject' start found its workflow ID in use."""

    code = DBOSErrorCode.WorkflowIDInUse

    def __init__(self, workflow_id: str, workflow_status: str, workflow_name: str) -> None:
        self.workflow_id, self.workflow_status, self.workflow_name = workflow_id, workflow_status, workflow_name
        super().__init__(
            f"Workflow ID {workflow_id} is already in use by workflow {workflow_name} with status "
            f"{workflow_status}.")


class DBOSAwaitedWorkflowCancelledError(DBOSException):
    code = DBOSErrorCode.AwaitedWorkflowCancelled

    def __init__(self, workflow_id: str) -> None:
        self.workflow_id = workflow_id
        super().__init__(f"Awaited workflow {workflow_id} was cancelled")


class DBOSAwaitedWorkflowMaxRecoveryAttemptsExceeded(DBOSException):
    code = DBOSErrorCode.AwaitedWorkflowMaxRecoveryAttemptsExceeded

    def __init__(self, workflow_id: str) -> None:
        self.workflow_id = workflow_id
        super().__init__(f"Awaited workflow {workflow_id} exceeded its maximum recovery attempts")


class DBOSWorkflowCancelledError(DBOSBaseException):
    """The workflow was cancelled (or passed its deadline); its execution stops here. DBOS
    passes a message; a bare workflow id (no spaces) is taken as the id."""

    code = DBOSErrorCode.WorkflowCancelled

    def __init__(self, msg: str) -> None:
        self.workflow_id: str | None = None
        if msg and " " not in msg:
            self.workflow_id, msg = msg, f"Workflow {msg} was cancelled"
        super().__init__(msg)


class DBOSWorkflowConflictIDError(DBOSBaseException):
    """An execution no longer owns its workflow: this stale run stops here."""

    code = DBOSErrorCode.ConflictingIDError

    def __init__(self, workflow_id: str) -> None:
        self.workflow_id = workflow_id
        super().__init__(f"Workflow {workflow_id} is no longer owned by this execution")


WorkflowOwnershipLostError = DBOSWorkflowConflictIDError


def is_workflow_id_in_use_error(e: BaseException) -> bool:
    return getattr(e, "dbos_error_code", None) == DBOSErrorCode.WorkflowIDInUse.value


# Ours ----------------------------------------------------------------------------------------
class DBOSConfigError(DBOSException):
    """The configuration is invalid; fix the named key."""


class DBOSQueueConfigError(DBOSConfigError, ValueError):
    """A queue's settings are invalid (DBOS raises ValueError for these: both catch it)."""


class DBOSNotLaunchedError(DBOSException):
    """DBOS is not launched: call DBOS(config=...) and DBOS.launch() first."""


class DatabaseUnavailableError(DBOSException):
    """The system database could not be reached."""


class DuplicateKeyError(DBOSException):
    """A unique constraint of the system database was violated."""

    def __init__(self, constraint: str) -> None:
        self.constraint = constraint
        super().__init__(f"unique constraint {constraint!r} violated")


class MissingReferenceError(DBOSException):
    """A foreign key of the system database points to a row that does not exist."""

    def __init__(self, constraint: str) -> None:
        self.constraint = constraint
        super().__init__(f"foreign key {constraint!r} violated")


class LeadershipLostError(DBOSException):
    """The leader row no longer names this session: another session leads."""


class DBOSNotInTransactionError(DBOSWorkersError, AssertionError):
    """sql_session() must be called within a transaction (a function decorated with
    @DBOS.transaction() or @datasource.transaction())."""


class EmbeddedPostgresMissingError(DBOSConfigError):
    """No system_database_url is set and the embedded Postgres is not installed:
    run `pip install 'dbos-workers[embedded]'` or set system_database_url."""


class DBOSSerializationError(DBOSException, TypeError):
    """A value could not be serialized or deserialized."""


class WorkflowOutputError(DBOSException):
    """A workflow raised an exception that could not be stored as is."""

    def __init__(self, type_name: str, text: str) -> None:
        self.type_name = type_name
        self.text = text
        super().__init__(f"{type_name}: {text}")


class WorkerDrainingError(BaseException):
    """The worker is shutting down; the workflow is handed back to its queue."""


class DBOSUnsupportedFilterError(DBOSException, ValueError):
    """A list_workflows filter DBOS documents that dbos-workers cannot honour (never ignored)."""

    def __init__(self, parameter: str, reason: str) -> None:
        self.parameter = parameter
        super().__init__(f"list filter {parameter!r} is not supported: {reason}")


class DBOSSchemaMissingError(DBOSException):
    """The client found no dbos-workers schema (or an older one): it never migrates."""
