"""Parse unified diffs and apply them to text, in memory.

Pure functions: nothing here touches the file system, so ``edit_many`` can
compute every file's new content before it changes any of them.

Accepted input is what ``diff -u`` and ``git diff`` print and what models
write: ``--- a/x`` / ``+++ b/x`` headers (the ``a/``/``b/`` prefixes are
optional, ``/dev/null`` marks a created or deleted file), any number of files
and hunks, ``\\ No newline at end of file`` markers. Models often get hunk
line numbers and counts slightly wrong, so both are treated as hints: a hunk
is searched for up to ``MAX_OFFSET`` lines from where its header says it
starts, and its length is what its lines are. Content is never fuzzy: every
context and removed line must match exactly (only a ``\\r`` before the line
end is ignored, so CRLF files and LF patches meet).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tau_engine.errors import PatchError
from tau_engine.tools.diff import split_lines

# How far (in lines) from its stated position a hunk is looked for.
MAX_OFFSET = 100

_HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@dataclass(frozen=True)
class HunkLine:
    """One body line of a hunk: ``tag`` is ``' '`` (context), ``'-'`` or ``'+'``."""

    tag: str
    text: str  # without the line ending
    no_newline: bool = False  # followed by "\ No newline at end of file"
    crlf: bool = False  # the patch line itself ended in \r\n


@dataclass(frozen=True)
class Hunk:
    """One ``@@ -a,b +c,d @@`` block."""

    number: int  # 1-based position in its file's patch, for messages
    header: str  # the "@@ -a,b +c,d @@" part
    old_start: int
    lines: tuple[HunkLine, ...]

    @property
    def old_lines(self) -> list[str]:
        return [line.text for line in self.lines if line.tag != "+"]


@dataclass(frozen=True)
class FilePatch:
    """The hunks of one file. A ``None`` path is ``/dev/null`` (creation or deletion)."""

    old_path: str | None
    new_path: str | None
    hunks: tuple[Hunk, ...]

    @property
    def path(self) -> str:
        """The name to show: the new name, or the old one for a deletion."""
        return self.new_path or self.old_path or "?"

    @property
    def is_creation(self) -> bool:
        return self.old_path is None

    @property
    def is_deletion(self) -> bool:
        return self.new_path is None

    @property
    def is_rename(self) -> bool:
        return None not in (self.old_path, self.new_path) and self.old_path != self.new_path


# -- parsing -----------------------------------------------------------------

_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


def _unquote(quoted: str) -> str:
    """A C-quoted name as git writes it (``"a/caf\\303\\251.txt"``)."""
    out = bytearray()
    i = 0
    while i < len(quoted):
        char = quoted[i]
        if char == "\\" and re.match(r"[0-7]{3}", quoted[i + 1 : i + 4]):
            out.append(int(quoted[i + 1 : i + 4], 8))
            i += 4
        elif char == "\\" and i + 1 < len(quoted):
            out += _ESCAPES.get(quoted[i + 1], quoted[i + 1]).encode()
            i += 2
        else:
            out += char.encode()
            i += 1
    return out.decode("utf-8", errors="replace")


def _header_name(raw: str) -> str | None:
    # A tab separates the name from the timestamp diff(1) appends.
    name = raw.split("\t", 1)[0].strip()
    if len(name) >= 2 and name[0] == name[-1] == '"':
        name = _unquote(name[1:-1])
    return None if name == "/dev/null" else name


def _file_names(old_raw: str, new_raw: str) -> tuple[str | None, str | None]:
    """Both names with git's ``a/``/``b/`` prefixes removed when both sides use them."""
    old, new = _header_name(old_raw), _header_name(new_raw)
    if old is None and new is None:
        raise PatchError("a file header has /dev/null on both sides")
    old_prefixed = old is None or old.startswith("a/")
    new_prefixed = new is None or new.startswith("b/")
    if old_prefixed and new_prefixed:
        return (old[2:] if old else None), (new[2:] if new else None)
    # One side prefixed and the other not: same file if the names then agree.
    if old and new and old.startswith("a/") and old[2:] == new:
        return new, new
    if old and new and new.startswith("b/") and new[2:] == old:
        return old, old
    return old, new


def _is_file_header(lines: list[str], i: int) -> bool:
    return lines[i].startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ ")


