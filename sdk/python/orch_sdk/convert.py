"""JSON values to typed Python values and back, following the same type hints `schema.py`
describes: the input of an action becomes its dataclass (or other hinted type), and its output
becomes JSON again.

The host has already validated an input against the schema, so a decoding error here means a
test (or a host) passed something the schema refuses; the error names the path of the field
(`devices[2].name`) so the fix is obvious either way.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import enum
import types
import typing
from typing import Any, List

from .schema import type_hints


class DecodeError(ValueError):
    """An input value that does not match its type; `path` is where (`devices[2].name`)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path or 'input'}: {message}")
        self.path = path
        self.problem = message


class EncodeError(TypeError):
    """An output value that is not JSON of its declared type; `path` is where."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path or 'output'}: {message}")
        self.path = path
        self.problem = message


def _join(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:40] + "…"
        return f"the string {shown!r}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def decode(hint: Any, value: Any, path: str = "") -> Any:
    """`value` (parsed JSON) as a value of type `hint`."""
    if hint is Any or hint is object:
        return value
    if hint is None or hint is type(None):
        if value is not None:
            raise DecodeError(path, f"expected null, got {_kind(value)}")
        return None
    if hint is bool:
        if not isinstance(value, bool):
            raise DecodeError(path, f"expected a boolean, got {_kind(value)}")
        return value
    if hint is int:
        # JSON has one number type: 3.0 is an integer to a JSON Schema validator too.
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise DecodeError(path, f"expected an integer, got {_kind(value)}")
        return value
    if hint is float:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise DecodeError(path, f"expected a number, got {_kind(value)}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise DecodeError(path, f"expected a string, got {_kind(value)}")
        return value
    if hint is list:
        return decode(List[Any], value, path)
    if hint is dict:
        return decode(typing.Dict[str, Any], value, path)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        for member in hint:
            if member.value == value and type(member.value) is type(value):
                return member
        allowed = ", ".join(repr(m.value) for m in hint)
        raise DecodeError(path, f"expected one of {allowed}, got {_kind(value)}")
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _decode_dataclass(hint, value, path)

    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Literal:
        for allowed in args:
            if allowed == value and type(allowed) is type(value):
                return value
        choices = ", ".join(repr(a) for a in args)
        raise DecodeError(path, f"expected one of {choices}, got {_kind(value)}")
    if origin is typing.Union or origin is types.UnionType:
        if value is None and type(None) in args:
            return None
        problems = []
        for member in args:
            if member is type(None):
                continue
            try:
                return decode(member, value, path)
            except DecodeError as err:
                problems.append(err.problem)
        raise DecodeError(path, " or ".join(problems) if len(problems) > 1 else problems[0])
    if origin in (list, collections.abc.Sequence):
        (item,) = args or (Any,)
        if not isinstance(value, list):
            raise DecodeError(path, f"expected an array, got {_kind(value)}")
        return [decode(item, v, _join(path, i)) for i, v in enumerate(value)]
    if origin is tuple:
        if not isinstance(value, list):
            raise DecodeError(path, f"expected an array, got {_kind(value)}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(decode(args[0], v, _join(path, i)) for i, v in enumerate(value))
        if len(value) != len(args):
            raise DecodeError(path, f"expected {len(args)} items, got {len(value)}")
        return tuple(decode(a, v, _join(path, i)) for i, (a, v) in enumerate(zip(args, value)))
    if origin in (dict, collections.abc.Mapping):
        _, item = args or (str, Any)
        if not isinstance(value, dict):
            raise DecodeError(path, f"expected an object, got {_kind(value)}")
        return {k: decode(item, v, _join(path, k)) for k, v in value.items()}
    if origin is typing.Annotated:
        return decode(args[0], value, path)
    raise DecodeError(path, f"the SDK cannot decode the type {hint!r}")


def _decode_dataclass(cls: type, value: Any, path: str) -> Any:
    if not isinstance(value, dict):
        raise DecodeError(path, f"expected an object ({cls.__name__}), got {_kind(value)}")
    hints = type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = [k for k in value if k not in fields]
    if unknown:
        known = ", ".join(fields) or "none"
        raise DecodeError(
            _join(path, unknown[0]), f"unknown field; the fields of {cls.__name__} are: {known}"
        )
    kwargs = {}
    for name, f in fields.items():
        if name in value:
            kwargs[name] = decode(hints[name], value[name], _join(path, name))
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:  # type: ignore[misc]
            raise DecodeError(_join(path, name), "missing required field")
    return cls(**kwargs)


def encode(hint: Any, value: Any, path: str = "") -> Any:
    """`value` as plain JSON data (dicts, lists, strings, numbers, booleans, None), checked
    against `hint` where a mismatch would otherwise reach the host as an `invalid_output`
    without saying which Python value was wrong."""
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if isinstance(hint, type) and dataclasses.is_dataclass(hint) and not isinstance(value, hint):
            raise EncodeError(path, f"expected {hint.__name__}, got {type(value).__name__}")
        hints = type_hints(type(value))
        return {
            f.name: encode(hints.get(f.name, Any), getattr(value, f.name), _join(path, f.name))
            for f in dataclasses.fields(value)
        }
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        raise EncodeError(path, f"expected {hint.__name__}, got {_kind(value)}")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        if value != value or value in (float("inf"), float("-inf")):
            raise EncodeError(path, f"{value} is not a JSON number")
        return value
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if isinstance(value, (list, tuple)):
        item: Any = Any
        if origin in (list, collections.abc.Sequence) and args:
            item = args[0]
        return [encode(item, v, _join(path, i)) for i, v in enumerate(value)]
    if isinstance(value, dict):
        item = args[1] if origin in (dict, collections.abc.Mapping) and len(args) == 2 else Any
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise EncodeError(_join(path, repr(k)), "JSON object keys must be strings")
            out[k] = encode(item, v, _join(path, k))
        return out
    raise EncodeError(path, f"a {type(value).__name__} cannot be turned into JSON")
