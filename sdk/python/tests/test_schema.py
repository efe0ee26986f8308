"""Schemas from type hints, and the input/output conversions that follow the same hints."""

import _sdk_path  # noqa: F401  (must come first: puts orch_sdk on the path)
import enum
import unittest
from dataclasses import dataclass, field
from typing import Dict, List, Literal, Optional

from orch_sdk.schema import DRAFT, SchemaError, schema_for


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclass
class Port:
    """A port of a device."""

    name: str
    speed: Optional[int] = None


@dataclass
class Device:
    """A device to configure.

    Attributes:
        name: Inventory name of the device.
        ports: Its ports,
            in order.
        mode: How to apply.
    """

    name: str
    ports: List[Port]
    mode: Literal["merge", "replace"] = "merge"
    labels: Dict[str, str] = field(default_factory=dict, metadata={"description": "Free labels."})
    color: Color = Color.RED
    weight: float = field(default=1.0, metadata={"schema": {"minimum": 0}})
    note: "str | None" = None
    flags: list[bool] = field(default_factory=list)


class SchemaTest(unittest.TestCase):
    def setUp(self):
        self.schema = schema_for(Device)
        self.props = self.schema["properties"]

    def test_root_names_the_draft_and_describes_the_class(self):
        self.assertEqual(self.schema["$schema"], DRAFT)
        self.assertEqual(self.schema["description"], "A device to configure.")
        self.assertEqual(self.schema["type"], "object")
        self.assertIs(self.schema["additionalProperties"], False)

    def test_fields_without_defaults_are_required(self):
        self.assertEqual(self.schema["required"], ["name", "ports"])

    def test_descriptions_come_from_the_docstring_and_metadata(self):
        self.assertEqual(self.props["name"]["description"], "Inventory name of the device.")
        self.assertEqual(self.props["ports"]["description"], "Its ports, in order.")
        self.assertEqual(self.props["labels"]["description"], "Free labels.")
        self.assertNotIn("description", self.props["flags"])

    def test_each_type_maps_to_its_schema(self):
        self.assertEqual(self.props["name"]["type"], "string")
        self.assertEqual(self.props["ports"]["items"], {"$ref": "#/$defs/Port"})
        self.assertEqual(self.props["mode"]["enum"], ["merge", "replace"])
        self.assertEqual(self.props["mode"]["default"], "merge")
        self.assertEqual(self.props["labels"]["additionalProperties"], {"type": "string"})
        self.assertEqual(self.props["color"], {"type": "string", "enum": ["red", "blue"], "default": "red"})
        self.assertEqual(self.props["weight"], {"type": "number", "default": 1.0, "minimum": 0})
        self.assertEqual(self.props["note"]["type"], ["string", "null"])
        self.assertEqual(self.props["flags"]["items"], {"type": "boolean"})

    def test_nested_dataclasses_go_under_defs(self):
        port = self.schema["$defs"]["Port"]
        self.assertEqual(port["required"], ["name"])
        self.assertEqual(port["properties"]["speed"]["type"], ["integer", "null"])
        self.assertEqual(port["description"], "A port of a device.")

    def test_primitive_and_optional_dataclass_roots(self):
        self.assertEqual(schema_for(str), {"$schema": DRAFT, "type": "string"})
        nullable = schema_for(Optional[Port])
        self.assertEqual(nullable["anyOf"], [{"$ref": "#/$defs/Port"}, {"type": "null"}])

    def test_a_recursive_dataclass_refers_to_the_root(self):
        @dataclass
        class Tree:
            children: "List[Tree]"

        Tree.__annotations__["children"] = List[Tree]
        self.assertEqual(schema_for(Tree)["properties"]["children"]["items"], {"$ref": "#"})

    def test_unsupported_types_fail_when_described(self):
        with self.assertRaises(SchemaError) as caught:
            schema_for(Dict[int, str])
        self.assertIn("dict[str, ...]", str(caught.exception))
        with self.assertRaises(SchemaError):
            schema_for(set)


if __name__ == "__main__":
    unittest.main()
