"""The unified diff parser and applier, on their own (no files, no tools)."""

from __future__ import annotations

import random
import re

import pytest

from tau_engine.errors import PatchError
from tau_engine.tools.diff import diff_stats, unified_diff
from tau_engine.tools.patch import apply_file_patch, apply_hunks, parse_patch

OLD = "".join(f"line {n}\n" for n in range(1, 21))


def apply_one(patch: str, original: str | None) -> str | None:
    (file_patch,) = parse_patch(patch)
    return apply_file_patch(file_patch, original)


def test_git_style_headers_strip_prefixes_and_apply() -> None:
    patch = (
        "diff --git a/src/x.txt b/src/x.txt\n"
        "index 1111111..2222222 100644\n"
        "--- a/src/x.txt\n"
        "+++ b/src/x.txt\n"
        "@@ -2,3 +2,3 @@\n"
        " line 2\n"
        "-line 3\n"
        "+line three\n"
        " line 4\n"
    )
    (file_patch,) = parse_patch(patch)
    assert (file_patch.old_path, file_patch.new_path) == ("src/x.txt", "src/x.txt")
    new = apply_file_patch(file_patch, OLD)
    assert new == OLD.replace("line 3\n", "line three\n")


def test_headers_without_prefixes_and_with_timestamps() -> None:
    patch = (
        "--- x.txt\t2024-01-01 10:00:00\n+++ x.txt\t2024-01-02 10:00:00\n"
        "@@ -1 +1 @@\n-line 1\n+first\n"
    )
    (file_patch,) = parse_patch(patch)
    assert file_patch.path == "x.txt"
    assert apply_file_patch(file_patch, OLD) == OLD.replace("line 1\n", "first\n", 1)


def test_multiple_files_and_hunks() -> None:
    patch = (
        "--- a/one.txt\n+++ b/one.txt\n"
        "@@ -1,2 +1,2 @@\n-line 1\n+LINE 1\n line 2\n"
        "@@ -18,3 +18,4 @@\n line 18\n line 19\n line 20\n+line 21\n"
        "--- a/two.txt\n+++ b/two.txt\n"
        "@@ -10,1 +10,1 @@\n-line 10\n+ten\n"
    )
    one, two = parse_patch(patch)
    assert [h.number for h in one.hunks] == [1, 2]
    assert apply_file_patch(one, OLD) == "LINE 1\n" + OLD[len("line 1\n") :] + "line 21\n"
    assert apply_file_patch(two, OLD) == OLD.replace("line 10\n", "ten\n")


def test_creation_and_deletion_with_dev_null() -> None:
    create = "--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1,2 @@\n+hello\n+world\n"
    (file_patch,) = parse_patch(create)
    assert file_patch.is_creation and file_patch.path == "new.txt"
    assert apply_file_patch(file_patch, None) == "hello\nworld\n"
    with pytest.raises(PatchError, match="already exists"):
        apply_file_patch(file_patch, "something\n")

    delete = "--- a/old.txt\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-hello\n-world\n"
    (file_patch,) = parse_patch(delete)
    assert file_patch.is_deletion
    assert apply_file_patch(file_patch, "hello\nworld\n") is None
    with pytest.raises(PatchError, match="do not remove all"):
        apply_file_patch(file_patch, "hello\nworld\nmore\n")


def test_patch_for_a_missing_file_fails() -> None:
    with pytest.raises(PatchError, match="does not exist"):
        apply_one("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n", None)


def test_no_newline_markers_remove_and_add_the_final_newline() -> None:
    drop = "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n-b\n+b\n\\ No newline at end of file\n"
    assert apply_one(drop, "a\nb\n") == "a\nb"
    add = "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n"
    assert apply_one(add, "a\nb") == "a\nb\n"


@pytest.mark.parametrize("shift", [-7, -1, 3, 12])
def test_wrong_hunk_offsets_are_found_nearby(shift: int) -> None:
    start = 10 + shift
    patch = (
        f"--- a/f\n+++ b/f\n@@ -{start},3 +{start},3 @@\n line 10\n-line 11\n+eleven\n line 12\n"
    )
    assert apply_one(patch, OLD) == OLD.replace("line 11\n", "eleven\n")


def test_later_hunks_follow_the_drift_of_earlier_ones() -> None:
    text = "".join(f"x{n}\n" for n in range(300))
    # Both hunks are stated 150 lines too early: beyond MAX_OFFSET on its own,
    # but the second one is searched where the first was actually found.
    patch = "--- a/f\n+++ b/f\n@@ -50,1 +50,1 @@\n-x199\n+A\n@@ -100,1 +100,1 @@\n-x249\n+B\n"
    (file_patch,) = parse_patch(patch)
    with pytest.raises(PatchError, match="hunk 1"):
        apply_file_patch(file_patch, text)
    near = patch.replace("-50,1 +50,1", "-150,1 +150,1")
    new = apply_one(near, text)
    assert new is not None and "\nA\n" in new and "\nB\n" in new


def test_wrong_hunk_counts_are_tolerated() -> None:
    patch = "--- a/f\n+++ b/f\n@@ -2,9 +2,1 @@\n line 2\n-line 3\n+three\n line 4\n"
    assert apply_one(patch, OLD) == OLD.replace("line 3\n", "three\n")


