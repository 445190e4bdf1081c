"""The DBOS facade's classes, roles, identity and step-reservation API (mixed into DBOS).

Kept out of dbos.py so that module stays a thin lifecycle façade; every method here is a
classmethod or class property of DBOS, spelled as in DBOS 3.4.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypedDict, TypeVar

from . import auth, steps
from .classes import class_info, register_class
from .context import current_step, current_workflow
from .decorators import step_options
from .enqueue_options import EnqueueOptions, enqueue_with_options
from .errors import DBOSException
from .handle import WorkflowHandle
from .registry import GLOBAL_REGISTRY
from .runtime import current_runtime

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


class StepOptions(TypedDict, total=False):
    """The options of @DBOS.step, for DBOS.run_step and StepReservation.run (as DBOS)."""

    name: str | None
    retries_allowed: bool
    interval_seconds: float
    max_attempts: int
    backoff_rate: float
    should_retry: Callable[[BaseException], bool] | None
    preemptible: bool
    timeout_seconds: float | None


class StepInfo(TypedDict):
    """One recorded operation, as DBOS.list_workflow_steps returns it."""

    function_id: int
    function_name: str
    output: Any
    error: Exception | None
    child_workflow_id: str | None
    child_shard_key: str | None
    started_at_epoch_ms: int | None
    completed_at_epoch_ms: int | None


@dataclass
class StepReservation:
    """A step id drawn by DBOS.reserve_step, run exactly once later (in the same workflow,
    outside any step) with `run`. One that never runs leaves a gap in the step ids."""

    _workflow_id: str
    _step_id: int
    _used: bool = False

    @property
    def step_id(self) -> int:
        return self._step_id

    def run(self, dbos_step_options: StepOptions | None, func: Callable[..., Any], *args: Any,
            **kwargs: Any) -> Any:
        if self._used:
            raise DBOSException("A step reservation can only be run once")
        ctx = current_workflow()
        if ctx is None or current_step() is not None or ctx.workflow_id != self._workflow_id:
            raise DBOSException(f"Step {self._step_id} was reserved in workflow {self._workflow_id} "
                                "and must be run from that workflow, outside any step")
        self._used = True
        opts = step_options(dict(dbos_step_options or {}), func)
        return steps.run_step(current_runtime(), opts, func, args, kwargs, fid=self._step_id)


class ParityMeta(type):
    """Class properties: who the current code runs as (None outside any DBOS context)."""

    @property
    def authenticated_user(cls) -> str | None:
        identity = auth.current()
        return identity.authenticated_user if identity else None

    @property
    def authenticated_roles(cls) -> list[str] | None:
        identity = auth.current()
        return identity.authenticated_roles if identity else None

    @property
    def assumed_role(cls) -> str | None:
        identity = auth.current()
        return identity.assumed_role if identity else None


class ParityAPI:
    @classmethod
    def dbos_class(cls, class_name: str | None = None) -> Callable[[type[T]], type[T]]:
        """Decorate a class holding DBOS methods (required, as in DBOS). Class names must be
        unique; the default is the class's __qualname__."""

        def decorator(klass: type[T]) -> type[T]:
            return register_class(GLOBAL_REGISTRY, klass, class_name)

        return decorator

    @classmethod
    def default_required_roles(cls, roles: list[str]) -> Callable[[type[T]], type[T]]:
        """The roles required by the class's DBOS methods that name none of their own."""

        def decorator(klass: type[T]) -> type[T]:
            register_class(GLOBAL_REGISTRY, klass)
            class_info(klass).default_required_roles = list(roles)
            return klass

        return decorator

    @classmethod
    def required_roles(cls, roles: list[str]) -> Callable[[F], F]:
        """Calls need one of these roles in their identity (DBOSNotAuthorizedError otherwise);
        the first one held is assumed for the call."""
        return auth.required_roles(roles)

    @classmethod
    def set_authentication(cls, authenticated_user: str | None,
                           authenticated_roles: list[str] | None) -> None:
        auth.set_authentication(authenticated_user, authenticated_roles)

    @classmethod
    def reserve_step(cls) -> StepReservation:
        """Draw the next step id now, to run a step at it later (StepReservation.run)."""
        ctx = current_workflow()
        if ctx is None or current_step() is not None:
            raise DBOSException("DBOS.reserve_step must be called from a workflow, outside any step "
                                "or transaction")
        return StepReservation(ctx.workflow_id, ctx.next_function_id())

    @classmethod
    def enqueue_workflow_with_options(cls, options: EnqueueOptions, *args: Any,
                                      **kwargs: Any) -> WorkflowHandle[Any]:
        """Enqueue a workflow by name (it may be implemented by another process sharing the
        system database). Not checked against this process's registry; app_version stays
        unset (NULL) unless given."""
        return enqueue_with_options(current_runtime(), options, args, kwargs)
