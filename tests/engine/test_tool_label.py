"""The one-line tool label (``tau_engine/tools/label.py``)."""

from __future__ import annotations

from tau_engine.tools.label import LABEL_CHARS, ToolLabel, tool_label


def test_the_target_argument_in_order_of_preference() -> None:
    assert tool_label("read", {"path": "src/x.py", "offset": 3}) == ToolLabel("path", "src/x.py")
    # A grep in a folder shows the folder, as both renderers did before.
    assert tool_label("grep", {"pattern": "TODO", "path": "src"}) == ToolLabel("path", "src")
    assert tool_label("bash", {"command": "ls -la"}) == ToolLabel("command", "ls -la")
    assert tool_label("http", {"url": "https://x.example/", "method": "GET"}) == ToolLabel(
        "url", "https://x.example/"
    )
    assert tool_label("memory_search", {"query": "release"}) == ToolLabel("query", "release")


def test_many_file_tools_list_their_paths_or_say_patch() -> None:
    edits = {
        "edits": [
            {"path": "a.py", "old_string": "x", "new_string": "y"},
            {"path": "b.py", "old_string": "x", "new_string": "y"},
        ]
    }
    assert str(tool_label("edit_many", edits)) == "paths=a.py,b.py"
    assert str(tool_label("write_many", {"files": [{"path": "c.md"}]})) == "paths=c.md"
    assert str(tool_label("edit_many", {"patch": "--- a/x\n+++ b/x\n"})) == "patch"


def test_one_line_and_bounded() -> None:
    label = tool_label("bash", {"command": "echo one\n  echo   two\techo three"})
    assert label.value == "echo one echo two echo three"
    long = tool_label("bash", {"command": "x" * 500})
    assert len(long.value) == LABEL_CHARS and long.value.endswith("…")


def test_other_arguments_are_shown_as_json_and_nothing_for_none() -> None:
    label = tool_label("memory_write", {"namespace": "notes", "text": "hi"})
    assert label.key == "" and label.value == '{"namespace": "notes", "text": "hi"}'
    assert str(tool_label("memory_tree", {})) == ""
    # The model's arguments are unvalidated: odd shapes are labelled, never raise.
    assert tool_label("edit_many", {"edits": "nonsense"}) == ToolLabel("", '{"edits": "nonsense"}')
    assert tool_label("read", {"path": ""}).key == ""
