"""Advisory-lock keys: stable signed 64-bit keys for namespaced names."""

from __future__ import annotations

import hashlib


def advisory_key(*parts: str) -> int:
    """A stable signed 64-bit advisory-lock key for a namespaced name."""
    digest = hashlib.sha256("\x1f".join(("dbos_workers", *parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)
