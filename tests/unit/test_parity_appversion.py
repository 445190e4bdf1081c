"""application_version as DBOS computes it (issue #15, item 3): an MD5 over the sorted
sources of the registered workflows, the library version and the app name; stable for the
same code, different when a workflow changes."""

from __future__ import annotations

import hashlib
import inspect

from dbos_workers.appversion import compute_app_version, library_version
from dbos_workers.registry import Registry, WorkflowInfo


def one() -> int:
    return 1


def two() -> int:
    return 2


def _registry(*funcs: object) -> Registry:
    r = Registry()
    for f in funcs:
        r.add_workflow(WorkflowInfo(f.__name__, f, 100, __name__))  # type: ignore[attr-defined, arg-type]
    return r


def test_the_hash_is_dbos_s_recipe_and_is_stable() -> None:
    expected = hashlib.md5()
    for part in [*sorted([inspect.getsource(one), inspect.getsource(two)]), library_version(), "app"]:
        expected.update(part.encode())
    assert compute_app_version(_registry(two, one), "app") == expected.hexdigest()
    assert compute_app_version(_registry(one, two), "app") == expected.hexdigest()  # order-free
    assert compute_app_version(_registry(one), "app") != expected.hexdigest()  # another workflow set
    assert compute_app_version(_registry(one, two), "other") != expected.hexdigest()  # another app


def test_source_that_cannot_be_read_falls_back_as_dbos() -> None:
    namespace: dict[str, object] = {}
    exec("def made() -> int:\n    return 3\n", namespace)  # no source file
    assert compute_app_version(_registry(namespace["made"]), "app") == "DEFAULT_VERSION-app"
