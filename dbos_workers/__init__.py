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
from .bulk import EnqueueItem  # noqa: E402
from .config import DBOSConfig  # noqa: E402
from .context import SetEnqueueOptions, SetWorkflowID, SetWorkflowTimeout, StepStatus  # noqa: E402
from .dbos import DBOS  # noqa: E402
from .debouncer import Debouncer  # noqa: E402
from .errors import (  # noqa: E402
    DBOSAwaitedWorkflowCancelledError,
    DBOSAwaitedWorkflowMaxRecoveryAttemptsExceeded,
    DBOSConfigError,
    DBOSConflictingWorkflowError,
    DBOSException,
    DBOSMaxStepRetriesExceeded,
    DBOSNonExistentWorkflowError,
    DBOSNotLaunchedError,
    DBOSQueueDeduplicatedError,
    DBOSSerializationError,
    DBOSUnexpectedStepError,
    DBOSWorkersError,
    DBOSWorkflowCancelledError,
    DBOSWorkflowFunctionNotFoundError,
)
from .handle import WorkflowHandle  # noqa: E402
from .messages import SendMessage  # noqa: E402
from .queue import Queue, QueueRateLimit  # noqa: E402
from .schedules import ScheduleInput, WorkflowSchedule  # noqa: E402
from .serialization import JSONSerializer, PickleSerializer, Serializer  # noqa: E402
from .status import WorkflowStatus  # noqa: E402

__all__ = [
    "DBOS",
    "AsyncSQLAlchemyDatasource",
    "DBOSAwaitedWorkflowCancelledError",
    "DBOSAwaitedWorkflowMaxRecoveryAttemptsExceeded",
    "DBOSConfig",
    "DBOSConfigError",
    "DBOSConflictingWorkflowError",
    "DBOSException",
    "DBOSMaxStepRetriesExceeded",
    "DBOSNonExistentWorkflowError",
    "DBOSNotLaunchedError",
    "DBOSQueueDeduplicatedError",
    "DBOSSerializationError",
    "DBOSUnexpectedStepError",
    "DBOSWorkersError",
    "DBOSWorkflowCancelledError",
    "DBOSWorkflowFunctionNotFoundError",
    "Debouncer",
    "EnqueueItem",
    "JSONSerializer",
    "PickleSerializer",
    "Queue",
    "QueueRateLimit",
    "SQLAlchemyDatasource",
    "ScheduleInput",
    "SendMessage",
    "Serializer",
    "SetEnqueueOptions",
    "SetWorkflowID",
    "SetWorkflowTimeout",
    "StepStatus",
    "WorkflowHandle",
    "WorkflowSchedule",
    "WorkflowStatus",
    "error",
]


def __getattr__(name: str) -> object:
    # The datasources import SQLAlchemy: only when a program asks for them.
    if name in ("SQLAlchemyDatasource", "AsyncSQLAlchemyDatasource"):
        from . import datasource

        return getattr(datasource, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
