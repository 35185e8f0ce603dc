"""The trust and protection tables in the docs say what the code declares."""

from __future__ import annotations

import re
from pathlib import Path

from tau_engine.config import describe_settings
from tau_engine.config.store_setting import StoreSettings
from tau_engine.safety.protected import RULES

DOCS = Path(__file__).resolve().parents[2] / "docs"
_WORDS = {
    "": None,
    "always": "credentials",
    "to raise it": "approval",
    "to raise yours": "limit",
    "to loosen it": "safety",
    "never": "user",
}


def test_the_needs_trust_column_matches_each_settings_declaration() -> None:
    text = (DOCS / "configuration.md").read_text()
    rows = re.findall(r"^\| `(\w+)` \|.*\|([^|]*)\|$", text, re.MULTILINE)
    documented = {key: _WORDS[cell.strip()] for key, cell in rows if cell.strip() in _WORDS}
    # Tables whose keys declare their own trust ([providers.NAME], [store]) have rows of
    # their own.
    declared = {
        row["key"]: row["trust"]
        for row in describe_settings()
        if row["key"] not in ("providers", "store")
    }
    assert documented == declared
    store_url = StoreSettings.model_fields["url"].json_schema_extra
    assert isinstance(store_url, dict) and store_url["trust"] == "credentials"
    assert re.search(r"^\| `\[store\] url` \|.*\| always \|$", text, re.MULTILINE)


def test_every_protection_rule_is_documented() -> None:
    text = (DOCS / "safety.md").read_text()
    for rule in RULES:
        assert f"| `{rule.name}` |" in text
