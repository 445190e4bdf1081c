"""@DBOS.workflow and @DBOS.step: what they register and what the decorated function does.

Every decorated function carries a FuncMeta (classes.py) shared with its wrappers, so
@DBOS.dbos_class and @DBOS.required_roles find it whatever the decorator order. A step also
registers a temporary workflow "<temp>.<step name>" that runs it as its only step, so
`DBOS.start_workflow(step, ...)` and `queue.enqueue(step, ...)` work as in DBOS.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from . import steps
from . import workflow as wf
from .aio.decorate import async_step_wrapper, async_workflow_wrapper
from .classes import ensure_meta
from .context import current_workflow
from .registry import (
    DEFAULT_MAX_RECOVERY_ATTEMPTS,
    GLOBAL_REGISTRY,
    TEMP_PREFIX,
    StepOptions,
    WorkflowInfo,
)
from .runtime import Runtime

F = TypeVar("F", bound=Callable[..., Any])
RuntimeOf = Callable[[], Runtime]


def workflow_decorator(rt_of: RuntimeOf, name: str | None,
                       max_recovery_attempts: int | None) -> Callable[[F], F]:
    def decorator(func: F) -> F:
        meta = ensure_meta(func)  # before wraps(): the wrapper shares it
        info = WorkflowInfo(name or func.__qualname__, func, max_recovery_attempts, func.__module__)
        meta.name = info.name
        GLOBAL_REGISTRY.add_workflow(info)

        if inspect.iscoroutinefunction(func):  # awaited on the caller's loop (aio/)
            wrapper = async_workflow_wrapper(rt_of, info, func)
        else:
            @functools.wraps(func)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                return wf.invoke(rt_of(), info, args, kwargs)

        wrapper.__dbos_workflow__ = info  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator


def step_decorator(rt_of: RuntimeOf, opts: dict[str, Any]) -> Callable[[F], F]:
    def decorator(func: F) -> F:
        options = StepOptions(**{**opts, "name": opts.get("name") or func.__qualname__,
                                 "is_async": inspect.iscoroutinefunction(func)})
        meta = ensure_meta(func)
        meta.name = options.name

        if options.is_async:
            wrapper = async_step_wrapper(rt_of, options, func)
        else:
            @functools.wraps(func)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                if current_workflow() is None:
                    return func(*args, **kwargs)
                return steps.run_step(rt_of(), options, func, args, kwargs)

        wrapper.__dbos_workflow__ = _temp_workflow(wrapper, options.name, func)  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator


def _temp_workflow(step: Callable[..., Any], step_name: str, func: Callable[..., Any]) -> WorkflowInfo:
    """The workflow that runs `step` alone (DBOS's "<temp>.<step name>"), sharing its FuncMeta
    so a method step records its class and instance like a method workflow."""

    def temp_workflow(*args: Any, **kwargs: Any) -> Any:
        return step(*args, **kwargs)

    if inspect.iscoroutinefunction(func):
        async def temp_workflow(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
            return await step(*args, **kwargs)

    temp_workflow.__dbos_meta__ = ensure_meta(func)  # type: ignore[attr-defined]
    info = WorkflowInfo(TEMP_PREFIX + step_name, temp_workflow, DEFAULT_MAX_RECOVERY_ATTEMPTS, func.__module__)
    GLOBAL_REGISTRY.add_workflow(info)
    return info


def step_options(options: dict[str, Any] | None, func: Callable[..., Any]) -> StepOptions:
    """DBOS.run_step's StepOptions dict (a name of None: the function's qualified name)."""
    opts = dict(options or {})
    opts["name"] = opts.get("name") or getattr(func, "__qualname__", "step")
    opts["is_async"] = inspect.iscoroutinefunction(func)
    return StepOptions(**opts)


def call_args(func: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Any, ...]:
    """A bound method (inst.workflow, Cls.classmethod_workflow) passed to start_workflow or
    enqueue: its instance or class becomes the first argument, as when it is called."""
    bound = getattr(func, "__self__", None)
    return args if bound is None else (bound, *args)
