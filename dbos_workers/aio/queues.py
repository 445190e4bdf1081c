"""Queue's `_async` getters and setters (a base of Queue) and DBOS's retrieve/list/delete
queue twins: the queue's row read and changed on the caller's loop (the same validation as
the sync twins in queue.py)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from .. import queue_limits
from ..db.records import QueueSettings
from ..errors import DBOSQueueConfigError, DBOSWorkersError

if TYPE_CHECKING:
    from ..queue import Queue, QueueRateLimit
    from ..runtime import Runtime


class AsyncQueueAPI:
    name: str
    database_backed: bool
    _settings: QueueSettings

    def _rt(self) -> Runtime | None:  # Queue provides it
        raise NotImplementedError

    async def _fresh_async(self) -> QueueSettings:
        rt = self._rt()
        if self.database_backed and rt is not None:
            latest = await rt.aio.db.queue_get(self.name)
            if latest is None:
                raise DBOSWorkersError(f"Queue {self.name} not found in the database")
            self._settings = latest
        return self._settings

    async def _set_async(self, **changes: Any) -> None:
        if not self.database_backed:
            raise DBOSWorkersError(f"Cannot configure queue {self.name}: dynamic configuration is "
                                   "only supported for queues registered via DBOS.register_queue.")
        rt = self._rt()
        if rt is None:
            raise DBOSWorkersError(f"Cannot configure queue {self.name}: DBOS is not launched")
        updated = dataclasses.replace(await self._fresh_async(), **changes)
        queue_limits.check_bounds(updated)
        await rt.aio.db.queue_update(updated)
        self._settings = updated

    async def get_concurrency_async(self) -> int | None:
        return (await self._fresh_async()).concurrency

    get_global_concurrency_async = get_concurrency_async

    async def get_worker_concurrency_async(self) -> int | None:
        return (await self._fresh_async()).worker_concurrency

    async def get_limiter_async(self) -> QueueRateLimit | None:
        from ..queue import _limiter

        s = await self._fresh_async()
        return _limiter(s.rate_limit_max, s.rate_limit_period_sec)

    async def get_partition_concurrency_async(self) -> int | None:
        return (await self._fresh_async()).partition_concurrency

    async def get_partition_worker_concurrency_async(self) -> int | None:
        return (await self._fresh_async()).partition_worker_concurrency

    async def get_partition_limiter_async(self) -> QueueRateLimit | None:
        from ..queue import _limiter

        s = await self._fresh_async()
        return _limiter(s.partition_rate_limit_max, s.partition_rate_limit_period_sec)

    async def get_polling_interval_sec_async(self) -> float:
        return (await self._fresh_async()).polling_interval_sec

    async def set_concurrency_async(self, value: int | None) -> None:
        await self._set_async(concurrency=queue_limits.count(self.name, "global_concurrency", value, 1))

    set_global_concurrency_async = set_concurrency_async

    async def set_worker_concurrency_async(self, value: int | None) -> None:
        await self._set_async(worker_concurrency=queue_limits.count(self.name, "worker_concurrency", value, 0))

    async def set_limiter_async(self, value: QueueRateLimit | None) -> None:
        limit, period = queue_limits.rate(self.name, "limiter", value)
        await self._set_async(rate_limit_max=limit, rate_limit_period_sec=period)

    async def set_partition_concurrency_async(self, value: int | None) -> None:
        await self._set_async(partition_concurrency=queue_limits.count(
            self.name, "partition_concurrency", value, 1))

    async def set_partition_worker_concurrency_async(self, value: int | None) -> None:
        await self._set_async(partition_worker_concurrency=queue_limits.count(
            self.name, "partition_worker_concurrency", value, 1))

    async def set_partition_limiter_async(self, value: QueueRateLimit | None) -> None:
        limit, period = queue_limits.rate(self.name, "partition_limiter", value)
        await self._set_async(partition_rate_limit_max=limit, partition_rate_limit_period_sec=period)

    async def set_polling_interval_sec_async(self, value: float) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise DBOSQueueConfigError("polling_interval_sec must be positive")
        await self._set_async(polling_interval_sec=float(value))


async def retrieve(rt: Runtime, name: str) -> Queue | None:
    from ..queue import Queue

    row = await rt.aio.db.queue_get(name)
    return None if row is None else Queue.of(row)


async def list_all(rt: Runtime, application_name: str | list[str] | None) -> list[Queue]:
    from ..queue import Queue

    if application_name is None:
        names = [rt.settings.name]
    elif isinstance(application_name, str):
        names = [application_name]
    else:
        names = list(application_name)
    return [Queue.of(row) for row in await rt.aio.db.queue_find(names)]


async def delete(rt: Runtime, name: str) -> None:
    await rt.aio.db.queue_delete(name)


async def register(rt: Runtime | None, name: str, on_conflict: str, **limits: Any) -> Queue:
    """DBOS.register_queue, awaited: the row written for this application (before launch,
    registered here and written by launch)."""
    from ..queue import Queue
    from ..queue_registry import ON_CONFLICT
    from ..registry import GLOBAL_REGISTRY

    if on_conflict not in ON_CONFLICT:
        raise DBOSQueueConfigError(f"on_conflict must be one of {', '.join(ON_CONFLICT)}, got {on_conflict!r}")
    queue = Queue.of(dataclasses.replace(queue_limits.build(name, **limits), database_backed=True))
    queue.on_conflict = on_conflict
    GLOBAL_REGISTRY.add_queue(queue)
    if rt is None:
        return queue
    app, version = rt.settings.name, rt.settings.application_version
    update = on_conflict == "always_update" or (
        on_conflict == "update_if_latest_version" and await rt.aio.db.app_version_latest(app) in (None, version))
    inserted, owner = await rt.aio.db.queue_upsert(
        dataclasses.replace(queue.settings(), application_name=app), update_existing=update)
    if owner is not None and owner != app:
        raise DBOSQueueConfigError(f"Queue {name} is already registered by application {owner}")
    if inserted:
        rt.log.info("queue_registered", queue=name, database_backed=True)
    stored = await rt.aio.db.queue_get(name)
    return Queue.of(stored) if stored is not None else queue
