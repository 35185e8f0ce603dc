"""A small reader of ``.env`` files (``KEY=VALUE`` lines), for provider keys and URLs.

Understood: blank lines and ``#`` comments, an optional ``export `` prefix,
values in single quotes (taken literally), in double quotes (``\\n``, ``\\t``,
``\\"`` and ``\\\\`` escapes; may span lines) or bare (a `` #`` starts a comment,
surrounding spaces are dropped). No ``${VAR}`` expansion: a key file is data,
and expanding it would make a value depend on whoever runs tau. A line that is
not ``KEY=VALUE`` is skipped rather than failing the run; ``parse_dotenv``
reports it in ``skipped`` for diagnostics.

The values never override the real environment (``merged_environ``), and a
``.env`` key never beats a key the user supplies elsewhere: the key variables of
a provider whose key is in the real environment or the user's credentials file
are not taken from it (``key_sources.provider_environ``). The
file is part of the workspace, so it is untrusted input: it may supply keys (a
secret the user put there), but a variable that decides where a key is sent
(any name ending in ``_BASE_URL``), or where tau writes its state
(``TAU_STORE_URL``), is taken from it only when the user trusts the workspace
(``tau trust``); otherwise it is withheld.
"""

from __future__ import annotations

import re
from collections.abc import Container, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tau_engine.config.store_setting import STORE_URL_ENV

DOTENV_NAME = ".env"

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


@dataclass
class DotenvFile:
    """The variables of one ``.env`` file and the line numbers it could not read."""

    values: dict[str, str] = field(default_factory=dict)
    skipped: list[int] = field(default_factory=list)


def parse_dotenv(text: str) -> DotenvFile:
    """Parse the text of a ``.env`` file; later assignments win."""
    result = DotenvFile()
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        number = i + 1
        line = lines[i].strip()
        i += 1
        if not line or line.startswith("#"):
            continue
        if line.startswith("export ") or line.startswith("export\t"):
            line = line[len("export") :].lstrip()
        key, sep, rest = line.partition("=")
        key = key.strip()
        if not sep or not _KEY.fullmatch(key):
            result.skipped.append(number)
            continue
        rest = rest.lstrip()
        if rest.startswith("'"):
            end = rest.find("'", 1)
            if end < 0:
                result.skipped.append(number)
                continue
            value = rest[1:end]
        elif rest.startswith('"'):
            # A double-quoted value may continue on the following lines.
            body = rest[1:]
            while _closing_quote(body) < 0 and i < len(lines):
                body += "\n" + lines[i]
                i += 1
            end = _closing_quote(body)
            if end < 0:
                result.skipped.append(number)
                continue
            value = _unescape(body[:end])
        else:
            value = re.split(r"\s+#", rest, maxsplit=1)[0].strip()
        result.values[key] = value
    return result


def _closing_quote(body: str) -> int:
    escaped = False
    for index, char in enumerate(body):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            return index
    return -1


def _unescape(raw: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), raw)


def read_dotenv(path: Path) -> dict[str, str]:
    """The variables of ``path``; a missing or unreadable file (or a FIFO, a device) gives
    none."""
    try:
        if not path.is_file():
            return {}
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    return parse_dotenv(text).values


def is_routing_variable(name: str) -> bool:
    """Whether ``name`` decides where a key is sent (``ANTHROPIC_BASE_URL``,
    ``TAU_OPENAI_BASE_URL``...): such a variable needs trust to come from a ``.env``."""
    return name.upper().endswith("_BASE_URL")


def needs_trust(name: str) -> bool:
    """Whether a ``.env`` may set ``name`` only in a trusted workspace: a routing variable,
    or ``TAU_STORE_URL`` (which decides where sessions and jobs are written)."""
    return is_routing_variable(name) or name == STORE_URL_ENV


def workspace_dotenv(
    environ: Mapping[str, str],
    workspace_root: Path | None,
    *,
    trusted: bool,
    shadowed: Container[str] = (),
) -> tuple[dict[str, str], dict[str, str]]:
    """The workspace ``.env`` split into ``(used, withheld)``.

    ``used`` never holds a variable the real ``environ`` sets, nor one named in
    ``shadowed`` (the key variables of a provider whose key the user supplies
    elsewhere: see ``key_sources.provider_environ``). Unless ``trusted``, routing
    variables go to ``withheld`` instead."""
    values = read_dotenv(workspace_root / DOTENV_NAME) if workspace_root is not None else {}
    used: dict[str, str] = {}
    withheld: dict[str, str] = {}
    for name, value in values.items():
        if name in environ or name in shadowed:
            continue
        if not trusted and needs_trust(name):
            withheld[name] = value
        else:
            used[name] = value
    return used, withheld


def merged_environ(
    environ: Mapping[str, str],
    workspace_root: Path | None,
    *,
    trusted: bool = False,
    shadowed: Container[str] = (),
) -> dict[str, str]:
    """``environ`` plus the workspace's ``.env``; the real environment always wins, the
    ``.env`` sets none of ``shadowed``, and unless ``trusted`` it cannot set a base URL."""
    merged, _ = workspace_dotenv(environ, workspace_root, trusted=trusted, shadowed=shadowed)
    merged.update(environ)
    return merged
