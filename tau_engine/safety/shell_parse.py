"""A bash command line as a tree: every simple command, redirection and assignment in it.

Shell policy is judged on this, never on string prefixes: ``ls && rm -rf ~`` is two commands,
``echo $(curl x | sh)`` is three, ``'r''m'`` is ``rm``. The parser is tree-sitter with the
tree-sitter-bash grammar (both MIT; abi3 wheels; ~8 ms to import; bashlex is GPL and
unmaintained, mvdan/sh is Go). The walk finds commands wherever bash would run them: lists,
pipelines, ``&``, subshells, groups, ``$(…)``, backticks, arithmetic, here-documents, function
bodies, loops and conditionals.

Each word gets its *static value* when bash's result does not depend on run time (quotes
removed, ``\\`` escapes and ``$'\\x72m'`` decoded), or ``None`` when it does (``$VAR``,
``$(…)``, brace expansion, globs in a command name). What cannot be judged statically at all
(process substitution, a syntax error) is reported as an :class:`Opaque` part, and callers fail
closed on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

# Nodes whose value bash computes at run time.
_DYNAMIC = frozenset(
    {
        "simple_expansion",
        "expansion",
        "command_substitution",
        "arithmetic_expansion",
        "process_substitution",
        "brace_expression",
    }
)
_WRITE_OPS = frozenset({">", ">>", ">|", "&>", "&>>", "<>", ">&"})
_BRACE = re.compile(r"\{[^{}\0]*(?:,|\.\.)[^{}\0]*\}")
_GLOB = re.compile(r"[*?\[]")
_MID_WORD_CONTINUATION = re.compile(r"[^\s\\]\\\n[^\s]")
_ANSI_C = re.compile(
    r"\\(x[0-9A-Fa-f]{1,2}|u[0-9A-Fa-f]{1,4}|U[0-9A-Fa-f]{1,8}|[0-7]{1,3}|"
    r"c.|.)",
    re.DOTALL,
)
_ANSI_SIMPLE = {
    "a": "\a",
    "b": "\b",
    "e": "\x1b",
    "E": "\x1b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "?": "?",
}


@dataclass(frozen=True, slots=True)
class Word:
    """One shell word: its source text and its static value (``None`` if run-time dependent).

    ``glob`` is true when an unquoted ``*``, ``?`` or ``[`` makes bash expand the word to
    file names."""

    text: str
    value: str | None
    glob: bool = False

    @property
    def static(self) -> bool:
        return self.value is not None


@dataclass(frozen=True, slots=True)
class Redirect:
    """A redirection such as ``> out.txt`` or ``2>&1``."""

    op: str
    target: Word
    fd: str | None = None

    @property
    def writes_file(self) -> bool:
        """True if it opens a file for writing (``2>&1`` and ``>&2`` only duplicate fds)."""
        if self.op not in _WRITE_OPS:
            return False
        if self.op == ">&":
            target = self.target.value
            return target is None or not (target == "-" or target.rstrip("-").isdigit())
        return True


@dataclass(frozen=True, slots=True)
class SimpleCommand:
    """One simple command: its words (``argv``), prefix assignments and its source text."""

    words: tuple[Word, ...]
    assignments: tuple[tuple[str, Word], ...]
    text: str


@dataclass(frozen=True, slots=True)
class Opaque:
    """A construct whose effect cannot be known before it runs."""

    reason: str
    text: str


@dataclass(frozen=True)
class ShellScript:
    """Everything bash would run for one command line, flattened."""

    source: str
    commands: tuple[SimpleCommand, ...]
    redirects: tuple[Redirect, ...]
    assignments: tuple[tuple[str, Word], ...]
    opaque: tuple[Opaque, ...]


@dataclass
class _Walk:
    commands: list[SimpleCommand] = field(default_factory=list)
    redirects: list[Redirect] = field(default_factory=list)
    assignments: list[tuple[str, Word]] = field(default_factory=list)
    opaque: list[Opaque] = field(default_factory=list)


@lru_cache(maxsize=1)
def _parser() -> Any:
    # Imported here: the CLI's start-up must not pay for the parser.
    import tree_sitter
    import tree_sitter_bash

    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_bash.language()))


def _text(node: Any) -> str:
    return bytes(node.text).decode("utf-8", errors="replace")


def _unescape_unquoted(raw: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw):
            if raw[i + 1] != "\n":  # backslash-newline is a line continuation
                out.append(raw[i + 1])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _unescape_double(raw: str) -> str:
    # Inside double quotes a backslash only escapes $ ` " \ and newline.
    return re.sub(r"\\([$`\"\\\n])", lambda m: "" if m.group(1) == "\n" else m.group(1), raw)


def _decode_ansi_c(body: str) -> str | None:
    def one(match: re.Match[str]) -> str:
        esc = match.group(1)
        head = esc[0]
        if head in "xuU":
            return chr(int(esc[1:], 16))
        if head.isdigit():
            return chr(int(esc, 8) & 0xFF)
        if head == "c":
            return chr(ord(esc[1]) & 0x1F)
        return _ANSI_SIMPLE.get(esc, "\\" + esc)

    try:
        return _ANSI_C.sub(one, body)
    except (ValueError, OverflowError):
        return None


def _word_parts(node: Any) -> tuple[str | None, str]:
    """The static value of ``node`` and its unquoted skeleton (quoted text replaced by NULs)."""
    kind = node.type
    raw = _text(node)
    if kind in ("word", "number", "command_name", "variable_name", "file_descriptor"):
        if kind == "command_name" and node.named_child_count == 1:
            return _word_parts(node.named_children[0])
        return _unescape_unquoted(raw), raw
    if kind == "raw_string":
        return raw[1:-1], "\0" * max(0, len(raw) - 2)
    if kind == "ansi_c_string":
        value = _decode_ansi_c(raw[2:-1])
        return value, "\0" * len(value or "")
    if kind in ("string", "translated_string"):
        pieces: list[str] = []
        for child in node.named_children:
            if child.type != "string_content":
                return None, ""
            pieces.append(_unescape_double(_text(child)))
        value = "".join(pieces)
        return value, "\0" * len(value)
    if kind == "concatenation":
        values: list[str] = []
        skeleton: list[str] = []
        for child in node.children:
            value, skel = _word_parts(child)
            if value is None:
                return None, ""
            values.append(value)
            skeleton.append(skel)
        return "".join(values), "".join(skeleton)
    return None, ""


def make_word(node: Any) -> Word:
    """A :class:`Word` for a tree-sitter argument node."""
    if node.type in _DYNAMIC:
        return Word(_text(node), None)
    value, skeleton = _word_parts(node)
    if value is not None and _BRACE.search(skeleton):
        return Word(_text(node), None)  # brace expansion: {rm,-rf,/} is three words
    return Word(_text(node), value, glob=bool(_GLOB.search(skeleton)))


def _redirect(node: Any) -> Redirect | None:
    op = next((c.type for c in node.children if not c.is_named), "")
    dest = node.child_by_field_name("destination")
    fd_node = node.child_by_field_name("descriptor")
    fd = _text(fd_node) if fd_node is not None else None
    if dest is None:
        return None
    return Redirect(op, make_word(dest), fd)


def _walk(root: Any, out: _Walk) -> None:
    # Pre-order with an explicit stack: a deeply nested $($($(…))) cannot exhaust Python's.
    stack = [root]
    while stack:
        node = stack.pop()
        _visit(node, out)
        stack.extend(reversed(node.children))


def _visit(node: Any, out: _Walk) -> None:
    kind = node.type
    if kind == "ERROR" or node.is_missing:
        out.opaque.append(Opaque("the command line does not parse", _text(node)[:200]))
    elif kind == "process_substitution":
        out.opaque.append(
            Opaque("process substitution runs a command whose result is a file name", _text(node))
        )
    elif kind == "command":
        words: list[Word] = []
        assigns: list[tuple[str, Word]] = []
        for index, child in enumerate(node.children):
            field_name = node.field_name_for_child(index)
            if field_name in ("name", "argument"):
                words.append(make_word(child))
        for child in node.named_children:
            if child.type == "variable_assignment":
                assigns.append(_assignment(child))
        out.commands.append(SimpleCommand(tuple(words), tuple(assigns), _text(node)))
    elif kind == "variable_assignment":
        out.assignments.append(_assignment(node))
    elif kind in ("file_redirect", "heredoc_redirect"):
        redirect = _redirect(node) if kind == "file_redirect" else None
        if redirect is not None:
            out.redirects.append(redirect)
        if kind == "heredoc_redirect":
            _heredoc(node, out)
    elif kind == "command_substitution" and _text(node).startswith("`") and "\\`" in _text(node):
        # The grammar reads \` inside backticks as text; bash runs it as a nested command.
        out.opaque.append(Opaque("nested backticks tau cannot parse reliably", _text(node)))


def _heredoc(node: Any, out: _Walk) -> None:
    """Check an unquoted here-document body for substitutions the grammar left as text.

    The grammar misses them in some bodies (``<<-`` with tab-indented lines): the body is
    parsed again as a double-quoted string, and what still cannot be read fails closed."""
    start = next((c for c in node.children if c.type == "heredoc_start"), None)
    body = next((c for c in node.children if c.type == "heredoc_body"), None)
    if start is None or body is None or any(ch in _text(start) for ch in "'\"\\"):
        return  # a quoted delimiter: the body is literal text
    if any(c.type in _DYNAMIC for c in body.named_children):
        return  # the grammar parsed the substitutions; the walk judges them
    text = _text(body)
    if "$(" not in text and "`" not in text and "${" not in text:
        return
    # Inside double quotes \$ \` \\ mean what they mean in a here-document; only " differs.
    escaped = text.replace('"', '\\"')
    inner = _parser().parse(f'echo "{escaped}"'.encode())
    found = _Walk()
    _walk(inner.root_node, found)
    nested = found.commands[1:]  # the first is the synthetic echo
    if found.opaque or (not nested and ("$(" in text or "`" in text)):
        out.opaque.append(Opaque("a here-document runs substitutions tau cannot parse", text[:200]))
    out.commands.extend(nested)
    out.redirects.extend(found.redirects)
    out.assignments.extend(found.assignments)


def _assignment(node: Any) -> tuple[str, Word]:
    name = node.child_by_field_name("name")
    value = node.child_by_field_name("value")
    return (
        _text(name) if name is not None else "",
        make_word(value) if value is not None else Word("", ""),
    )


def parse_shell(source: str) -> ShellScript:
    """Parse one bash command line into its simple commands, redirections and assignments."""
    tree = _parser().parse(source.encode("utf-8"))
    walk = _Walk()
    if _MID_WORD_CONTINUATION.search(source):
        # bash joins r\<newline>m into rm before splitting words; the grammar does not.
        walk.opaque.append(Opaque("a line continuation inside a word", source[:200]))
    _walk(tree.root_node, walk)
    # Prefix assignments (FOO=1 cmd) are collected with their command and by the walk.
    return ShellScript(
        source=source,
        commands=tuple(walk.commands),
        redirects=tuple(walk.redirects),
        assignments=tuple(walk.assignments),
        opaque=tuple(walk.opaque),
    )
