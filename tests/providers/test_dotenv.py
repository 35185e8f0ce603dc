"""The workspace ``.env`` file: its syntax, and that it never overrides the environment."""

from __future__ import annotations

from pathlib import Path

# -- .env files -------------------------------------------------------------------------------


def test_dotenv_syntax() -> None:
    from tau_engine.providers.dotenv import parse_dotenv

    parsed = parse_dotenv(
        "# a comment\n"
        "\n"
        "PLAIN=value\n"
        "export EXPORTED = spaced out   # trailing comment\n"
        "SINGLE='literal \\n # not a comment'\n"
        'DOUBLE="line\\nbreak \\"quoted\\" # kept"\n'
        'MULTI="first\n'
        'second"\n'
        "EMPTY=\n"
        "URL=https://example.org/?a=b#frag\n"
        "not a variable line\n"
        "1BAD=x\n"
        "UNCLOSED='oops\n"
        "PLAIN=later wins\n"
    )
    assert parsed.values == {
        "PLAIN": "later wins",
        "EXPORTED": "spaced out",
        "SINGLE": "literal \\n # not a comment",
        "DOUBLE": 'line\nbreak "quoted" # kept',
        "MULTI": "first\nsecond",
        "EMPTY": "",
        "URL": "https://example.org/?a=b#frag",
    }
    assert parsed.skipped == [11, 12, 13]


def test_dotenv_never_overrides_the_environment(tmp_path: Path) -> None:
    from tau_engine.providers.dotenv import merged_environ, read_dotenv

    (tmp_path / ".env").write_text("A=from-file\nB=from-file\n")
    assert merged_environ({"A": "real"}, tmp_path) == {"A": "real", "B": "from-file"}
    assert merged_environ({"A": "real"}, None) == {"A": "real"}
    assert read_dotenv(tmp_path / "missing.env") == {}
