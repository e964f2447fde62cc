"""Typed stage options: build a config dataclass from a dict (a config.yaml section) and reject typos."""

from __future__ import annotations

import dataclasses
import json
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
        if dataclasses.is_dataclass(hint) and isinstance(value, dict):
            value = from_dict(hint, value, f"{where}.{name}" if where else name)
        kwargs[name] = value
    return cls(**kwargs)


def from_json(cls: type[T], text: str | None, where: str = "") -> T:
    """Like :func:`from_dict` for a JSON string (how Snakemake rules pass a config section)."""
    return from_dict(cls, json.loads(text) if text else {}, where)


def to_dict(obj: Any) -> dict[str, Any]:
    return dataclasses.asdict(obj)
