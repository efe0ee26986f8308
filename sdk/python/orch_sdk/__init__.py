"""Write orch automation packs in Python.

A pack is a WebAssembly component built with componentize-py against the WIT world
`orch:pack/pack`. This package hides the bindings: a pack author writes plain functions over
dataclasses and declares them on a `Pack`; the SDK derives the JSON Schemas, decodes inputs,
encodes outputs, and turns every failure into an action error. See README.md beside this
package for the whole path, from an empty directory to an installed pack.
"""

from . import catalog, http, ssh
from .context import Context, LogRecord
from .errors import ActionError, HostError
from .pack import Action, DefinitionError, Destination, Pack

__all__ = [
    "Action",
    "ActionError",
    "Context",
    "DefinitionError",
    "Destination",
    "HostError",
    "LogRecord",
    "Pack",
    "catalog",
    "http",
    "ssh",
]
