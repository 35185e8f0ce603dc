"""The tests read Textual only through its public API.

Textual's private attributes (``screen._compositor``, ``app._message_queue``,
``app._notifications``) change in any release without notice; a test that reads one
breaks on a version bump for no fault of tau, or passes while watching the wrong thing.
The app tests use ``App.export_screenshot``, ``call_later`` and ``wait_for_refresh``
instead (``tests/tui/conftest.py``).
"""

from __future__ import annotations

import re
from pathlib import Path

import textual

ROOT = Path(__file__).resolve().parents[1]
TEXTUAL_SOURCE = Path(textual.__file__).parent

# Always forbidden, whatever tau names its own attributes: the reads these tests replaced.
KNOWN_PRIVATE = frozenset(
    {
        "_compositor",
        "_message_queue",
        "_notifications",
        "_driver",
        "_background_screens",
        "_exception_event",
        "_running",
        "_closing",
        "_closed",
    }
)

_ATTRIBUTE_SET = re.compile(r"\bself\.(_[a-z]\w*)\s*(?::[^=\n]*)?=")
_METHOD = re.compile(r"^\s*(?:async\s+)?def (_[a-z]\w*)\(", re.MULTILINE)
_ATTRIBUTE_READ = re.compile(r"\.(_[a-z]\w*)\b")


def _private_names(folders: list[Path]) -> set[str]:
    """The private attributes and methods the classes under ``folders`` define."""
    names: set[str] = set()
    for folder in folders:
        for path in folder.rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            names.update(_ATTRIBUTE_SET.findall(text))
            names.update(_METHOD.findall(text))
    return names


def forbidden_names() -> set[str]:
    """Textual's private names, less the ones tau's own classes define too (a tau widget's
    ``self._blocks`` is its own business)."""
    textual_names = _private_names([TEXTUAL_SOURCE])
    tau_names = _private_names([ROOT / "tau_tui", ROOT / "tau_engine", ROOT / "tests"])
    return (textual_names - tau_names) | KNOWN_PRIVATE


def private_reads(source: str, forbidden: set[str]) -> list[str]:
    """Each ``._name`` in ``source`` that names a forbidden private attribute."""
    return [name for name in _ATTRIBUTE_READ.findall(source) if name in forbidden]


def test_no_test_reads_a_private_textual_attribute() -> None:
    forbidden = forbidden_names()
    found = {
        str(path.relative_to(ROOT)): reads
        for path in sorted((ROOT / "tests").rglob("*.py"))
        if path != Path(__file__).resolve()
        and (reads := private_reads(path.read_text(encoding="utf-8"), forbidden))
    }
    assert not found, f"tests read Textual's private attributes: {found}"


def test_the_scan_flags_the_reads_the_app_tests_used_to_make() -> None:
    forbidden = forbidden_names()
    old_helpers = (
        "await wait_for(lambda: app.agent._message_queue.empty())\n"
        "lines = app.screen._compositor.render_strips()\n"
        'any("x" in n.message for n in pilot.app._notifications)\n'
    )
    assert private_reads(old_helpers, forbidden) == [
        "_message_queue",
        "_compositor",
        "_notifications",
    ]
    # Textual's own private names are found without being listed (a new one is caught too).
    assert {"_compositor", "_message_queue", "_dirty_regions"} <= _private_names([TEXTUAL_SOURCE])
    # tau's own private state is not Textual's.
    assert private_reads("view._blocks; settings._workspace_trusted", forbidden) == []
