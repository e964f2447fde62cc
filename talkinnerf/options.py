"""Typed stage options: build a config dataclass from a dict (a config.yaml section) and reject typos."""

from __future__ import annotations

import collections.abc
import dataclasses
import json
import types
import typing
from typing import Any, TypeVar

T = TypeVar("T")


def from_dict(cls: type[T], data: dict[str, Any] | None, where: str = "") -> T:
    """Instantiate dataclass ``cls`` from ``data``; unknown keys are an error naming ``where``.

    Nested dataclass fields are built recursively; missing keys take the dataclass defaults.
    """
    data = dict(data or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} in {where or cls.__name__}; known: {sorted(fields)}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, value in data.items():
        hint = hints.get(name)
        key = f"{where}.{name}" if where else name
        if dataclasses.is_dataclass(hint) and isinstance(value, dict):
            value = from_dict(hint, value, key)
        elif hint is not None and not _fits(value, hint):
            raise ValueError(f"{where or cls.__name__}: option {name} must be {_type_name(hint)}, got {value!r} "
                             f"({type(value).__name__}); "
                             f"fix it in config.yaml (default: {_default_of(fields[name])!r})")
        kwargs[name] = value
    return cls(**kwargs)


def _fits(value: Any, hint: Any) -> bool:
    """Whether a config value (JSON/YAML: dict, list, str, int, float, bool, None) can stand for ``hint``.

    Lenient where a config cannot be exact: an int is a float, a list is a tuple; hints it does not know pass.
    """
    if hint is Any or isinstance(hint, TypeVar):
        return True
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, a) for a in args)
    if hint is type(None):
        return value is None
    if origin is typing.Literal:
        return value in args
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if dataclasses.is_dataclass(hint):
        return isinstance(value, (dict, hint))
    if hint in (list, tuple) or origin in (list, tuple, collections.abc.Sequence):
        if not isinstance(value, (list, tuple)):
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(value) == len(args) and all(_fits(v, a) for v, a in zip(value, args))
        return not args or all(_fits(v, args[0]) for v in value)
    if hint is dict or origin is dict:
        return isinstance(value, dict)
    return True


def _type_name(hint: Any) -> str:
    if isinstance(hint, type) and not typing.get_args(hint):
        return {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string"}.get(
            hint.__name__, hint.__name__)
    if typing.get_origin(hint) is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    return str(hint).replace("typing.", "").replace("NoneType", "null")


def _default_of(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return None


def from_json(cls: type[T], text: str | None, where: str = "") -> T:
    """Like :func:`from_dict` for a JSON string (how Snakemake rules pass a config section)."""
    return from_dict(cls, json.loads(text) if text else {}, where)


def to_dict(obj: Any) -> dict[str, Any]:
    return dataclasses.asdict(obj)
