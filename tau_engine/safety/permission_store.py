"""Saved permission rules: ``.tau/permissions.toml`` (workspace) and the user's own file.

Each decision a user saves ("always allow", ``tau permissions allow``) is one ``[[rule]]``::

    [[rule]]
    tool = "bash"
    pattern = "npm test *"
    action = "allow"
    scope = "workspace"
    when = "2026-11-22T10:03:00+00:00"
    by = "approval prompt"

The workspace file is untrusted input: anyone who can write to the repository can write it.
:func:`load_rules` therefore keeps a workspace rule that *allows* something only when the
caller says the workspace is trusted; ``deny`` and ``ask`` rules (which only tighten) always
apply. Every loaded rule remembers its file and line, so a refusal can cite it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tau_engine.errors import ConfigError
from tau_engine.paths import atomic_write_text, user_config_dir
from tau_engine.regular_file import read_regular_bytes
from tau_engine.safety.rules import Action, Rule, RuleSyntaxError, parse_rule_text
from tau_engine.safety.toml_lines import Source, display_path, index_lines, load_toml_text

PERMISSIONS_FILE = "permissions.toml"
FileScope = Literal["user", "workspace"]


class StoredRule(BaseModel):
    """One ``[[rule]]`` table as written on disk."""

    model_config = ConfigDict(extra="forbid")

    tool: str = Field(min_length=1)
    pattern: str | None = None
    action: Action
    scope: FileScope | None = None
    when: str | None = None
    by: str | None = None
    note: str | None = None


class RulesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule: list[StoredRule] = Field(default_factory=list)


def workspace_rules_path(workspace_root: Path) -> Path:
    """``.tau/permissions.toml`` in a workspace."""
    return workspace_root / ".tau" / PERMISSIONS_FILE


def user_rules_path() -> Path:
    """The user-wide rules file in the user config dir."""
    return user_config_dir() / PERMISSIONS_FILE


def read_rules(path: Path, scope: FileScope) -> list[Rule]:
    """Every rule in one file, each with its source line; a bad file names file, line, key."""
    shown = display_path(path)
    try:
        text = read_regular_bytes(path).decode("utf-8")  # a planted pipe must not hang tau
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{shown}: cannot read: {exc}") from exc
    data = load_toml_text(text, shown)
    index = index_lines(text)
    try:
        parsed = RulesFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err["loc"]]
        line = index.key_line(".".join(loc))
        key = ".".join(loc[2:]) if len(loc) > 2 else ".".join(loc)
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        raise ConfigError(f"{shown}{f':{line}' if line else ''}: {key}: {msg}") from exc
    rules: list[Rule] = []
    for number, stored in enumerate(parsed.rule):
        line = index.key_line(f"rule.{number}")
        where = f"{shown}:{line}" if line else shown
        if stored.scope is not None and stored.scope != scope:
            raise ConfigError(f"{where}: scope: '{stored.scope}' rule in a {scope} file")
        text_form = stored.tool if stored.pattern is None else f"{stored.tool}({stored.pattern})"
        try:
            parse_rule_text(text_form)
        except RuleSyntaxError as exc:
            raise ConfigError(f"{where}: {exc}") from exc
        rules.append(
            Rule(
                tool=stored.tool,
                pattern=stored.pattern,
                action=stored.action,
                source=Source(shown, line),
                scope=scope,
                when=stored.when,
                by=stored.by,
                note=stored.note,
            )
        )
    return rules


def load_rules(
    workspace_root: Path | None, *, workspace_trusted: bool, user_path: Path | None = None
) -> tuple[list[Rule], list[Rule]]:
    """The user's rules and the workspace's rules, in that order.

    Workspace rules that allow are dropped unless ``workspace_trusted``: an untrusted
    repository may make tau stricter, never more permissive."""
    user = read_rules(user_path or user_rules_path(), "user")
    workspace: list[Rule] = []
    if workspace_root is not None:
        for rule in read_rules(workspace_rules_path(workspace_root), "workspace"):
            if rule.action == "allow" and not workspace_trusted:
                continue
            workspace.append(rule)
    return user, workspace


def _dump(rules: list[dict[str, Any]]) -> str:
    import tomli_w

    header = (
        "# tau permission rules (see `tau permissions list`). One [[rule]] per saved decision.\n"
    )
    return header + tomli_w.dumps({"rule": rules})


def save_rule(
    path: Path,
    scope: FileScope,
    rule_text: str,
    action: Action,
    *,
    by: str,
    note: str | None = None,
    now: datetime | None = None,
) -> Rule:
    """Add (or replace) a rule in a rules file atomically; returns it with its new line."""
    tool, pattern = parse_rule_text(rule_text)
    existing = read_rules(path, scope)  # validates the file before rewriting it
    stamp = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    rows: list[dict[str, Any]] = []
    for rule in existing:
        if (rule.tool, rule.pattern) == (tool, pattern):
            continue
        rows.append(
            _row(rule.tool, rule.pattern, rule.action, scope, rule.when, rule.by, rule.note)
        )
    rows.append(_row(tool, pattern, action, scope, stamp, by, note))
    atomic_write_text(path, _dump(rows))
    saved = read_rules(path, scope)
    return next(r for r in reversed(saved) if (r.tool, r.pattern) == (tool, pattern))


def revoke_rule(path: Path, scope: FileScope, rule_text: str) -> int:
    """Remove every rule with this text from a rules file; returns how many were removed."""
    tool, pattern = parse_rule_text(rule_text)
    existing = read_rules(path, scope)
    kept = [r for r in existing if (r.tool, r.pattern) != (tool, pattern)]
    if len(kept) != len(existing):
        atomic_write_text(
            path,
            _dump([_row(r.tool, r.pattern, r.action, scope, r.when, r.by, r.note) for r in kept]),
        )
    return len(existing) - len(kept)


def _row(
    tool: str,
    pattern: str | None,
    action: str,
    scope: str,
    when: str | None,
    by: str | None,
    note: str | None,
) -> dict[str, Any]:
    row: dict[str, Any] = {"tool": tool}
    if pattern is not None:
        row["pattern"] = pattern
    row.update(action=action, scope=scope)
    row.update({k: v for k, v in (("when", when), ("by", by), ("note", note)) if v})
    return row
