"""The exact-value secret redactor: what it hides, and what it leaves alone."""

from __future__ import annotations

from tau_engine.safety.redact import MIN_FRAGMENT, SecretRedactor

KEY = "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"


def test_every_occurrence_is_replaced_by_the_variable_name() -> None:
    redactor = SecretRedactor({"ANTHROPIC_API_KEY": KEY})
    text = f"ANTHROPIC_API_KEY={KEY}\nagain: {KEY}!"
    assert redactor.redact(text) == (
        "ANTHROPIC_API_KEY=[REDACTED:ANTHROPIC_API_KEY]\nagain: [REDACTED:ANTHROPIC_API_KEY]!"
    )
    assert KEY not in redactor.redact(text)


def test_the_first_variable_of_a_shared_value_names_it_and_longest_values_go_first() -> None:
    inner = "0123456789abcdef"
    redactor = SecretRedactor(
        [("TAU_OPENAI_API_KEY", inner), ("OPENAI_API_KEY", inner), ("LONG_KEY", f"xx{inner}yy")]
    )
    assert (
        redactor.redact(f"{inner} xx{inner}yy")
        == "[REDACTED:TAU_OPENAI_API_KEY] [REDACTED:LONG_KEY]"
    )
    assert redactor.names == ["LONG_KEY", "TAU_OPENAI_API_KEY"]


def test_short_values_are_not_secrets_and_no_secrets_change_nothing() -> None:
    redactor = SecretRedactor({"OPENAI_API_KEY": "test", "EMPTY": "  "})
    assert not redactor
    assert redactor.redact("run the test suite") == "run the test suite"
    assert SecretRedactor().redact(KEY) == KEY


def test_a_key_cut_by_truncation_is_redacted_at_the_cut() -> None:
    redactor = SecretRedactor({"ANTHROPIC_API_KEY": KEY})
    head = f"HOME=/root\nANTHROPIC_API_KEY={KEY[:20]}"
    tail = f"{KEY[-15:]}\nPATH=/bin"
    text = f"{head}\n[... 4000 characters truncated ...]\n{tail}"
    out = redactor.redact(text)
    assert KEY[:20] not in out and KEY[-15:] not in out
    assert out == (
        "HOME=/root\nANTHROPIC_API_KEY=[REDACTED:ANTHROPIC_API_KEY]\n"
        "[... 4000 characters truncated ...]\n[REDACTED:ANTHROPIC_API_KEY]\n"
        "PATH=/bin"
    )


def test_fragments_that_are_not_at_a_line_edge_or_too_short_are_left_alone() -> None:
    redactor = SecretRedactor({"ANTHROPIC_API_KEY": KEY})
    short = KEY[: MIN_FRAGMENT - 1]
    assert redactor.redact(f"prefix {short}\n") == f"prefix {short}\n"
    # Another key with the same vendor prefix is not this key.
    other = "sk-ant-api03-ZZZZZZZZZZZZ"
    assert redactor.redact(f"x={other}\n") == f"x={other}\n"


def test_json_like_data_is_redacted_throughout() -> None:
    redactor = SecretRedactor({"K": KEY})
    data = {"message": f"bad key {KEY}", "nested": [KEY, 3, None], "n": 1}
    assert redactor.redact_data(data) == {
        "message": "bad key [REDACTED:K]",
        "nested": ["[REDACTED:K]", 3, None],
        "n": 1,
    }
