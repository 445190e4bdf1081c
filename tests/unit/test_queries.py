"""SQL is data: every named query is used, every used name exists, migrations are numbered."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dbos_workers.db.queries import load_queries, migration_files, parse_queries
from dbos_workers.db.repository import SESSION_SETUP

ROOT = Path(__file__).resolve().parents[2]
_USE = re.compile(r"""(?:\.(?:one|all|run|_one)\(|q\[|queries\[|_queries\[)\s*["']([a-z0-9_]+)["']""")


def _python_sources() -> str:
    return "\n".join(p.read_text() for p in (ROOT / "dbos_workers").rglob("*.py"))


def test_every_query_is_used_and_every_used_name_exists() -> None:
    queries = set(load_queries())
    used = set(_USE.findall(_python_sources())) | set(SESSION_SETUP)  # run on every pooled connection
    assert used - queries == set(), "code names queries that do not exist"
    assert queries - used == set(), "queries that nothing uses"


def test_no_query_name_outside_the_database_package() -> None:
    """Above db/, code calls typed store methods; only db/ names queries."""
    names = set(load_queries())
    quoted = re.compile(r"""["']([a-z0-9_]+)["']""")
    offenders = {}
    for path in (ROOT / "dbos_workers").rglob("*.py"):
        if path.parent.name == "db":
            continue
        # log events may share a query's name (names match across layers): not a query call
        lines = [ln for ln in path.read_text().splitlines() if "log." not in ln]
        found = names & set(quoted.findall("\n".join(lines)))
        if found:
            offenders[str(path.relative_to(ROOT))] = sorted(found)
    assert offenders == {}


def test_no_sql_strings_in_library_code() -> None:
    pattern = re.compile(r"SELECT\s+\S+.*\sFROM\s|INSERT INTO\s|UPDATE\s+\w+\s+SET\s|DELETE FROM\s|"
                         r"CREATE (?:TABLE|INDEX|SCHEMA)\s|DROP (?:TABLE|SCHEMA|DATABASE)\s|LISTEN\s+[{']")
    offenders = [p.name for p in (ROOT / "dbos_workers").rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []


def test_parse_queries_splits_named_statements() -> None:
    text = "-- name: a_one\n-- a comment\nSELECT 1;\n\n-- name: b_two\nSELECT 2\n"
    assert parse_queries(text) == {"a_one": "SELECT 1", "b_two": "SELECT 2"}


def test_duplicate_query_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        parse_queries("-- name: x\nSELECT 1;\n-- name: x\nSELECT 2;\n")


def test_migrations_are_numbered_without_gaps() -> None:
    versions = [v for v, _, _ in migration_files()]
    assert versions == list(range(1, len(versions) + 1))
