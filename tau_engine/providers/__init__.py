"""Model providers: one module per wire format, all streaming the same normalized events.

Importing this package keeps two optional imports of the HTTP stack from
running, because start-up time is a feature and tau uses neither:

- ``httpx/__init__`` imports ``httpx._main`` (its command-line client, with rich,
  click and pygments) whenever those are installed: 70-150 ms, and it would pull a
  UI library into the engine. httpx catches the ImportError and defines a stub.
- ``httpcore`` imports ``trio`` when it is installed, to support trio event
  loops: ~140 ms. tau runs on asyncio; the ImportError is what httpcore expects
  when trio is absent. Only imports made *by httpcore* are refused.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType


def _imported_by_httpcore() -> bool:
    frame = sys._getframe(2)
    for _ in range(30):
        if frame is None:
            return False
        name = frame.f_globals.get("__name__", "")
        if isinstance(name, str) and name.startswith("httpcore"):
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


class _SkipUnusedHttpImports(MetaPathFinder):
    """Refuses ``httpx._main``, and ``trio`` when httpcore asks; all else passes through."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname == "httpx._main":
            raise ImportError("tau does not load httpx's command-line client")
        if fullname == "trio" and _imported_by_httpcore():
            raise ImportError("tau runs httpcore on asyncio only")
        return None


if not any(isinstance(f, _SkipUnusedHttpImports) for f in sys.meta_path):
    sys.meta_path.insert(0, _SkipUnusedHttpImports())
