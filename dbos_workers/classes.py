"""Workflows and steps on classes: @DBOS.dbos_class, DBOSConfiguredInstance, and what each
function's decorators know about it (FuncMeta: its class, how it is bound, its roles).

As in DBOS: an instance-method workflow records its class's registered name and the
instance's config_name, and its inputs leave out `self`; a classmethod records the class
name; a staticmethod records neither. A recovered or dequeued row gets its target back from
the registry: the instance registered as "<class name>/<config name>", or the class.
Instances registered before launch are known to the worker processes (they are forked with
the registry); one registered later lives in the app process only, so a worker that claims a
row for it parks the row and the app process runs it (see late.py).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from types import FunctionType
from typing import TYPE_CHECKING, Any, TypeVar

import structlog

from .errors import DBOSException, DBOSWorkflowFunctionNotFoundError

if TYPE_CHECKING:
    from .registry import Registry, WorkflowInfo

T = TypeVar("T")
META = "__dbos_meta__"
CLASS_INFO = "__dbos_class_info__"
log = structlog.get_logger("dbos_workers.classes")


class DBOSRegistrationError(DBOSException):
    """A class, instance or method is registered wrongly. Its words are DBOS's, verbatim."""

    def __str__(self) -> str:
        return self.message


@dataclass
class ClassInfo:
    registered_name: str
    default_required_roles: list[str] | None = None


class FuncType(Enum):
    Unknown = 0
    Static = 2
    Class = 3
    Instance = 4


@dataclass
class FuncMeta:
    """Shared (through functools.wraps copying __dict__) by a function and its wrappers."""

    name: str | None = None
    class_info: ClassInfo | None = None
    func_type: FuncType = FuncType.Unknown
    required_roles: list[str] | None = None
    self_first: bool = False  # first parameter named `self` (a forgotten @DBOS.dbos_class)


def meta_of(func: Any) -> FuncMeta | None:
    func = getattr(func, "__func__", func)  # a bound method
    while func is not None:
        meta = getattr(func, META, None)
        if isinstance(meta, FuncMeta):
            return meta
        func = getattr(func, "__wrapped__", None)
    return None


def ensure_meta(func: Callable[..., Any]) -> FuncMeta:
    meta = meta_of(func)
    if meta is None:
        meta = FuncMeta()
        try:
            params = list(inspect.signature(func).parameters)
            meta.self_first = bool(params) and params[0] == "self"
        except (TypeError, ValueError):
            pass
        setattr(func, META, meta)
    return meta


def class_fqn(cls: type) -> str:
    info = cls.__dict__.get(CLASS_INFO)
    return info.registered_name if isinstance(info, ClassInfo) else cls.__qualname__


def class_info(cls: type, provided_name: str | None = None) -> ClassInfo:
    """The class's ClassInfo (made once), told to every DBOS function defined on it."""
    existing = cls.__dict__.get(CLASS_INFO)
    if isinstance(existing, ClassInfo):
        return existing
    info = ClassInfo(provided_name if provided_name is not None else cls.__qualname__)
    setattr(cls, CLASS_INFO, info)
    for attribute in list(cls.__dict__.values()):
        kind = FuncType.Instance
        if isinstance(attribute, staticmethod):
            attribute, kind = attribute.__func__, FuncType.Static
        elif isinstance(attribute, classmethod):
            attribute, kind = attribute.__func__, FuncType.Class
        elif not isinstance(attribute, FunctionType):
            continue
        meta = meta_of(attribute)
        if meta is not None:
            meta.class_info, meta.func_type = info, kind
    return info


def register_class(registry: Registry, cls: type[T], class_name: str | None = None) -> type[T]:
    class_info(cls, class_name)
    name = class_fqn(cls)
    existing = registry.classes.get(name)
    if existing is not None and existing is not cls:
        raise DBOSRegistrationError(f"Duplicate type registration for class '{name}'")
    if existing is None:
        registry.add_class(name, cls)
    return cls


def register_instance(registry: Registry, inst: Any, launched: bool) -> None:
    config_name = inst.config_name
    class_name = class_fqn(type(inst))
    if launched:
        log.warning("instance_registered_after_launch", class_name=class_name, config_name=config_name,
                    hint="its workflows run in this process only (workers were forked before it)")
    key = f"{class_name}/{config_name}"
    existing = registry.instances.get(key)
    if existing is not None and existing is not inst:
        raise DBOSRegistrationError(
            f"Duplicate instance registration for class '{class_name}' instance '{config_name}'")
    if existing is None:
        registry.add_instance(key, inst)


def target_names(meta: FuncMeta | None, args: tuple[Any, ...]) -> tuple[str | None, str | None]:
    """(class_name, config_name) a call records, from how its function is bound (DBOS's
    get_dbos_class_name and get_config_name, with their errors for misregistered classes)."""
    kind = meta.func_type if meta is not None else FuncType.Unknown
    if kind is not FuncType.Unknown and args:
        if kind is FuncType.Instance:
            first = args[0]
            if not hasattr(first, "config_name"):
                raise DBOSRegistrationError("Function target appears to be a class instance, but "
                                            "does not have `config_name` set")
            return class_fqn(type(first)), str(first.config_name)
        if kind is FuncType.Class:
            return class_fqn(args[0]), None
        return None, None
    if args:
        if isinstance(args[0], type):
            raise DBOSRegistrationError("Function target appears to be a class, but is not properly registered")
        if meta is not None and meta.self_first:
            raise DBOSRegistrationError(
                "Function target appears to be a class instance, but is not properly registered")
    return None, None


def bound_args(registry: Registry, row: Any, info: WorkflowInfo, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """A claimed row's positional arguments with its instance (or class) put back first."""
    if row.class_name is None and row.config_name is None:
        return args
    meta = meta_of(info.func)
    static = meta is not None and meta.func_type is FuncType.Static
    return bind_target(registry, row.workflow_id, row.class_name, row.config_name, args, static)


def bind_target(registry: Registry, workflow_id: str, class_name: str | None, config_name: str | None,
                args: tuple[Any, ...], static: bool) -> tuple[Any, ...]:
    """A recorded row's positional arguments with its instance (or class) put back first."""
    if config_name is not None:
        key = f"{class_name}/{config_name}"
        inst = registry.instances.get(key)
        if inst is None:
            raise DBOSWorkflowFunctionNotFoundError(
                workflow_id, f"configured class instance '{key}' is not registered")
        return (inst, *args)
    if class_name is not None:
        cls = registry.classes.get(class_name)
        if cls is None:
            raise DBOSWorkflowFunctionNotFoundError(workflow_id, f"class '{class_name}' is not registered")
        return args if static else (cls, *args)
    return args


class DBOSConfiguredInstance:
    """Base class for classes whose DBOS methods use instance state: the instance is
    registered under its config_name, which recovery uses to find it again."""

    def __init__(self, config_name: str) -> None:
        from .registry import GLOBAL_REGISTRY
        from .runtime import process_runtime

        self.config_name = config_name
        register_instance(GLOBAL_REGISTRY, self, launched=process_runtime() is not None)
