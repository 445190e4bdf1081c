"""The `_async` twins of the DBOS API (a base of the DBOS façade) and DBOS.asyncio_wait.
Starts and waits run on the caller's loop; a started async workflow is a task there."""

from __future__ import annotations

import asyncio
import builtins
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from ..context import current_step, current_workflow
from ..decorators import call_args, step_options
from ..errors import DBOSException, DBOSNonExistentWorkflowError
from ..handle import BACKSTOP_SEC
from ..messages import SendMessage
from ..registry import INTERNAL_QUEUE, info_of
from ..runtime import Runtime
from ..status import WorkflowStatus
from ..workflow import Placement
from ..workflow import run_detached as run_sync_detached
from . import comms, queues, runner, starting, steps, streams, waits
from .handle import WorkflowHandleAsync
from .lane import is_async


class AsyncAPI:
    @classmethod
    def _rt(cls) -> Runtime:  # the DBOS façade provides it
        raise NotImplementedError

    # Starting workflows --------------------------------------------------------------------
    @classmethod
    async def start_workflow_async(cls, func: Callable[..., Any], *args: Any,
                                   **kwargs: Any) -> WorkflowHandleAsync[Any]:
        """Start a workflow now, in this process: an async one as a task on this loop, a sync
        one on the thread pool. Returns once its row is durable."""
        rt, info, args = cls._rt(), info_of(func), call_args(func, args)
        handle, ctx = await starting.start(rt, info, args, kwargs, Placement("pool"))
        if ctx is not None:
            if is_async(info):
                rt.aio.spawn(runner.run_detached(rt, ctx, info, args, kwargs))
            else:
                rt.executor_threads.submit(run_sync_detached, rt, ctx, info, args, kwargs)
        return handle

    @classmethod
    async def enqueue_workflow_async(cls, queue_name: str, func: Callable[..., Any], *args: Any,
                                     **kwargs: Any) -> WorkflowHandleAsync[Any]:
        return await starting.enqueue(cls._rt(), queue_name, info_of(func), call_args(func, args), kwargs)

    @classmethod
    async def enqueue_workflow_with_options_async(cls, options: Any, *args: Any,
                                                  **kwargs: Any) -> WorkflowHandleAsync[Any]:
        """Enqueue a workflow by name (EnqueueOptions), awaited."""
        return await starting.enqueue_with_options(cls._rt(), options, args, kwargs)

    @classmethod
    async def retrieve_workflow_async(cls, workflow_id: str,
                                      existing_workflow: bool = True) -> WorkflowHandleAsync[Any]:
        rt = cls._rt()
        if existing_workflow and await rt.aio.db.workflow_outcome(workflow_id) is None:
            raise DBOSNonExistentWorkflowError(workflow_id)
        return WorkflowHandleAsync(rt, workflow_id)

    @classmethod
    async def get_workflow_status_async(cls, workflow_id: str) -> WorkflowStatus | None:
        try:
            return await WorkflowHandleAsync(cls._rt(), workflow_id).get_status()
        except DBOSNonExistentWorkflowError:
            return None

    @classmethod
    async def get_result_async(cls, workflow_id: str) -> Any:
        return await (await cls.retrieve_workflow_async(workflow_id)).get_result()

    # Steps and waits -----------------------------------------------------------------------
    @classmethod
    async def run_step_async(cls, options: dict[str, Any] | None, func: Callable[..., Any],
                             *args: Any, **kwargs: Any) -> Any:
        opts = step_options(options, func)
        return await steps.run_step(cls._rt(), opts, func, args, kwargs)

    @classmethod
    async def sleep_async(cls, seconds: float) -> None:
        await steps.durable_sleep(cls._rt(), seconds)

    @classmethod
    async def send_async(cls, destination_id: str, message: Any, topic: str | None = None, *,
                         idempotency_key: str | None = None) -> None:
        await waits.send(cls._rt(), destination_id, message, topic, idempotency_key)

    @classmethod
    async def recv_async(cls, topic: str | None = None, timeout_seconds: float = 60) -> Any:
        return await waits.recv(cls._rt(), topic, timeout_seconds)

    @classmethod
    async def set_event_async(cls, key: str, value: Any) -> None:
        await waits.set_event(cls._rt(), key, value)

    @classmethod
    async def get_event_async(cls, workflow_id: str, key: str, timeout_seconds: float = 60) -> Any:
        return await waits.get_event(cls._rt(), workflow_id, key, timeout_seconds)

    @classmethod
    def read_stream_async(cls, workflow_id: str, key: str, *, offset: int = 0,
                          polling_interval_sec: float | None = None,
                          timeout_seconds: float | None = None) -> AsyncIterator[Any]:
        """The stream's values (an async iterator); from a workflow, each read is recorded."""
        return streams.read_stream(cls._rt(), workflow_id, key, offset=offset,
                                   polling_interval_sec=polling_interval_sec, timeout_seconds=timeout_seconds)

    @classmethod
    async def read_stream_offset_async(cls, workflow_id: str, key: str, offset: int, *,
                                       polling_interval_sec: float | None = None,
                                       timeout_seconds: float | None = None) -> Any:
        return await streams.read_stream_offset(cls._rt(), workflow_id, key, offset,
                                                polling_interval_sec=polling_interval_sec,
                                                timeout_seconds=timeout_seconds)

    @classmethod
    async def asyncio_wait(cls, fs: list[Awaitable[Any]], *, timeout: float | None = None,
                           return_when: str = asyncio.ALL_COMPLETED
                           ) -> tuple[set[asyncio.Future[Any]], set[asyncio.Future[Any]]]:
        """asyncio.wait, durable in a workflow: which of fs were done is recorded
        ("DBOS.asyncio_wait", their indexes) and replayed on recovery."""
        futures = [asyncio.ensure_future(f) for f in fs]
        if current_workflow() is None or current_step() is not None:
            return await asyncio.wait(futures, timeout=timeout, return_when=return_when)

        async def wait(_: Any, __: int) -> list[int]:
            done, _pending = await asyncio.wait(futures, timeout=timeout, return_when=return_when)
            return [i for i, f in enumerate(futures) if f in done]

        indexes = set(await steps.operation(cls._rt(), "DBOS.asyncio_wait", wait))
        done = {futures[i] for i in indexes}
        if done:
            await asyncio.wait(done)
        return done, {f for i, f in enumerate(futures) if i not in indexes}

    @classmethod
    async def send_bulk_async(cls, messages: list[SendMessage]) -> None:
        await comms.send_bulk(cls._rt(), list(messages))

    @classmethod
    async def get_all_events_async(cls, workflow_id: str) -> dict[str, Any]:
        return await comms.get_all_events(cls._rt(), workflow_id)

    @classmethod
    async def write_stream_async(cls, key: str, value: Any) -> None:
        rt = cls._rt()
        await comms.write_stream(rt, "write_stream", "DBOS.writeStream", key, rt.serializer.serialize(value))

    @classmethod
    async def close_stream_async(cls, key: str) -> None:
        await comms.write_stream(cls._rt(), "close_stream", "DBOS.closeStream", key, None)

    @classmethod
    async def wait_first_async(cls, handles: list[WorkflowHandleAsync[Any]], *,
                               polling_interval_sec: float = BACKSTOP_SEC) -> WorkflowHandleAsync[Any]:
        return await comms.wait_first(cls._rt(), handles, polling_interval_sec=polling_interval_sec)

    # Queues --------------------------------------------------------------------------------
    @classmethod
    async def register_queue_async(cls, name: str, *, on_conflict: str = "update_if_latest_version",
                                   **limits: Any) -> Any:
        """DBOS.register_queue, awaited (the same keyword arguments)."""
        from ..runtime import process_runtime

        return await queues.register(process_runtime(), name, on_conflict, **limits)

    @classmethod
    async def retrieve_queue_async(cls, name: str) -> Any:
        return await queues.retrieve(cls._rt(), name)

    @classmethod
    async def list_queues_async(cls, *, application_name: str | list[str] | None = None) -> list[Any]:
        return await queues.list_all(cls._rt(), application_name)

    @classmethod
    async def delete_queue_async(cls, name: str) -> None:
        await queues.delete(cls._rt(), name)

    # Management ----------------------------------------------------------------------------
    @classmethod
    async def cancel_workflow_async(cls, workflow_id: str) -> None:
        rt = cls._rt()

        async def do(_: Any, __: int) -> None:
            await rt.aio.db.workflow_cancel(workflow_id)
            rt.cancel_local(workflow_id)

        await steps.operation(rt, "DBOS.cancelWorkflow", do)

    @classmethod
    async def resume_workflow_async(cls, workflow_id: str) -> WorkflowHandleAsync[Any]:
        rt = cls._rt()

        async def do(_: Any, __: int) -> None:
            if await rt.aio.db.workflow_outcome(workflow_id) is None:
                raise DBOSNonExistentWorkflowError(workflow_id)
            await rt.aio.db.workflow_resume(workflow_id, queue_name=None, default_queue=INTERNAL_QUEUE)

        await steps.operation(rt, "DBOS.resumeWorkflow", do)
        return WorkflowHandleAsync(rt, workflow_id)

    @classmethod
    async def list_workflow_steps_async(cls, workflow_id: str, *, load_output: bool = True,
                                        limit: int | None = None,
                                        offset: int | None = None) -> builtins.list[dict[str, Any]]:
        rt = cls._rt()

        async def read(_: Any, __: int) -> builtins.list[dict[str, Any]]:
            rows = (await rt.aio.db.steps_recorded(workflow_id))[offset or 0:]
            rows = rows[:limit] if limit is not None else rows
            load = rt.serializer

            return [{"function_id": r.function_id, "function_name": r.function_name,
                     "output": load.deserialize(r.output) if load_output and r.output is not None else None,
                     "error": load.deserialize_error(r.error) if load_output and r.error is not None else None,
                     "child_workflow_id": r.child_workflow_id, "child_shard_key": None,
                     "started_at_epoch_ms": r.started_at_ms, "completed_at_epoch_ms": r.completed_at_ms}
                    for r in rows]

        return await steps.operation(rt, "DBOS.listWorkflowSteps", read)  # type: ignore[no-any-return]


