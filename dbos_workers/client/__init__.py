"""DBOSClient: enqueue and manage workflows from outside the worker pool (DBOS 3.4's API)."""

from .aio import WorkflowHandleAsync
from .client import DBOSClient
from .options import EnqueueOptions

__all__ = ["DBOSClient", "EnqueueOptions", "WorkflowHandleAsync"]
