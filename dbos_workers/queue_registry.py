"""Queues in the database (DBOS 3.x): registering one writes its row and wakes every process
of the application (`Q:`), which then serves it; retrieve, list and delete read the rows."""

from __future__ import annotations

import dataclasses
from typing import Literal

from .errors import DBOSQueueConfigError
from .queue import Queue
from .runtime import Runtime

OnConflict = Literal["update_if_latest_version", "always_update", "never_update"]
ON_CONFLICT: tuple[OnConflict, ...] = ("update_if_latest_version", "always_update", "never_update")


def register(rt: Runtime, queue: Queue, on_conflict: OnConflict = "always_update") -> Queue:
    """Write the queue's row for this application; what the database holds afterwards."""
    if on_conflict not in ON_CONFLICT:
        raise DBOSQueueConfigError(f"on_conflict must be one of {', '.join(ON_CONFLICT)}, got {on_conflict!r}")
    app, version = rt.settings.name, rt.settings.application_version
    if on_conflict == "always_update":
        update = True
    elif on_conflict == "never_update":
        update = False
    else:
        update = rt.db.queues.latest_version(app) in (None, version)
    settings = dataclasses.replace(queue.settings(), application_name=app)
    inserted, owner = rt.db.queues.upsert(settings, update_existing=update)
    if owner is not None and owner != app:
        raise DBOSQueueConfigError(f"Queue {queue.name} is already registered by application {owner}")
    stored = rt.db.queues.get(queue.name)
    if inserted:
        rt.log.info("queue_registered", queue=queue.name, database_backed=settings.database_backed)
    return Queue.of(stored) if stored is not None else queue


def retrieve(rt: Runtime, name: str) -> Queue | None:
    row = rt.db.queues.get(name)
    return None if row is None else Queue.of(row)


def list_all(rt: Runtime, application_name: str | list[str] | None) -> list[Queue]:
    if application_name is None:
        names = [rt.settings.name]
    elif isinstance(application_name, str):
        names = [application_name]
    else:
        names = list(application_name)
    return [Queue.of(row) for row in rt.db.queues.find(names)]


def delete(rt: Runtime, name: str) -> None:
    rt.db.queues.delete(name)
