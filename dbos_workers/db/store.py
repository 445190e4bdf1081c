"""What every store shares: the repository that runs named queries, the work channel whose
`_done`/`_cancel` suffixes the statements notify on, and the clock that fills in `now_ms`.
Stores are the only code that names queries; callers above db/ call typed methods."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..clock import Clock
from .repository import Repository


class Store:
    def __init__(self, repo: Repository, channel: str, clock: Clock) -> None:
        self.repo, self.channel, self.clock = repo, channel, clock

    def now_ms(self) -> int:
        return self.clock.now_ms()


def columns(items: Sequence[Any], names: dict[str, str]) -> dict[str, Any]:
    """Array parameters for unnest(): {param: [item.attr, ...]}."""
    return {param: [getattr(i, attr) for i in items] for param, attr in names.items()}
