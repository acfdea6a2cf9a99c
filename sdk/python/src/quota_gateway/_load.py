"""JSON to the answer dataclasses and back, by their type hints.

One generic loader instead of a parser per answer: a field `reservation_id` reads the wire's
`reservationId`; a missing optional field is None and a missing list is empty, so a gateway
that adds fields (or an older one that lacks a new one) does not break the client.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, Dict, Mapping, Type, TypeVar, Union

T = TypeVar("T")

_hints: Dict[type, Dict[str, Any]] = {}


def camel(name: str) -> str:
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _hints_of(cls: type) -> Dict[str, Any]:
    found = _hints.get(cls)
    if found is None:
        found = typing.get_type_hints(cls)
        _hints[cls] = found
    return found


def _empty(hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin is list:
        return []
    if origin is dict:
        return {}
    if origin is Union and type(None) in typing.get_args(hint):
        return None
    return dataclasses.MISSING


def _convert(hint: Any, value: Any) -> Any:
    if value is None or hint is Any:
        return value
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is Union:
        inner = [a for a in args if a is not type(None)]
        return _convert(inner[0], value) if len(inner) == 1 else value
    if origin is list:
        return [_convert(args[0], v) for v in value]
    if origin is dict:
        return {k: _convert(args[1], v) for k, v in value.items()}
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return load(hint, value)
    return value


def load(cls: Type[T], data: Any, **extra: Any) -> T:
    """An instance of the dataclass `cls` from a JSON object; `extra` sets fields directly."""
    if not isinstance(data, Mapping):
        raise TypeError(f"expected a JSON object for {cls.__name__}, got {type(data).__name__}")
    hints = _hints_of(cls)
    values: Dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in extra:
            values[f.name] = extra[f.name]
        elif camel(f.name) in data:
            values[f.name] = _convert(hints[f.name], data[camel(f.name)])
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            empty = _empty(hints[f.name])
            if empty is dataclasses.MISSING:
                raise TypeError(f"{cls.__name__}: the answer has no {camel(f.name)}")
            values[f.name] = empty
    return cls(**values)


def dump(value: Any) -> Any:
    """A dataclass (or mapping, list) as wire JSON: camelCase names, None fields left out."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            camel(f.name): dump(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if getattr(value, f.name) is not None
        }
    if isinstance(value, Mapping):
        return {k: dump(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [dump(v) for v in value]
    return value