def _is_body_line(lines: list[str], i: int) -> bool:
    line = lines[i]
    return bool(line) and line[0] in " -+\\" and not _is_file_header(lines, i)


def _more_body_follows(lines: list[str], i: int) -> bool:
    """Whether hunk lines follow the blank lines starting at ``i``."""
    while i < len(lines) and lines[i] == "":
        i += 1
    return i < len(lines) and _is_body_line(lines, i)


def _parse_hunk(
    lines: list[str], crlf: list[bool], i: int, number: int, path: str
) -> tuple[Hunk, int]:
    match = _HUNK_HEADER.match(lines[i])
    if match is None:
        raise PatchError(
            f"{path}: bad hunk header {lines[i]!r}; expected "
            "'@@ -OLD_START,OLD_COUNT +NEW_START,NEW_COUNT @@'"
        )
    header = match.group(0)
    # The stated counts only settle one ambiguity: whether "--- x" + "+++ y"
    # inside a hunk are a removed and an added line or the next file's header.
    old_left = int(match.group(2) or 1)
    new_left = int(match.group(4) or 1)
    i += 1
    body: list[HunkLine] = []
    while i < len(lines):
        line = lines[i]
        if line.startswith(("@@", "diff ")):
            break
        if _is_file_header(lines, i) and not (old_left > 0 and new_left > 0):
            break
        if line.startswith("\\"):
            if body:
                last = body[-1]
                body[-1] = HunkLine(last.tag, last.text, no_newline=True, crlf=last.crlf)
            i += 1
            continue
        if line == "":
            # An editor or a model stripped the leading space of an empty
            # context line; trailing blank lines after the hunk are not part of it.
            if not _more_body_follows(lines, i):
                break
            body.append(HunkLine(" ", ""))
            old_left -= 1
            new_left -= 1
            i += 1
            continue
        if line[0] not in " -+":
            break
        body.append(HunkLine(line[0], line[1:], crlf=crlf[i]))
        old_left -= line[0] != "+"
        new_left -= line[0] != "-"
        i += 1
    if not any(line.tag != " " for line in body):
        raise PatchError(f"{path}: hunk {number} ({header}) has no '-' or '+' lines")
    return Hunk(number, header, int(match.group(1)), tuple(body)), i


def parse_patch(text: str) -> list[FilePatch]:
    """The file patches in ``text``; raises ``PatchError`` when it is not a unified diff."""
    raw = text.split("\n")
    lines = [line.removesuffix("\r") for line in raw]
    crlf = [line.endswith("\r") for line in raw]
    patches: list[FilePatch] = []
    i = 0
    while i < len(lines):
        if _is_file_header(lines, i):
            old, new = _file_names(lines[i][4:], lines[i + 1][4:])
            shown = new or old or "?"
            i += 2
            hunks: list[Hunk] = []
            while i < len(lines) and (
                lines[i].startswith("@@")
                or (lines[i] == "" and i + 1 < len(lines) and lines[i + 1].startswith("@@"))
            ):
                if lines[i] == "":
                    i += 1
                    continue
                hunk, i = _parse_hunk(lines, crlf, i, len(hunks) + 1, shown)
                hunks.append(hunk)
            if not hunks:
                raise PatchError(f"{shown}: file header without hunks (expected '@@ ... @@')")
            patches.append(FilePatch(old, new, tuple(hunks)))
            continue
        if lines[i].startswith("@@"):
            raise PatchError(
                f"hunk {lines[i]!r} comes before any '--- a/PATH' and '+++ b/PATH' file header"
            )
        i += 1
    if not patches:
        raise PatchError(
            "no file changes found: a unified diff needs '--- a/PATH' and "
            "'+++ b/PATH' header lines followed by '@@ ... @@' hunks"
        )
    return patches


# -- applying ----------------------------------------------------------------


def _bare(line: str) -> str:
    return line.removesuffix("\n").removesuffix("\r")


def _line_ending(lines: list[str]) -> str | None:
    """The file's usual line ending; ``None`` when it has no lines to tell."""
    ended = [line for line in lines if line.endswith("\n")]
    if not ended:
        return None
    crlf = sum(1 for line in ended if line.endswith("\r\n"))
    return "\r\n" if crlf * 2 > len(ended) else "\n"


