"""`dbos-workers workflow ...`, `queue list`, `reset`: inspect and control workflows from a
shell, through DBOSClient (no app code, no migration, no lease). Every command reads
DBOS_SYSTEM_DATABASE_URL or --url, and --schema; prints a table, or JSON with --json.

Exit codes: 0 done; 1 not found (one line on stderr); 2 any other error (bad arguments, no
schema, database unreachable)."""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .errors import DBOSConfigError, DBOSException, DBOSNonExistentWorkflowError, DBOSWorkersError

Command = Callable[[argparse.Namespace, Any], Any]
NOT_FOUND = 1
USAGE = 2  # a bad URL, schema or option: the one-line message says which
_LIST_COLUMNS = ("workflow_id", "status", "name", "queue_name", "created_at", "executor_id")


def _common() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--url", default=None, help="system database URL (default: $DBOS_SYSTEM_DATABASE_URL)")
    p.add_argument("--schema", default="dbos_workers", help="system schema (default: dbos_workers)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--serializer", default=None, choices=("pickle", "json"), help="the app's serializer")
    return p


def _url(args: argparse.Namespace) -> str:
    url = args.url or os.environ.get("DBOS_SYSTEM_DATABASE_URL")
    if not url:
        raise DBOSConfigError("no database: pass --url or set DBOS_SYSTEM_DATABASE_URL")
    return str(url)


