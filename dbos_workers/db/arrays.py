"""Array parameters as Postgres array literals, rendered here instead of by psycopg.

psycopg adapts a Python list in Python code that inspects every element to pick a type, which
costs ~7 us per list parameter even for one element: a lone enqueue (25 unnest columns) spent
more CPU adapting its lists than on everything else it does. A list of str/int/bool/None
becomes one text literal (`{"a","b",NULL}`) that the query's own cast (`::TEXT[]`,
`::BIGINT[]`) or `= ANY(...)` turns into the array: the same value at ~1/3 of the CPU for
1,000-element lists. Lists holding anything else (floats, bytes, dates, nested lists) are left
to psycopg.
"""

from __future__ import annotations

from typing import Any


def literal(values: list[Any]) -> str | None:
    """The array literal of values, or None when an element is not a str/int/bool/None."""
    parts: list[str] = []
    add = parts.append
    for v in values:
        if v is None:
            add("NULL")
        elif isinstance(v, str):
            add('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"')
        elif v is True:
            add("t")
        elif v is False:
            add("f")
        elif isinstance(v, int):
            add(int.__repr__(v))
        else:
            return None
    return "{" + ",".join(parts) + "}"


def bind(params: dict[str, Any]) -> dict[str, Any]:
    """params with every list of scalars rendered as an array literal (a new dict only when
    something changed)."""
    out: dict[str, Any] | None = None
    for key, value in params.items():
        if type(value) is list:
            rendered = literal(value)
            if rendered is not None:
                if out is None:
                    out = dict(params)
                out[key] = rendered
    return params if out is None else out
