"""The quick look that decides whether ``tau status`` resolves a store at all: every place
a store can be named makes it look, and with none ``tau status`` loads nothing new."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tau_engine.config.store_setting import STORE_URL_ENV
from tau_engine.status import store_choice
from tau_engine.status.store_choice import is_postgresql, may_name_a_store
from tests.support.operator_seed import seed_workspace


def test_the_copied_constant_matches_its_source() -> None:
    assert store_choice.STORE_URL_ENV == STORE_URL_ENV


def test_every_place_that_can_name_a_store_makes_it_look(tmp_path: Path) -> None:
    config, root = tmp_path / "config", tmp_path / "ws"
    (root / ".tau").mkdir(parents=True)
    (config / "profiles").mkdir(parents=True)
    env = {"TAU_CONFIG_DIR": str(config)}
    assert not may_name_a_store(root, None, env)
    assert may_name_a_store(root, "postgresql://x/y", env)
    assert may_name_a_store(root, None, {**env, "TAU_STORE_URL": "postgresql://x/y"})
    assert not may_name_a_store(root, None, {**env, "TAU_STORE_URL": "  "})
    places = [
        (config / "config.toml", '[store]\nurl = "postgresql://x/y"\n'),
        (config / "profiles" / "work.toml", '[store]\nurl = "postgresql://x/y"\n'),
        (root / ".tau" / "config.toml", 'store.url = "postgresql://x/y"\n'),
        (root / ".env", "TAU_STORE_URL=postgresql://x/y\n"),
    ]
    for path, text in places:
        path.write_text(text)
        assert may_name_a_store(root, None, env), path
        path.unlink()
    (config / "config.toml").write_text('model = "offline/echo"\n')
    assert not may_name_a_store(root, None, env)


@pytest.mark.parametrize(
    ("url", "expected"),
    [(None, False), ("sqlite", False), ("postgresql://h/d", True), ("Postgres://h/d", True)],
)
def test_which_urls_are_postgresql(url: str | None, expected: bool) -> None:
    assert is_postgresql(url) is expected


def test_status_with_no_store_configured_loads_no_driver_or_settings(tmp_path: Path) -> None:
    seed_workspace(tmp_path)
    script = (
        "import atexit, sys\n"
        "HEAVY = ('psycopg', 'pydantic', 'tau_engine.store', 'tau_engine.config')\n"
        "atexit.register(lambda: sys.stderr.write('loaded=%s\\n' % sorted(\n"
        "    m for m in sys.modules if m.startswith(HEAVY))))\n"
        f"sys.argv = ['tau', 'status', '-w', {str(tmp_path)!r}]\n"
        "from tau_tui.cli import main\n"
        "sys.exit(main())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode in (0, 1), done.stderr
    assert done.stderr.strip().splitlines()[-1] == "loaded=[]"


@pytest.mark.parametrize("named_by", ["flag", "env", "flag-over-env"])
def test_a_store_named_by_flag_or_environment_loads_no_settings_or_store_models(
    tmp_path: Path, named_by: str
) -> None:
    """``--store`` and ``TAU_STORE_URL`` come before every config file, so no settings
    (pydantic, the trust rules) are loaded to read them; and reaching the PostgreSQL
    connection helper loads none of the store package's models."""
    seed_workspace(tmp_path)
    flag = {"flag": "postgresql://a@/one", "env": None}.get(named_by, "postgresql://a@/one")
    env = {**os.environ, STORE_URL_ENV: "postgresql://b@/two"}
    if named_by == "flag":
        env.pop(STORE_URL_ENV)
    script = (
        "import sys\n"
        "from types import SimpleNamespace\n"
        "from tau_tui.commands.status import chosen_store_url\n"
        f"url = chosen_store_url({str(tmp_path)!r}, SimpleNamespace(store={flag!r}))\n"
        "import tau_engine.store.postgres.connection\n"
        "HEAVY = ('pydantic', 'tau_engine.config', 'tau_engine.store.api', 'tau_engine.events')\n"
        "print(url, sorted(m for m in sys.modules if m.startswith(HEAVY)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr
    expected = "postgresql://b@/two" if named_by == "env" else "postgresql://a@/one"
    assert done.stdout.split() == [expected, "[]"]
