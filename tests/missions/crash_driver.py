"""Run ``tau`` in this process and kill -9 it right after the Nth call of a function.

Usage: python tests/missions/crash_driver.py MODULE:ATTR N TAU_ARGS...

``MODULE:ATTR`` names a function, or a method as ``MODULE:Class.method``; the
process sends itself SIGKILL as soon as the Nth call returns, i.e. after that
step's side effect and before the mission saves what it did: the worst moment.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import os
import signal
import sys
from typing import Any


def _install(target: str, nth: int) -> None:
    module_name, _, path = target.partition(":")
    owner: Any = importlib.import_module(module_name)
    *parents, name = path.split(".")
    for parent in parents:
        owner = getattr(owner, parent)
    original = getattr(owner, name)
    calls = 0

    def count() -> None:
        nonlocal calls
        calls += 1
        if calls == nth:
            sys.stdout.flush()
            sys.stderr.flush()
            os.kill(os.getpid(), signal.SIGKILL)

    if inspect.iscoroutinefunction(original):

        @functools.wraps(original)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            result = await original(*args, **kwargs)
            count()
            return result

        setattr(owner, name, async_wrapper)
    else:

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            count()
            return result

        setattr(owner, name, wrapper)


if __name__ == "__main__":
    _install(sys.argv[1], int(sys.argv[2]))
    from tau_tui.cli import main

    sys.exit(main(sys.argv[3:]))