def _matches(lines: list[str], start: int, old: list[str]) -> bool:
    return all(_bare(lines[start + j]) == want for j, want in enumerate(old))


def _candidates(expected: int, lo: int, hi: int) -> list[int]:
    """Start positions within ``MAX_OFFSET`` of ``expected``, nearest first."""
    order = [expected]
    for delta in range(1, MAX_OFFSET + 1):
        order += [expected - delta, expected + delta]
    return [start for start in order if lo <= start <= hi]


def _locate(lines: list[str], hunk: Hunk, expected: int, lo: int, path: str) -> int:
    old = hunk.old_lines
    if not old:
        # A pure insertion has no context to search for: trust the position.
        if expected - len(lines) > MAX_OFFSET:
            raise PatchError(
                f"{path}: hunk {hunk.number} ({hunk.header}) inserts after line "
                f"{expected}, but the file has {len(lines)} lines"
            )
        return min(max(expected, lo), len(lines))
    for start in _candidates(expected, lo, len(lines) - len(old)):
        if _matches(lines, start, old):
            return start
    raise PatchError(_mismatch(lines, hunk, expected, lo, path))


def _mismatch(lines: list[str], hunk: Hunk, expected: int, lo: int, path: str) -> str:
    """Why a hunk does not apply: its first mismatching line where it came closest."""
    old = hunk.old_lines
    where = f"{path}: hunk {hunk.number} ({hunk.header}) does not apply"

    def agreeing(start: int) -> int:
        count = 0
        while (
            count < len(old)
            and start + count < len(lines)
            and _bare(lines[start + count]) == old[count]
        ):
            count += 1
        return count

    starts = _candidates(expected, lo, len(lines) - 1) or [min(max(expected, lo), len(lines))]
    best = max(starts, key=agreeing)  # max() keeps the first, i.e. nearest, of equals
    j = agreeing(best)
    line_no = best + j + 1
    if best + j >= len(lines):
        return (
            f"{where}: expected {old[j]!r} at line {line_no}, but the file has only "
            f"{len(lines)} lines"
        )
    found = _bare(lines[best + j])
    note = " (they differ only in whitespace)" if found.split() == old[j].split() else ""
    return f"{where}: line {line_no}: expected {old[j]!r}, found {found!r}{note}"


def apply_hunks(path: str, text: str, hunks: tuple[Hunk, ...] | list[Hunk]) -> str:
    """``text`` with ``hunks`` applied in order; ``PatchError`` names the hunk that fails."""
    lines = split_lines(text)
    file_eol = _line_ending(lines)
    out: list[str] = []
    pos = 0  # next original line not yet copied
    drift = 0  # how far the previous hunk was from its stated position
    for hunk in hunks:
        # A hunk with old lines starts at old_start; a pure insertion goes after it.
        stated = hunk.old_start - 1 if hunk.old_lines else hunk.old_start
        start = _locate(lines, hunk, stated + drift, pos, path)
        drift = start - stated
        out.extend(lines[pos:start])
        at = start
        for line in hunk.lines:
            if line.tag == " ":
                out.append(lines[at])
                at += 1
            elif line.tag == "-":
                at += 1
            else:
                # An empty file takes its line ending from the patch.
                eol = file_eol or ("\r\n" if line.crlf else "\n")
                out.append(line.text + ("" if line.no_newline else eol))
        pos = at
    out.extend(lines[pos:])
    # A line that lost its place as the last one needs an ending again.
    eol = file_eol or "\n"
    return "".join(
        line if line.endswith("\n") or i == len(out) - 1 else line + eol
        for i, line in enumerate(out)
    )


def apply_file_patch(patch: FilePatch, original: str | None) -> str | None:
    """The new content of one file (``None``: the patch deletes it).

    ``original`` is the current content, ``None`` when the file does not exist.
    """
    if patch.is_creation:
        if original:
            raise PatchError(f"{patch.path}: the patch creates this file, but it already exists")
        original = ""
    elif original is None:
        raise PatchError(f"{patch.old_path}: the patch changes this file, but it does not exist")
    new = apply_hunks(patch.path, original, patch.hunks)
    if patch.is_deletion:
        if new:
            raise PatchError(
                f"{patch.path}: the patch deletes this file, but its hunks do not "
                "remove all of its lines"
            )
        return None
    return new