def test_blank_context_line_without_its_space() -> None:
    text = "a\n\nb\nc\n"
    patch = "--- a/f\n+++ b/f\n@@ -1,4 +1,4 @@\n a\n\n b\n-c\n+C\n"
    assert apply_one(patch, text) == "a\n\nb\nC\n"


def test_bad_hunk_names_file_hunk_and_first_mismatching_line() -> None:
    patch = (
        "--- a/src/m.py\n+++ b/src/m.py\n"
        "@@ -1,2 +1,2 @@\n line 1\n-line 2\n+two\n"
        "@@ -5,3 +5,3 @@\n line 5\n-line six\n+6\n line 7\n"
    )
    with pytest.raises(PatchError) as info:
        apply_one(patch, OLD)
    message = str(info.value)
    assert "src/m.py" in message
    assert "hunk 2 (@@ -5,3 +5,3 @@)" in message
    assert "line 6: expected 'line six', found 'line 6'" in message


def test_content_is_never_fuzzy_but_whitespace_only_mismatch_is_explained() -> None:
    patch = "--- a/f\n+++ b/f\n@@ -1,1 +1,1 @@\n-line  1\n+one\n"
    with pytest.raises(PatchError, match="differ only in whitespace"):
        apply_one(patch, OLD)


def test_hunk_past_the_end_of_the_file() -> None:
    with pytest.raises(PatchError, match="has only 2 lines"):
        apply_one("--- a/f\n+++ b/f\n@@ -2,2 +2,2 @@\n b\n-c\n+C\n", "a\nb\n")


@pytest.mark.parametrize(
    "text,needle",
    [
        ("", "no file changes found"),
        ("just some prose\n", "no file changes found"),
        ("@@ -1 +1 @@\n-a\n+b\n", "before any"),
        ("--- a/f\n+++ b/f\nnot a hunk\n", "without hunks"),
        ("--- a/f\n+++ b/f\n@@ -1 +1 @@\n a\n", "no '-' or '+' lines"),
        ("--- /dev/null\n+++ /dev/null\n@@ -0,0 +1 @@\n+a\n", "both sides"),
    ],
)
def test_malformed_patches(text: str, needle: str) -> None:
    with pytest.raises(PatchError, match=re.escape(needle)):
        parse_patch(text)


def test_crlf_file_keeps_its_line_endings_with_an_lf_patch() -> None:
    text = "a\r\nb\r\nc\r\n"
    patch = "--- a/f\n+++ b/f\n@@ -1,3 +1,4 @@\n a\n-b\n+B\n+B2\n c\n"
    assert apply_one(patch, text) == "a\r\nB\r\nB2\r\nc\r\n"


def test_removed_dash_line_followed_by_added_plus_line_is_not_a_file_header() -> None:
    text = "-- old comment\nkeep\n"
    patch = "--- a/q.sql\n+++ b/q.sql\n@@ -1,2 +1,2 @@\n--- old comment\n+++ new\n keep\n"
    assert apply_one(patch, text) == "++ new\nkeep\n"


def test_rename_is_recognised() -> None:
    (file_patch,) = parse_patch("--- a/old.txt\n+++ b/new.txt\n@@ -1 +1 @@\n-a\n+b\n")
    assert file_patch.is_rename
    assert (file_patch.old_path, file_patch.new_path) == ("old.txt", "new.txt")


def test_overlapping_hunks_fail() -> None:
    patch = (
        "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n-line 1\n+one\n line 2\n"
        "@@ -1,1 +1,1 @@\n-line 1\n+uno\n"
    )
    (file_patch,) = parse_patch(patch)
    with pytest.raises(PatchError, match="hunk 2"):
        apply_hunks("f", OLD, file_patch.hunks)


def test_our_own_diffs_round_trip() -> None:
    """unified_diff output applies back to give the new text, over many random edits."""
    rng = random.Random(7)
    words = ["a", "b", "", "  indented", "-- dash", "++ plus", "\\ slash", "def f():"]
    for _ in range(400):
        old_lines = [rng.choice(words) for _ in range(rng.randint(0, 25))]
        new_lines = list(old_lines)
        for _ in range(rng.randint(1, 4)):
            spot = rng.randint(0, len(new_lines))
            if rng.random() < 0.5 and new_lines:
                del new_lines[min(spot, len(new_lines) - 1)]
            else:
                new_lines.insert(spot, rng.choice(words))
        old = "\n".join(old_lines) + (rng.choice(["", "\n"]) if old_lines else "")
        new = "\n".join(new_lines) + (rng.choice(["", "\n"]) if new_lines else "")
        diff = unified_diff("f", old, new)
        if diff:
            assert apply_one(diff, old) == new, diff


def test_unified_diff_format_and_stats() -> None:
    diff = unified_diff("pkg/a.py", "x\ny\n", "x\nz\nw\n")
    assert diff.startswith("--- a/pkg/a.py\n+++ b/pkg/a.py\n@@ ")
    assert diff_stats(diff) == (2, 1)
    assert unified_diff("a", "same", "same") == ""
    created = unified_diff("n.txt", None, "hi")
    assert created.startswith("--- /dev/null\n+++ b/n.txt\n")
    assert "\\ No newline at end of file" in created
