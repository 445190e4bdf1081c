"""Queues in the database (DBOS 3.x): registering one writes its row and wakes every process
of the application (`Q:`), which then serves it; retrieve, list and delete read the rows."""

from __future__ import annotations

import dataclasses
from typing import Literal

from .db.queues import QueueOwnedElsewhere
from .errors import DBOSQueueConfigError
from .queue import Queue
from .runtime import Runtime

OnConflict = Literal["update_if_latest_version", "always_update", "never_update"]
ON_CONFLICT: tuple[OnConflict, ...] = ("update_if_latest_version", "always_update", "never_update")


def register(rt: Runtime, queue: Queue, on_conflict: OnConflict = "always_update") -> Queue:
    """Write the queue's row for this application; what the database holds afterwards."""
    register_all(rt, [(queue, on_conflict)])
    stored = rt.db.queues.get(queue.name)
    return Queue.of(stored) if stored is not None else queue


def register_all(rt: Runtime, queues: list[tuple[Queue, OnConflict]]) -> None:
    """Write these queues' rows for this application in one transaction (DBOS.launch: 1,000
    declared queues took 4-6 s one by one, and woke every worker once per queue); none is
    written when another application owns one of the names."""
    for _, on_conflict in queues:
        if on_conflict not in ON_CONFLICT:
            raise DBOSQueueConfigError(f"on_conflict must be one of {', '.join(ON_CONFLICT)}, got {on_conflict!r}")
    if not queues:
        return
    app, version = rt.settings.name, rt.settings.application_version
    latest: list[bool] = []

    def update(on_conflict: OnConflict) -> bool:
        if on_conflict != "update_if_latest_version":
            return on_conflict == "always_update"
        if not latest:  # looked up once, and only when a queue asks
            latest.append(rt.db.queues.latest_version(app) in (None, version))
        return latest[0]

    rows = [(dataclasses.replace(q.settings(), application_name=app), update(c)) for q, c in queues]
    try:
        results = rt.db.queues.upsert_all(rows, refuse_owned_by_others=app)
    except QueueOwnedElsewhere as exc:
        raise DBOSQueueConfigError(f"Queue {exc.queue} is already registered by application {exc.owner}") from None
    for (settings, _), (inserted, _owner) in zip(rows, results, strict=True):
        if inserted:
            rt.log.info("queue_registered", queue=settings.name, database_backed=settings.database_backed)


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
