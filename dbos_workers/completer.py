"""Group commit for workflow outcomes: concurrent completions share one statement and one
commit (River's completer idea). No background thread: the first caller that finds no flush
running becomes the flusher for everything pending; the others wait for their batch's commit,
so complete() still returns only once the outcome is durable.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from .clock import Clock
from .db.repository import Repository

MAX_BATCH = 256


@dataclass
class Completion:
    workflow_id: str
    owner_token: str
    status: str
    output: str | None
    error: str | None
    done: bool = False
    failure: BaseException | None = None


class Completer:
    def __init__(self, repo: Repository, channel: str, clock: Clock) -> None:
        self.repo, self.channel, self.clock = repo, channel, clock
        self._cond = threading.Condition()
        self._pending: list[Completion] = []
        self._flushing = False
        self.flushes = 0
        self.completed = 0

    def complete(self, item: Completion) -> None:
        with self._cond:
            self._pending.append(item)
        while True:
            with self._cond:
                while self._flushing and not item.done:
                    self._cond.wait()
                if item.done:
                    break
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                self._flushing = True
            self._flush(batch)
        if item.failure is not None:
            raise item.failure

    def _flush(self, batch: list[Completion]) -> None:
        failure: BaseException | None = None
        try:
            self.repo.all(
                "workflow_complete_batch",
                workflow_ids=[c.workflow_id for c in batch],
                owner_tokens=[c.owner_token for c in batch],
                statuses=[c.status for c in batch], outputs=[c.output for c in batch],
                errors=[c.error for c in batch], now_ms=self.clock.now_ms(), channel=self.channel)
        except BaseException as exc:  # every waiter of this batch sees the failure
            failure = exc
        with self._cond:
            for c in batch:
                c.done, c.failure = True, failure
            self._flushing = False
            self.flushes += 1
            self.completed += len(batch)
            self._cond.notify_all()