SYNC_TWINS = ("run_step", "retrieve_workflow", "get_workflow_status", "get_result", "send", "recv",
              "set_event", "get_event", "sleep", "cancel_workflow", "resume_workflow", "list_workflows",
              "list_queued_workflows", "list_workflow_steps", "send_bulk", "get_all_events",
              "read_stream", "read_stream_offset", "wait_first", "write_stream", "close_stream",
              "register_queue", "retrieve_queue", "list_queues", "delete_queue")


def check_async(fn: str) -> None:
    """DBOS's refusal of a sync API on a thread whose event loop is running."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(f"{fn}() was called while an event loop is running. "
                       f"Use await {fn}_async(...) instead.")


def guard_sync_apis(cls: type) -> None:
    """Make each sync twin of cls (and the sync handle's get_result/get_status) refuse to
    run on a loop's thread, as DBOS does (it would block the loop)."""
    import inspect

    from ..handle import WorkflowHandle

    for name in SYNC_TWINS:
        raw = inspect.getattr_static(cls, name)
        if not isinstance(raw, classmethod):
            raise DBOSException(f"{name} is not a classmethod of {cls.__name__}")
        setattr(cls, name, classmethod(_guarded(name, raw.__func__)))
    for name in ("get_result", "get_status"):
        method = getattr(WorkflowHandle, name)
        setattr(WorkflowHandle, name, _guarded(name, method))


def _guarded(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        check_async(name)
        return func(*args, **kwargs)

    return guarded
