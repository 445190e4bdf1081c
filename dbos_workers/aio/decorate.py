"""What @DBOS.workflow and @DBOS.step make of an `async def`: a coroutine function that
runs durably when awaited (on the caller's loop)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ..context import current_workflow
from ..registry import StepOptions, WorkflowInfo
from ..runtime import Runtime


def async_workflow_wrapper(rt_of: Callable[[], Runtime], info: WorkflowInfo,
                           func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        from .runner import invoke

        return await invoke(rt_of(), info, args, kwargs)

    return wrapper


def async_step_wrapper(rt_of: Callable[[], Runtime], options: StepOptions,
                       func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_workflow() is None:
            return await func(*args, **kwargs)
        from .steps import run_step

        return await run_step(rt_of(), options, func, args, kwargs)

    return wrapper
