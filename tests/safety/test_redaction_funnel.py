"""The one redaction funnel: exact values first, then the detectors, the profile's action."""

from __future__ import annotations

from tau_engine.conversation import Message, ToolCall
from tau_engine.event_kinds import FallbackNote, NoticeKind
from tau_engine.events import EventBus, Notice, ToolCallEvent
from tau_engine.providers.base import ProviderRequest
from tau_engine.providers.redacting import redact_request
from tau_engine.safety.redact import SecretRedactor
from tau_engine.safety.redaction import RedactionFilter, is_secret_name, secret_values
from tau_engine.safety.secret_rules import Finding

OWN = "correct-horse-battery-staple-42"
GH = "ghp_" + "aB3dE5gH7jK9mN1pQ3sT5vX7zA9cE1gI3kM5"


def _filter(**kwargs: object) -> tuple[RedactionFilter, list[tuple[list[Finding], str]]]:
    seen: list[tuple[list[Finding], str]] = []
    funnel = RedactionFilter(
        SecretRedactor({"DB_PASSWORD": OWN}),
        **kwargs,  # type: ignore[arg-type]
        on_findings=lambda f, where: seen.append((f, where)),
    )
    return funnel, seen


def test_exact_values_then_detectors_and_each_finding_reported() -> None:
    funnel, seen = _filter()
    out = funnel.filter(f"password={OWN}\ntoken {GH}\n")
    assert out.text == "password=[REDACTED:DB_PASSWORD]\ntoken [REDACTED:github-token]\n"
    assert [f.kind for f in out.exact] == ["DB_PASSWORD"]
    assert [f.kind for f in out.findings] == ["github-token"]
    [(findings, where)] = seen
    assert where == "tool result" and all(f.digest.startswith("sha256:") for f in findings)
    assert funnel.filter(out.text).findings == ()  # markers are never flagged again


def test_warn_keeps_detected_text_but_never_the_users_own_values() -> None:
    funnel, seen = _filter(action="warn")
    text = f"{OWN} {GH}"
    assert funnel.redact(text) == f"[REDACTED:DB_PASSWORD] {GH}"
    assert funnel.filter(text).text == f"[REDACTED:DB_PASSWORD] {GH}"
    assert len(seen) == 2


def test_block_withholds_a_tool_result_but_redacts_everything_else() -> None:
    funnel, _ = _filter(action="block")
    blocked = funnel.filter(f"token {GH}")
    assert blocked.blocked and blocked.text.startswith("[withheld: this text contained 1")
    assert funnel.redact(f"token {GH}") == "token [REDACTED:github-token]"


def test_long_texts_are_scanned_once() -> None:
    funnel, seen = _filter()
    text = ("log line\n" * 100) + GH
    assert funnel.redact(text) == funnel.redact(text)
    assert len(seen) == 1  # the second call came from the cache


def test_event_fields_are_redacted_in_place_before_any_sink() -> None:
    funnel, _ = _filter()
    bus = EventBus("s")
    got: list[object] = []
    bus.set_filter(lambda event: funnel.redact_fields(event.__dict__, where=event.type))
    bus.subscribe(got.append)
    bus.emit(ToolCallEvent(call_id="c1", name="bash", arguments={"command": f"echo {GH}"}))
    bus.emit(
        Notice(
            kind=NoticeKind.FALLBACK,
            message=f"server said {OWN}",
            data=FallbackNote(
                from_route="a/x", to_route="b/y", reason=f"echo {GH}", error_kind="server"
            ),
        )
    )
    call, notice = got
    assert call.arguments == {"command": "echo [REDACTED:github-token]"}  # type: ignore[attr-defined]
    assert notice.message == "server said [REDACTED:DB_PASSWORD]"  # type: ignore[attr-defined]
    # A notice's typed data is redacted too.
    assert notice.data.reason == "echo [REDACTED:github-token]"  # type: ignore[attr-defined]


def test_a_request_body_is_redacted_but_provider_data_round_trips() -> None:
    funnel, _ = _filter()
    signature = "EqQBCkYIBxgCKkB" + "x9" * 40
    request = ProviderRequest(
        model="m",
        system=f"key {OWN}",
        messages=[
            Message(role="user", content=f"use {GH}"),
            Message(
                role="assistant",
                content="",
                extra={"thinking_signature": signature},
                tool_calls=[ToolCall(id="t1", name="bash", arguments={"command": OWN})],
            ),
        ],
    )
    sent = redact_request(request, funnel)
    assert sent.system == "key [REDACTED:DB_PASSWORD]"
    assert sent.messages[0].content == "use [REDACTED:github-token]"
    assert sent.messages[1].tool_calls[0].arguments == {"command": "[REDACTED:DB_PASSWORD]"}
    assert sent.messages[1].extra == {"thinking_signature": signature}
    clean = ProviderRequest(model="m", system="s", messages=[Message(role="user", content="hi")])
    assert redact_request(clean, funnel) is clean


def test_secret_names_and_values() -> None:
    for name in (
        "OPENAI_API_KEY",
        "GITHUB_TOKEN",
        "AWS_SECRET_ACCESS_KEY",
        "DB_PASSWORD",
        "DATABASE_URL",
        "GH_PAT",
        "STRIPE_SECRET_KEY",
    ):
        assert is_secret_name(name), name
    for name in (
        "PWD",
        "OLDPWD",
        "SSH_AUTH_SOCK",
        "KEYBOARD",
        "GIT_AUTHOR_NAME",
        "HOME",
        "PATH",
        "TAU_CONFIG_DIR",
        "GOOGLE_APPLICATION_CREDENTIALS_FILE",
    ):
        assert not is_secret_name(name), name
    assert secret_values({"HOME": "/root", "API_TOKEN": "abc"}, {"DB_PASSWORD": "x" * 9}) == [
        ("API_TOKEN", "abc"),
        ("DB_PASSWORD", "x" * 9),
    ]
