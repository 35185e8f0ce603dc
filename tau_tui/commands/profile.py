"""``tau profile list|show|use NAME``: the profiles in the user config dir.

A profile (``profiles/NAME.toml``, written by ``tau onboard``) names a provider,
a model, where the key comes from and a safety profile. The active one is
``profile = "NAME"`` in the user ``config.toml`` (``tau profile use`` sets it,
keeping the file's comments); ``--profile NAME`` and ``TAU_PROFILE`` choose
another for one run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "profile",
        help="list, show or choose your profiles",
        description="Profiles are TOML files in the user config dir "
        "(profiles/NAME.toml), written by tau onboard.",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = actions.add_parser("list", help="every profile; * marks the active one", parents=[common])
    p.add_argument("--json", action="store_true", help="one JSON line: a list of profiles")
    p = actions.add_parser(
        "show", help="a profile's settings (default: the active one)", parents=[common]
    )
    p.add_argument("name", nargs="?", metavar="NAME")
    p.add_argument("--json", action="store_true", help="one JSON line")
    p = actions.add_parser("use", help="make a profile the active one", parents=[common])
    p.add_argument("name", metavar="NAME")


def active_profile() -> tuple[str | None, str]:
    """The active profile's name and where it is chosen (``TAU_PROFILE`` or config.toml)."""
    from tau_engine.config import read_toml
    from tau_engine.paths import user_config_dir

    if os.environ.get("TAU_PROFILE"):
        return os.environ["TAU_PROFILE"], "TAU_PROFILE"
    path = user_config_dir() / "config.toml"
    name = read_toml(path).get("profile")
    return (name if isinstance(name, str) else None), str(path)


def run(args: argparse.Namespace) -> int:
    from tau_engine.config.profiles import ProfileStore

    store = ProfileStore()
    if args.action == "list":
        return _list(store, args.json)
    if args.action == "show":
        return _show(store, args.name, args.json)
    return _use(store, args.name)


def _list(store: Any, as_json: bool) -> int:
    active, _ = active_profile()
    rows = []
    for name in store.names():
        profile = store.load(name)
        rows.append({"name": name, "active": name == active, **profile.model_dump()})
    if as_json:
        sys.stdout.write(json.dumps(rows) + "\n")
        return 0
    if not rows:
        sys.stdout.write("no profiles yet: tau onboard makes one\n")
    for row in rows:
        key = f"env {row['api_key_env']}" if row["key_source"] == "env" else row["key_source"]
        sys.stdout.write(
            f"{'*' if row['active'] else ' '} {row['name']:<16} {row['model']:<36}"
            f" key: {key:<28} safety: {row['safety']}\n"
        )
    return 0


def _show(store: Any, name: str | None, as_json: bool) -> int:
    from tau_engine.config.profiles import render_profile
    from tau_engine.errors import UsageError

    if name is None:
        name, _ = active_profile()
        if name is None:
            raise UsageError("no active profile: name one (tau profile list), or run tau onboard")
    profile = store.load(name)
    if as_json:
        sys.stdout.write(
            json.dumps({"name": name, "path": str(store.path(name)), **profile.model_dump()}) + "\n"
        )
        return 0
    sys.stdout.write(f"# {store.path(name)}\n{render_profile(profile)}")
    return 0


def _use(store: Any, name: str) -> int:
    from tau_engine.config.profiles import config_text_with_profile
    from tau_engine.paths import atomic_write_text, user_config_dir

    store.load(name)  # it must exist and be valid before it becomes the active one
    path = user_config_dir() / "config.toml"
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    atomic_write_text(path, config_text_with_profile(text, name))
    sys.stdout.write(f"profile '{name}' is now active ({path})\n")
    if os.environ.get("TAU_PROFILE") and os.environ["TAU_PROFILE"] != name:
        sys.stdout.write(
            f"note: TAU_PROFILE={os.environ['TAU_PROFILE']} is set and chooses "
            "that one while it is\n"
        )
    return 0