def _iso(ms: Any) -> str:
    if not isinstance(ms, int):
        return "" if ms is None else str(ms)
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _plain(value: Any) -> Any:
    """A JSON-able view of a result (statuses, steps, summaries)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {value}"
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return repr(value)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    cells = [[_iso(r.get(c)) if c.endswith("_at") else ("" if r.get(c) is None else str(r.get(c)))
              for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines)


def _emit(args: argparse.Namespace, value: Any, columns: Sequence[str] | None = None) -> None:
    plain = _plain(value)
    if args.json or columns is None:
        print(json.dumps(plain, indent=None if args.json else 2, default=str))
    else:
        print(table(plain if isinstance(plain, list) else [plain], columns))


# Commands ----------------------------------------------------------------------------------
def _list(args: argparse.Namespace, client: Any) -> None:
    filters = {"limit": args.limit, "offset": args.offset, "sort_desc": args.sort_desc,
               "user": args.user, "start_time": args.start_time, "end_time": args.end_time,
               "status": args.status, "app_version": args.application_version, "name": args.name,
               "application_name": args.application_name, "queue_name": args.queue,
               "executor_id": args.executor_id, "workflow_id_prefix": args.prefix,
               "load_input": args.json, "load_output": args.json}
    rows = client.list_workflows(**{k: v for k, v in filters.items() if v is not None})
    _emit(args, rows, _LIST_COLUMNS)


def _get(args: argparse.Namespace, client: Any) -> None:
    status = client.get_workflow_status(args.workflow_id)
    if status is None:
        raise DBOSNonExistentWorkflowError(args.workflow_id)
    _emit(args, status, None)


def _steps(args: argparse.Namespace, client: Any) -> None:
    client.retrieve_workflow(args.workflow_id)
    _emit(args, client.list_workflow_steps(args.workflow_id),
          ("function_id", "function_name", "child_workflow_id", "completed_at_epoch_ms"))


def _cancel(args: argparse.Namespace, client: Any) -> None:
    client.cancel_workflow(args.workflow_id)  # a finished workflow keeps its status
    status = client.retrieve_workflow(args.workflow_id).get_status().status
    _emit(args, {"workflow_id": args.workflow_id, "status": status}, ("workflow_id", "status"))


def _resume(args: argparse.Namespace, client: Any) -> None:
    handle = client.resume_workflow(args.workflow_id, queue_name=args.queue)
    _emit(args, {"workflow_id": handle.workflow_id, "status": handle.get_status().status},
          ("workflow_id", "status"))


def _fork(args: argparse.Namespace, client: Any) -> None:
    from .context import SetWorkflowID

    def fork() -> Any:
        return client.fork_workflow(args.workflow_id, args.step, application_version=args.application_version,
                                    queue_name=args.queue)

    if args.id:
        with SetWorkflowID(args.id):
            handle = fork()
    else:
        handle = fork()
    _emit(args, {"workflow_id": handle.workflow_id, "forked_from": args.workflow_id,
                 "start_step": args.step}, ("workflow_id", "forked_from", "start_step"))


def _enqueue(args: argparse.Namespace, client: Any) -> None:
    positional = json.loads(args.args)
    named = json.loads(args.kwargs)
    if not isinstance(positional, list) or not isinstance(named, dict):
        raise DBOSException("--args must be a JSON array and --kwargs a JSON object")
    options: dict[str, Any] = {"workflow_name": args.name, "queue_name": args.queue}
    for key, value in (("workflow_id", args.id), ("priority", args.priority),
                       ("deduplication_id", args.deduplication_id), ("delay_seconds", args.delay),
                       ("workflow_timeout", args.timeout), ("app_version", args.application_version)):
        if value is not None:
            options[key] = value
    handle = client.enqueue(options, *positional, **named)
    out: dict[str, Any] = {"workflow_id": handle.workflow_id}
    if args.wait is not None:
        out["result"] = handle.get_result(timeout=args.wait)
    _emit(args, out, list(out))


def _queues(args: argparse.Namespace, client: Any) -> None:
    rows = [{**_plain(q), "oldest_age_s": None if q.oldest_age_ms is None else round(q.oldest_age_ms / 1000, 1)}
            for q in client.queue_summary()]
    _emit(args, rows, ("name", "enqueued", "parked", "pending", "delayed", "oldest_age_s", "concurrency",
                       "worker_concurrency", "rate_limit_max", "rate_limit_period_sec"))


def _reset(args: argparse.Namespace) -> int:
    from .db import migrate

    if not args.yes:
        answer = input(f"Drop schema {args.schema!r} and every workflow in it? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("reset: aborted", file=sys.stderr)
            return NOT_FOUND
    migrate.drop_schema(_url(args), args.schema)
    _emit(args, {"schema": args.schema, "dropped": True}, ("schema", "dropped"))
    return 0


def run(command: Command) -> Callable[[argparse.Namespace], int]:
    """Open a client, run the command, close; a missing workflow is exit code 1."""
    def call(args: argparse.Namespace) -> int:
        from .client import DBOSClient
        from .logging import configure

        configure("WARNING")  # logs to stderr; stdout is the command's output

        try:
            client = DBOSClient(_url(args), dbos_system_schema=args.schema, serializer=args.serializer,
                                system_database_pool_size=2)
        except DBOSWorkersError as exc:  # no database, no schema, bad options: one line, exit 2
            print(f"dbos-workers: {exc}", file=sys.stderr)
            return USAGE
        try:
            command(args, client)
        except DBOSNonExistentWorkflowError:
            print(f"dbos-workers: workflow {getattr(args, 'workflow_id', '?')} not found", file=sys.stderr)
            return NOT_FOUND
        except DBOSWorkersError as exc:
            print(f"dbos-workers: {exc}", file=sys.stderr)
            return USAGE
        finally:
            client.destroy()
        return 0

    return call


def _workflow_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    ls = sub.add_parser("list", parents=[common], help="list workflows (DBOS's filters)")
    ls.add_argument("-l", "--limit", type=int, default=10)
    ls.add_argument("-o", "--offset", type=int, default=None)
    ls.add_argument("-d", "--sort-desc", action="store_true", help="newest first")
    ls.add_argument("-u", "--user", default=None)
    ls.add_argument("-t", "--start-time", default=None, help="ISO-8601: created at or after")
    ls.add_argument("-e", "--end-time", default=None, help="ISO-8601: created at or before")
    ls.add_argument("-S", "--status", action="append", default=None, help="repeatable")
    ls.add_argument("-v", "--application-version", default=None)
    ls.add_argument("-n", "--name", action="append", default=None, help="repeatable")
    ls.add_argument("-a", "--application-name", default=None)
    ls.add_argument("-q", "--queue", action="append", default=None, help="repeatable")
    ls.add_argument("--executor-id", default=None)
    ls.add_argument("--prefix", default=None, help="workflow id prefix")
    ls.set_defaults(func=run(_list))
    for name, fn, text in (("get", _get, "one workflow's status"), ("steps", _steps, "its recorded steps"),
                           ("cancel", _cancel, "cancel (it stops at its next step)")):
        p = sub.add_parser(name, parents=[common], help=text)
        p.add_argument("workflow_id")
        p.set_defaults(func=run(fn))
    resume = sub.add_parser("resume", parents=[common], help="resume a cancelled or dead-lettered workflow")
    resume.add_argument("workflow_id")
    resume.add_argument("--queue", default=None)
    resume.set_defaults(func=run(_resume))
    fork = sub.add_parser("fork", parents=[common], help="fork from a step (restart: --step 1)")
    fork.add_argument("workflow_id")
    fork.add_argument("-S", "--step", type=int, default=1)
    fork.add_argument("-f", "--id", default=None, help="the fork's workflow id")
    fork.add_argument("-v", "--application-version", default=None)
    fork.add_argument("--queue", default=None)
    fork.set_defaults(func=run(_fork))
    enq = sub.add_parser("enqueue", parents=[common], help="enqueue a workflow by name")
    enq.add_argument("name")
    enq.add_argument("--queue", required=True)
    enq.add_argument("--args", default="[]", help="JSON array of positional arguments")
    enq.add_argument("--kwargs", default="{}", help="JSON object of keyword arguments")
    enq.add_argument("--id", default=None)
    enq.add_argument("--priority", type=int, default=None)
    enq.add_argument("--deduplication-id", default=None)
    enq.add_argument("--delay", type=float, default=None, help="seconds")
    enq.add_argument("--timeout", type=float, default=None, help="workflow timeout, seconds")
    enq.add_argument("--application-version", default=None)
    enq.add_argument("--wait", type=float, default=None, help="wait up to this many seconds for the result")
    enq.set_defaults(func=run(_enqueue))


def add_commands(subparsers: Any) -> None:
    """Add `workflow ...`, `queue list` and `reset` to the `dbos-workers` parser."""
    common = _common()
    wf = subparsers.add_parser("workflow", help="inspect and control workflows")
    _workflow_commands(wf.add_subparsers(dest="workflow_command", required=True), common)
    queue = subparsers.add_parser("queue", help="queues")
    qsub = queue.add_subparsers(dest="queue_command", required=True)
    qsub.add_parser("list", parents=[common], help="per queue: counts, oldest age, limits").set_defaults(
        func=run(_queues))
    reset = subparsers.add_parser("reset", parents=[common], help="drop the system schema")
    reset.add_argument("-y", "--yes", action="store_true", help="do not ask")
    reset.set_defaults(func=_reset)


__all__ = ["add_commands", "table"]
