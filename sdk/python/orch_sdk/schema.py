"""JSON Schemas (draft 2020-12) from Python type hints, the Python counterpart of the Rust SDK's
schemars derives: the host validates every input against the input schema before the pack runs,
holds every output to the output schema, and shows field descriptions to operators.

Supported: `str`, `int`, `float`, `bool`, `None`, `Any`, `list[T]`, `dict[str, T]`,
`Optional[T]` / `T | None`, `Literal[...]`, `enum.Enum` subclasses and dataclasses (nested
dataclasses go under `$defs`). A dataclass field with a default is not required; its
description comes from `field(metadata={"description": ...})` or from the class docstring's
`Attributes:` section (the Google docstring convention):

    @dataclass
    class BackupInput:
        '''Input of `backup`.

        Attributes:
            device: Inventory name of the device.
            keep: Versions to keep.
        '''
        device: str
        keep: int = 10

`field(metadata={"schema": {...}})` merges extra keywords (`minLength`, `pattern`, `maximum`,
...) into a field's schema, like `#[schemars(...)]` attributes do in Rust.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import enum
import inspect
import json
import re
import types
import typing
from typing import Any, Dict, List, Optional

DRAFT = "https://json-schema.org/draft/2020-12/schema"

_PRIMITIVES = {str: "string", int: "integer", float: "number", bool: "boolean", type(None): "null"}


class SchemaError(TypeError):
    """A type hint this SDK cannot turn into a schema; raised when the action is declared, so a
    pack with one fails its native tests and its build, never a call."""


def schema_for(hint: Any) -> Dict[str, Any]:
    """The root schema of `hint`: `$schema`, the type's own schema, and `$defs` of any nested
    dataclass."""
    defs: Dict[str, Any] = {}
    root: Dict[str, Any] = {"$schema": DRAFT}
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        root.update(_dataclass_schema(hint, defs, root_class=hint))
    else:
        root.update(_schema(hint, defs, root_class=None))
    if defs:
        root["$defs"] = defs
    return root


def _schema(hint: Any, defs: Dict[str, Any], root_class: Optional[type]) -> Dict[str, Any]:
    if hint is Any or hint is object:
        return {}
    if hint is None or hint is type(None):
        return {"type": "null"}
    if hint in _PRIMITIVES:
        return {"type": _PRIMITIVES[hint]}
    if hint is list:
        return {"type": "array"}
    if hint is dict:
        return {"type": "object"}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return _literal_schema([member.value for member in hint])
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if hint is root_class:
            return {"$ref": "#"}
        name = hint.__name__
        existing = defs.get(name)
        if existing is None:
            defs[name] = {}  # placeholder first: a recursive type refers to itself
            defs[name] = _dataclass_schema(hint, defs, root_class)
        elif existing.get("title") not in (None, name):
            raise SchemaError(f"two nested dataclasses are called {name}; rename one")
        return {"$ref": f"#/$defs/{name}"}

    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Literal:
        return _literal_schema(list(args))
    if origin is typing.Union or origin is types.UnionType:
        members = [a for a in args if a is not type(None)]
        nullable = len(members) < len(args)
        schemas = [_schema(a, defs, root_class) for a in members]
        if nullable and len(schemas) == 1 and set(schemas[0]) == {"type"}:
            return {"type": [schemas[0]["type"], "null"]}
        if nullable:
            schemas.append({"type": "null"})
        return {"anyOf": schemas} if len(schemas) > 1 else schemas[0]
    if origin in (list, collections.abc.Sequence):
        (item,) = args or (Any,)
        return {"type": "array", "items": _schema(item, defs, root_class)}
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": _schema(args[0], defs, root_class)}
        return {
            "type": "array",
            "prefixItems": [_schema(a, defs, root_class) for a in args],
            "minItems": len(args),
            "maxItems": len(args),
        }
    if origin in (dict, collections.abc.Mapping):
        key, value = args or (str, Any)
        if key is not str:
            raise SchemaError(f"{_name(hint)}: JSON object keys are strings; use dict[str, ...]")
        return {"type": "object", "additionalProperties": _schema(value, defs, root_class)}
    if origin is typing.Annotated:
        return _schema(args[0], defs, root_class)
    raise SchemaError(
        f"no JSON Schema for the type {_name(hint)}; use str, int, float, bool, list[T], "
        "dict[str, T], Optional[T], Literal[...], an Enum or a dataclass"
    )


def _literal_schema(values: List[Any]) -> Dict[str, Any]:
    schema: Dict[str, Any] = {"enum": values}
    kinds = {_PRIMITIVES.get(type(v)) for v in values}
    if len(kinds) == 1 and None not in kinds:
        schema = {"type": kinds.pop(), "enum": values}
    return schema


def _dataclass_schema(cls: type, defs: Dict[str, Any], root_class: Optional[type]) -> Dict[str, Any]:
    hints = type_hints(cls)
    summary, docs = parse_docstring(cls)
    schema: Dict[str, Any] = {"title": cls.__name__, "type": "object"}
    if summary:
        schema["description"] = summary
    properties: Dict[str, Any] = {}
    required: List[str] = []
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        prop = dict(_schema(hints[f.name], defs, root_class))
        description = f.metadata.get("description") or docs.get(f.name)
        if description:
            # Beside a `$ref`, keywords are allowed in 2020-12; they annotate the reference.
            prop["description"] = description
        if f.default is not dataclasses.MISSING:
            if _is_json(f.default):
                prop["default"] = _plain(f.default)
        elif f.default_factory is dataclasses.MISSING:  # type: ignore[misc]
            required.append(f.name)
        prop.update(f.metadata.get("schema", {}))
        properties[f.name] = prop
    schema["properties"] = properties
    if required:
        schema["required"] = required
    # Unknown fields are refused (like `#[serde(deny_unknown_fields)]`): a misspelt optional
    # field in a workflow fails at once instead of being silently ignored.
    schema["additionalProperties"] = False
    return schema


def type_hints(cls: Any) -> Dict[str, Any]:
    """The resolved type hints of a class or function, with a clear error for a hint that names
    something the module cannot resolve."""
    try:
        return typing.get_type_hints(cls, include_extras=False)
    except NameError as err:
        raise SchemaError(f"cannot resolve a type hint of {_name(cls)}: {err}") from err


_SECTION = re.compile(r"^\s*(Attributes|Args|Fields|Parameters)\s*:\s*$")
_ENTRY = re.compile(r"^(\s*)(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def parse_docstring(cls: type) -> "tuple[str, Dict[str, str]]":
    """The first paragraph of a class's docstring, and the descriptions of its fields from an
    `Attributes:` section (continuation lines indented under an entry are joined)."""
    doc = cls.__doc__
    if not doc or (dataclasses.is_dataclass(cls) and doc.startswith(cls.__name__ + "(")):
        return "", {}  # the docstring dataclasses makes up: `Name(a: int, ...)`
    lines = inspect.cleandoc(doc).splitlines()
    summary_lines: List[str] = []
    for line in lines:
        if not line.strip() or _SECTION.match(line):
            break
        summary_lines.append(line.strip())
    fields: Dict[str, str] = {}
    in_section = False
    entry_indent: Optional[int] = None
    current: Optional[str] = None
    for line in lines:
        if _SECTION.match(line):
            in_section, entry_indent, current = True, None, None
            continue
        if not in_section:
            continue
        if not line.strip():
            current = None
            continue
        indent = len(line) - len(line.lstrip())
        if indent == 0:
            in_section = False  # a new section or paragraph ends this one
            continue
        match = _ENTRY.match(line)
        if match and (entry_indent is None or indent <= entry_indent):
            entry_indent = indent
            current = match.group(2)
            fields[current] = match.group(3).strip()
        elif current is not None:
            fields[current] = (fields[current] + " " + line.strip()).strip()
    return " ".join(summary_lines), fields


def _is_json(value: Any) -> bool:
    try:
        json.dumps(_plain(value))
        return True
    except (TypeError, ValueError):
        return False


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _name(hint: Any) -> str:
    return getattr(hint, "__qualname__", None) or repr(hint)
