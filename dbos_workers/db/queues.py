"""queues (registered settings, shared by every process of an application), wake-ups, and
application_versions (which version of an application is the latest)."""

from __future__ import annotations

from collections.abc import Sequence

from .records import QUEUE_FIELDS, QueueSettings
from .repository import Tx
from .store import Store


class QueueOwnedElsewhere(Exception):
    """upsert_all met a queue another application owns (the transaction was rolled back)."""

    def __init__(self, queue: str, owner: str) -> None:
        super().__init__(queue, owner)
        self.queue, self.owner = queue, owner


class QueueStore(Store):
    def upsert_all(self, queues: Sequence[tuple[QueueSettings, bool]], *,
                   refuse_owned_by_others: str) -> list[tuple[bool, str | None]]:
        """Register many queues (each with its update_existing) in one transaction, one
        `queue_upsert` each; their `Q:` wake-ups are delivered together at the commit, so every
        process re-reads the queue rows about once, not once per queue. A queue owned by an
        application other than the one named rolls all of it back (QueueOwnedElsewhere)."""
        def upsert(tx: Tx) -> list[tuple[bool, str | None]]:
            out = []
            for q, update in queues:
                row = tx.one("queue_upsert", **{f: getattr(q, f) for f in QUEUE_FIELDS},
                             update_existing=update, now_ms=self.now_ms(), channel=self.channel)
                assert row is not None
                owner = row["owner"]
                if owner is not None and owner != refuse_owned_by_others:
                    raise QueueOwnedElsewhere(q.name, owner)
                out.append((bool(row["inserted"]), owner))
            return out

        result: list[tuple[bool, str | None]] = self.repo.call(upsert, transaction=True)
        return result

    def get(self, name: str) -> QueueSettings | None:
        row = self.repo.one("queue_get", name=name)
        return None if row is None else QueueSettings.of(row)

    def find(self, application_names: list[str]) -> list[QueueSettings]:
        """The queues owned by these applications or by none."""
        return [QueueSettings.of(r) for r in self.repo.all("queue_list", application_names=application_names)]

    def update(self, q: QueueSettings) -> bool:
        """Change a queue's limits; False when it does not exist."""
        params = {f: getattr(q, f) for f in QUEUE_FIELDS if f not in (
            "priority_enabled", "application_name", "database_backed")}
        return bool(self.repo.all("queue_update", **params, now_ms=self.now_ms(), channel=self.channel))

    def delete(self, name: str) -> None:
        self.repo.all("queue_delete", name=name, channel=self.channel)

    def wake(self, queue: str) -> None:
        """A NOTIFY for the queue's workers (the coalescer's deferred wake-up)."""
        self.repo.one("queue_wake", channel=self.channel, queue=queue)

    def register_version(self, application_name: str, version: str) -> None:
        self.repo.run("app_version_register", application_name=application_name, version=version,
                      now_ms=self.now_ms())

    def latest_version(self, application_name: str) -> str | None:
        row = self.repo.one("app_version_latest", application_name=application_name)
        return None if row is None else str(row["version"])
