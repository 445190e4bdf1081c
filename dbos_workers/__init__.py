"""dbos-workers: DBOS-style durable workflows on a multiprocess worker pool over PostgreSQL.

A DBOS app ports by changing `from dbos import ...` to `from dbos_workers import ...`.
"""

import pathlib as _pathlib

# supervisor/ sits at the top of the source tree and is installed as dbos_workers.supervisor;
# running from a checkout, make the same import path work.
_source_root = _pathlib.Path(__file__).resolve().parent.parent
if (_source_root / "supervisor" / "__init__.py").is_file() and not (
    _pathlib.Path(__file__).resolve().parent / "supervisor"
).is_dir():
    __path__.append(str(_source_root))

from . import errors as error  # noqa: E402
from .aio.handle import WorkflowHandleAsync  # noqa: E402
from .auth import DBOSContextEnsure, DBOSContextSetAuth  # noqa: E402
from .bulk import EnqueueItem  # noqa: E402
from .classes import DBOSConfiguredInstance  # noqa: E402
from .client import DBOSClient  # noqa: E402
from .config import DBOSConfig  # noqa: E402
from .context import (  # noqa: E402
    DuplicationPolicy,
    SetEnqueueOptions,
    SetWorkflowAttributes,
    SetWorkflowID,
    SetWorkflowTimeout,
    StepStatus,
    WorkflowIDReusePolicy,
)
from .dbos import DBOS  # noqa: E402
from .debouncer import Debouncer  # noqa: E402
from .enqueue_options import EnqueueOptions  # noqa: E402
from .errors import (  # noqa: E402
    DBOSAwaitedWorkflowCancelledError,
    DBOSAwaitedWorkflowMaxRecoveryAttemptsExceeded,
    DBOSConfigError,
    DBOSConflictingWorkflowError,
    DBOSException,
    DBOSMaxStepRetriesExceeded,
    DBOSNonExistentWorkflowError,
    DBOSNotAuthorizedError,
    DBOSNotLaunchedError,
    DBOSQueueDeduplicatedError,
    DBOSSerializationError,
    DBOSStepTimeoutError,
    DBOSUnexpectedStepError,
    DBOSWorkersError,
    DBOSWorkflowCancelledError,
    DBOSWorkflowConflictIDError,
    DBOSWorkflowFunctionNotFoundError,
    DBOSWorkflowIDInUseError,
)
from .handle import WorkflowHandle  # noqa: E402
from .messages import SendMessage  # noqa: E402
from .parity import StepInfo, StepOptions, StepReservation  # noqa: E402
from .queue import Queue, QueueRateLimit  # noqa: E402
from .schedules import ScheduleInput, WorkflowSchedule  # noqa: E402
from .serialization import JSONSerializer, PickleSerializer, Serializer  # noqa: E402
from .status import WorkflowStatus, WorkflowStatusString  # noqa: E402

__all__ = [
    "DBOS",
    "AsyncSQLAlchemyDatasource",
    "DBOSAwaitedWorkflowCancelledError",
    "DBOSAwaitedWorkflowMaxRecoveryAttemptsExceeded",
    "DBOSClient",
    "DBOSConfig",
    "DBOSConfigError",
    "DBOSConfiguredInstance",
    "DBOSConflictingWorkflowError",
    "DBOSContextEnsure",
    "DBOSContextSetAuth",
    "DBOSException",
    "DBOSMaxStepRetriesExceeded",
    "DBOSNonExistentWorkflowError",
    "DBOSNotAuthorizedError",
    "DBOSNotLaunchedError",
    "DBOSQueueDeduplicatedError",
    "DBOSSerializationError",
    "DBOSStepTimeoutError",
    "DBOSUnexpectedStepError",
    "DBOSWorkersError",
    "DBOSWorkflowCancelledError",
    "DBOSWorkflowConflictIDError",
    "DBOSWorkflowFunctionNotFoundError",
    "DBOSWorkflowIDInUseError",
    "Debouncer",
    "DuplicationPolicy",
    "EnqueueItem",
    "EnqueueOptions",
    "JSONSerializer",
    "PickleSerializer",
    "Queue",
    "QueueRateLimit",
    "SQLAlchemyDatasource",
    "ScheduleInput",
    "SendMessage",
    "Serializer",
    "SetEnqueueOptions",
    "SetWorkflowAttributes",
    "SetWorkflowID",
    "SetWorkflowTimeout",
    "StepInfo",
    "StepOptions",
    "StepReservation",
    "StepStatus",
    "WorkflowHandle",
    "WorkflowHandleAsync",
    "WorkflowIDReusePolicy",
    "WorkflowSchedule",
    "WorkflowStatus",
    "WorkflowStatusString",
    "error",
]


def __getattr__(name: str) -> object:
    # The datasources import SQLAlchemy: only when a program asks for them.
    if name in ("SQLAlchemyDatasource", "AsyncSQLAlchemyDatasource"):
        from . import datasource

        return getattr(datasource, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
