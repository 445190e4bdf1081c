"""Named SQL queries, loaded once from sql/queries/*.sql (`-- name: query_name` headers), and
numbered migrations from sql/migrations/. The application database (transactions) has its own
sets in sql/app_queries/ and sql/app_migrations/, read by the same functions."""

from __future__ import annotations

import functools
import re
from pathlib import Path

_HEADER = re.compile(r"^--\s*name:\s*([a-z0-9_]+)\s*$", re.MULTILINE)


def sql_dir() -> Path:
    """sql/ inside the installed package, or at the top of the source tree."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "sql", here.parent / "sql"):
        if (candidate / "queries").is_dir():
            return candidate
    raise FileNotFoundError("dbos-workers SQL files not found (sql/queries)")


def parse_queries(text: str) -> dict[str, str]:
    """Split a file into {name: statement}; comment lines before a body are kept out."""
    parts = _HEADER.split(text)
    queries: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        lines = [ln for ln in body.strip().splitlines() if not ln.lstrip().startswith("--")]
        statement = "\n".join(lines).strip().rstrip(";").strip()
        if name in queries:
            raise ValueError(f"duplicate query name {name!r}")
        queries[name] = statement
    return queries


@functools.cache
def load_queries(folder: str = "queries") -> dict[str, str]:
    queries: dict[str, str] = {}
    for path in sorted((sql_dir() / folder).glob("*.sql")):
        for name, statement in parse_queries(path.read_text()).items():
            if name in queries:
                raise ValueError(f"duplicate query name {name!r} in {path.name}")
            queries[name] = statement
    return queries


def migration_files(folder: str = "migrations") -> list[tuple[int, str, str]]:
    """[(version, name, sql)] in order, from sql/<folder>/NNNN_name.sql."""
    out = []
    for path in sorted((sql_dir() / folder).glob("*.sql")):
        number, _, name = path.stem.partition("_")
        out.append((int(number), name, path.read_text()))
    versions = [v for v, _, _ in out]
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"migrations must be numbered 1..N without gaps, got {versions}")
    return out
