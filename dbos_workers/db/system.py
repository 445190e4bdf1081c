"""The system database as typed stores: one object per process (Runtime.db)."""

from __future__ import annotations

from ..clock import Clock
from .admin import AdminStore
from .debounce import DebounceStore
from .executors import ExecutorStore
from .leader import LeaderStore
from .maintenance import MaintenanceStore
from .messages import MessageStore
from .observe import ObserveStore
from .queues import QueueStore
from .repository import Repository
from .schedules import ScheduleStore
from .steps import StepStore
from .streams import StreamStore
from .workflows import WorkflowStore


class SystemDatabase:
    def __init__(self, repo: Repository, channel: str, clock: Clock) -> None:
        self.repo = repo
        args = (repo, channel, clock)
        self.workflows = WorkflowStore(*args)
        self.steps = StepStore(*args)
        self.messages = MessageStore(*args)
        self.streams = StreamStore(*args)
        self.debounce = DebounceStore(*args)
        self.executors = ExecutorStore(*args)
        self.queues = QueueStore(*args)
        self.schedules = ScheduleStore(*args)
        self.maintenance = MaintenanceStore(*args)
        self.leader = LeaderStore(*args)
        self.admin = AdminStore(*args)
        self.observe = ObserveStore(*args)

    def open(self) -> None:
        self.repo.open()

    def close(self) -> None:
        self.repo.close()
