"""Model providers: one module per wire format, all streaming the same normalized events.

Importing this package keeps httpx from loading its command-line client:
``httpx/__init__`` imports ``httpx._main`` (and with it rich, click and pygments)
whenever those happen to be installed, which costs 70-150 ms at every start and
would pull a UI library into the engine. httpx catches the ImportError and
defines a stub ``main``; nothing tau uses is affected.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType


class _SkipHttpxCli(MetaPathFinder):
    """Refuses exactly ``httpx._main``; every other import passes through."""

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if fullname == "httpx._main":
            raise ImportError("tau does not load httpx's command-line client")
        return None


if "httpx" not in sys.modules and not any(isinstance(f, _SkipHttpxCli) for f in sys.meta_path):
    sys.meta_path.insert(0, _SkipHttpxCli())
