"""Typed errors. One root, DBOS-compatible names where users expect them.

Control-flow signals that user code must not swallow (cancellation, loss of ownership)
derive from ``BaseException`` so a bare ``except Exception`` in a workflow cannot eat them.
"""

from __future__ import annotations


def _rebuild(cls: type[BaseException], message: str, state: dict[str, object]) -> BaseException:
    error = cls.__new__(cls)
    error.args = (message,)
    error.__dict__.update(state)
    return error


class DBOSWorkersError(Exception):
    """dbos-workers failed."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())

    def __reduce__(self) -> tuple[object, ...]:
        # Stored errors round-trip whatever a subclass's __init__ takes.
        return (_rebuild, (type(self), str(self), dict(self.__dict__)))


DBOSException = DBOSWorkersError


class DBOSConfigError(DBOSWorkersError):
    """The configuration is invalid; fix the named key."""


class DBOSQueueConfigError(DBOSConfigError, ValueError):
    """A queue's settings are invalid (DBOS raises ValueError for these: both catch it)."""


class DBOSNotLaunchedError(DBOSWorkersError):
    """DBOS is not launched: call DBOS(config=...) and DBOS.launch() first."""


class DatabaseUnavailableError(DBOSWorkersError):
    """The system database could not be reached."""


class DuplicateKeyError(DBOSWorkersError):
    """A unique constraint of the system database was violated."""

    def __init__(self, constraint: str) -> None:
        self.constraint = constraint
        super().__init__(f"unique constraint {constraint!r} violated")


class MissingReferenceError(DBOSWorkersError):
    """A foreign key of the system database points to a row that does not exist."""

    def __init__(self, constraint: str) -> None:
        self.constraint = constraint
        super().__init__(f"foreign key {constraint!r} violated")


class LeadershipLostError(DBOSWorkersError):
    """The leader row no longer names this session: another session leads."""


class DBOSNotInTransactionError(DBOSWorkersError, AssertionError):
    """sql_session() must be called within a transaction (a function decorated with
    @DBOS.transaction() or @datasource.transaction())."""


class EmbeddedPostgresMissingError(DBOSConfigError):
    """No system_database_url is set and the embedded Postgres is not installed:
    run `pip install 'dbos-workers[embedded]'` or set system_database_url."""


class DBOSSerializationError(DBOSWorkersError, TypeError):
    """A value could not be serialized or deserialized."""


class DBOSNonExistentWorkflowError(DBOSWorkersError):
    """The workflow does not exist."""

    def __init__(self, workflow_id: str) -> None:
        self.workflow_id = workflow_id
        super().__init__(f"workflow {workflow_id!r} does not exist")


class DBOSWorkflowFunctionNotFoundError(DBOSWorkersError):
    """No workflow function is registered under this name."""

    def __init__(self, name: str, detail: str = "") -> None:
        self.name = name
        super().__init__(
            f"no workflow is registered under the name {name!r}{detail}; decorate it with "
            "@DBOS.workflow() in a module imported before DBOS.launch()"
        )


class DBOSConflictingWorkflowError(DBOSWorkersError):
    """A workflow with this id exists with a different function."""

    def __init__(self, workflow_id: str, message: str) -> None:
        self.workflow_id = workflow_id
        super().__init__(f"conflicting workflow id {workflow_id!r}: {message}")


class DBOSQueueDeduplicatedError(DBOSWorkersError):
    """A workflow with this deduplication id is already active on the queue."""

    def __init__(self, workflow_id: str, queue_name: str, deduplication_id: str) -> None:
        self.workflow_id = workflow_id
        self.queue_name = queue_name
        self.deduplication_id = deduplication_id
        super().__init__(
            f"workflow {workflow_id!r} not enqueued: deduplication id {deduplication_id!r} "
            f"is already active on queue {queue_name!r}"
        )


class DBOSUnexpectedStepError(DBOSWorkersError):
    """The workflow called a different operation than the one recorded at this position:
    workflow code must be deterministic."""

    def __init__(self, workflow_id: str, step_id: int, expected: str, recorded: str) -> None:
        super().__init__(
            f"workflow {workflow_id!r} step {step_id}: called {expected!r} but the recorded "
            f"operation is {recorded!r}; workflow code must call steps in the same order"
        )


DBOSStepNondeterminismError = DBOSUnexpectedStepError


class DBOSMaxStepRetriesExceeded(DBOSWorkersError):
    """A step failed on every allowed attempt."""

    def __init__(self, step_name: str, max_attempts: int, errors: list[BaseException]) -> None:
        self.step_name = step_name
        self.max_attempts = max_attempts
        self.errors = errors
        last = f": {errors[-1]!r}" if errors else ""
        super().__init__(f"step {step_name!r} failed {max_attempts} times{last}")



class DBOSAwaitedWorkflowCancelledError(DBOSWorkersError):
    """The awaited workflow was cancelled."""

    def __init__(self, workflow_id: str) -> None:
        self.workflow_id = workflow_id
        super().__init__(f"awaited workflow {workflow_id!r} was cancelled")



class DBOSAwaitedWorkflowMaxRecoveryAttemptsExceeded(DBOSWorkersError):
    """The awaited workflow exceeded its recovery attempts (dead letter)."""

    def __init__(self, workflow_id: str) -> None:
        self.workflow_id = workflow_id
        super().__init__(
            f"awaited workflow {workflow_id!r} exceeded max_recovery_attempts; "
            "resume it with DBOS.resume_workflow"
        )



class DBOSStreamTimeoutError(DBOSWorkersError):
    """No value arrived on a stream within its timeout (or the stream ended before it)."""

    def __init__(self, workflow_id: str, key: str, timeout_seconds: float | None = None) -> None:
        self.workflow_id = workflow_id
        self.key = key
        self.timeout_seconds = timeout_seconds
        within = f" within {timeout_seconds} seconds" if timeout_seconds is not None else ""
        super().__init__(f"No value arrived on stream {key} of workflow {workflow_id}{within}")


class DBOSWorkflowConflictIDError(DBOSWorkersError):
    """Another execution owns this workflow now."""


class DBOSWorkflowIDInUseError(DBOSWorkersError):
    """The workflow id is already in use."""


class WorkflowOutputError(DBOSWorkersError):
    """A workflow raised an exception that could not be stored as is."""

    def __init__(self, type_name: str, text: str) -> None:
        self.type_name = type_name
        self.text = text
        super().__init__(f"{type_name}: {text}")



class DBOSWorkflowCancelledError(BaseException):
    """The workflow was cancelled (or passed its deadline); its execution stops here."""

    def __init__(self, workflow_id: str) -> None:
        self.workflow_id = workflow_id
        super().__init__(f"workflow {workflow_id!r} was cancelled")


class WorkflowOwnershipLostError(BaseException):
    """Another execution took this workflow over; this stale run stops here."""

    def __init__(self, workflow_id: str) -> None:
        self.workflow_id = workflow_id
        super().__init__(f"workflow {workflow_id!r} is owned by another execution")


class WorkerDrainingError(BaseException):
    """The worker is shutting down; the workflow is handed back to its queue."""
