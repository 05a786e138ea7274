"""The Telegram Bot API emulator, kept importable under its old name.

The emulator lives in ``sandbox.emulator`` (an installed package: the sandbox serves it).
This thin alias keeps ``python -m tests.emulator …`` and ``from tests.emulator… import …``
working as EMULATOR.md says: every ``tests.emulator.<module>`` IS ``sandbox.emulator.<module>``
(the same module object, so patching one patches the other).
"""

import importlib
import sys

import sandbox.emulator as _emulator
from sandbox.emulator import Emulator, add_emulator_routes, start_emulator

_MODULES = ("client", "control", "core", "entities", "limits", "methods", "server", "state")
# fixtures needs pytest-asyncio (a dev dependency): aliased only where it can be imported.
for _name in (*_MODULES, "fixtures"):
    try:
        _module = importlib.import_module(f"{_emulator.__name__}.{_name}")
    except ImportError:
        if _name != "fixtures":
            raise
        continue
    sys.modules[f"{__name__}.{_name}"] = _module
    globals()[_name] = _module

__all__ = ["Emulator", "add_emulator_routes", "start_emulator"]
