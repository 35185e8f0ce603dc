"""The markers of ``tau status`` against the snapshot's JSON: one marker per leaf, and every
marker reads back to its leaf (the conformance the issue asks for)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from tau_engine.status.snapshot import read_snapshot
from tau_tui.plain.markers import escape_key, escape_value, leaves, marker_lines
from tests.support.operator_seed import NOW, seed_workspace

TRICKY = [
    "",
    "none",
    "None",
    "a b",
    "a=b",
    "100%",
    "x\ny",
    "\x1b[2J",
    "naïve ☃",
    '"q"',
    "tab\there",
    "dots.in.key",
    "\u202etxet",
]


def _read_back(value: str) -> object:
    """A marker value back to its JSON leaf (what a script would do)."""
    if value == "none":
        return None
    if value in ("true", "false"):
        return value == "true"
    if value in ("[]", "{}"):
        return [] if value == "[]" else {}
    if value == '""':
        return ""
    if re.fullmatch(r"-?\d+", value):
        return int(value)
    try:
        return float(value) if re.fullmatch(r"-?[\d.e+-]+|inf|nan", value) else unquote(value)
    except ValueError:
        return unquote(value)


@pytest.mark.parametrize("text", TRICKY)
def test_every_string_reads_back_and_is_grep_safe(text: str) -> None:
    for escaped in (escape_value(text), escape_key(text)):
        assert re.fullmatch(r"[\x21-\x7e]+", escaped), escaped
        assert "=" not in escaped
    assert _read_back(escape_value(text)) == text
    assert "." not in escape_key(text)


def test_every_json_leaf_has_its_marker_and_every_marker_a_leaf(tmp_path: Path) -> None:
    seed_workspace(tmp_path, now=NOW)
    data = read_snapshot(tmp_path, now=NOW).to_json()
    data = json.loads(json.dumps(data))  # exactly what --json prints
    lines = marker_lines(data)
    from_markers = dict(line.split("=", 1) for line in lines)
    assert len(from_markers) == len(lines)  # no path twice
    from_json = dict(leaves(data))
    assert set(from_markers) == set(from_json)
    for path, value in from_json.items():
        assert _read_back(from_markers[path]) == value, path


def test_a_missing_value_is_none_and_an_empty_list_is_a_leaf() -> None:
    lines = marker_lines({"a": None, "b": [], "c": {"d": [1, {"e": "f g"}]}, "h": {}})
    assert lines == [
        "control_plane.a=none",
        "control_plane.b=[]",
        "control_plane.c.d.0=1",
        "control_plane.c.d.1.e=f%20g",
        "control_plane.h={}",
    ]
