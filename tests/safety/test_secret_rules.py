"""Secret detectors: a positive and a negative corpus, only the secret replaced, no re-flagging."""

from __future__ import annotations

import random
import string
from pathlib import Path

import pytest

from tau_engine.errors import ConfigError
from tau_engine.safety.secret_rules import (
    Finding,
    SecretScanner,
    default_scanner,
    merge_findings,
    redact,
    scan,
    secret_digest,
)

_RNG = random.Random(20261201)


def _rand(size: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    # Fake keys are built at run time, so no secret-shaped literal sits in the repository.
    return "".join(_RNG.choice(alphabet) for _ in range(size))


_AWS = "AKIA" + _rand(16, string.ascii_uppercase + "234567")
_GH = "ghp_" + _rand(36)
_ANTHROPIC = "sk-ant-api03-" + _rand(93, string.ascii_letters + string.digits + "_-") + "AA"
_OPENAI = "sk-proj-" + _rand(60, string.ascii_letters + string.digits + "_-")
_OPENROUTER = "sk-or-v1-" + _rand(64, "0123456789abcdef")
_JWT = "eyJ" + _rand(30) + ".eyJ" + _rand(40) + "." + _rand(43, string.ascii_letters + "_-")
_PEM = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    + "\n".join(_rand(70) for _ in range(5))
    + "\n-----END OPENSSH PRIVATE KEY-----"
)

POSITIVE: list[tuple[str, str, str | None]] = [
    ("aws-access-key", f"AWS_ACCESS_KEY_ID={_AWS}", _AWS),
    ("aws-access-key", "temp creds: ASIA" + "Q" * 4 + _AWS[8:], "ASIAQQQQ" + _AWS[8:]),
    ("github-token", f"export GITHUB_TOKEN={_GH}", _GH),
    ("github-token", "gho_" + _GH[4:], "gho_" + _GH[4:]),
    ("github-fine-grained-token", "t=github_pat_" + _rand(82, string.ascii_letters + "_"), None),
    ("gitlab-token", "glpat-" + _rand(20, string.ascii_letters + "_-"), None),
    ("anthropic-api-key", f'{{"x-api-key": "{_ANTHROPIC}"}}', _ANTHROPIC),
    ("openai-api-key", f"OPENAI_API_KEY={_OPENAI}", _OPENAI),
    ("openrouter-api-key", f"Authorization: Bearer {_OPENROUTER}", _OPENROUTER),
    (
        "slack-token",
        "xoxb-" + _rand(10, string.digits) + "-" + _rand(12, string.digits) + "-" + _rand(24),
        None,
    ),
    (
        "slack-webhook",
        "https://hooks.slack.com/services/T" + _rand(8) + "/B" + _rand(8) + "/" + _rand(24),
        None,
    ),
    ("google-api-key", "key=AIza" + _rand(35, string.ascii_letters + string.digits + "_-"), None),
    ("stripe-key", "sk_live_" + _rand(24), None),
    ("jwt", f"cookie: session={_JWT};", _JWT),
    ("private-key", f"id_ed25519:\n{_PEM}\n", _PEM),
    ("npm-token", "//registry.npmjs.org/:_authToken=npm_" + _rand(36), None),
    ("huggingface-token", "HF_TOKEN=hf_" + _rand(34, string.ascii_letters), None),
    (
        "basic-auth-url",
        "DATABASE_URL=postgres://app:" + "S3cr" + _rand(12) + "@db.example.com:5432/app",
        None,
    ),
    ("generic-secret", 'db_password = "' + _rand(18) + '"', None),
    ("generic-secret", 'config = {"api_token": "' + _rand(24) + '"}', None),
    ("generic-secret", "SECRET_KEY: " + _rand(32), None),
]

NEGATIVE = [
    "def get_token(self):\n    token = self.session.get_token()\n    return token\n",
    "api_key = os.environ['API_KEY']",
    "password: str = Field(..., min_length=8)",
    "self.key = key; secret = None",
    "commit 3f786850e387550fdab836ed7e6dc881de23001b\nAuthor: Alice <alice@example.com>",
    'request_id="123e4567-e89b-12d3-a456-426614174000"',
    "sha256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'",
    "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE",
    "API_KEY=your_api_key_here",
    "SECRET_KEY=xxxxxxxxxxxxxxxxxxxx",
    "token=<YOUR_TOKEN>",
    "token: ${GITHUB_TOKEN}",
    "password = '{{ vault_password }}'",
    "key = abcdefghijklmnop",
    "key = 1234567890123456",
    "api_key=REDACTED_BY_POLICY_2024",
    "The key point is that passwords: should be long and rotated.",
    "secret_version = some.module.attribute_name",
    "token_type=authorization_code&grant_type=client_credentials",
    "sk-learn is not a key, nor is sk-12.",
    '"integrity": "sha512-1NmbcM5rd1HpE1yl9XzdCLyDUNyprB2fDBvO3L8ewGZ3kdqTlBw/7idUfYCbTiIFPw=="',
    "Visit https://example.com/path?page=2 for docs",
    "import { useAuthToken } from './hooks/useAuthToken';",
    "export KEY_FILE=/home/alice/.config/app/keys/production.pem",
    "AWS_ACCESS_KEY_ID=[REDACTED:aws-access-key]",
]


@pytest.mark.parametrize(
    ("kind", "text", "secret"), POSITIVE, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(POSITIVE)]
)
def test_positive_corpus_replaces_only_the_secret(kind: str, text: str, secret: str | None) -> None:
    result = scan(text, [default_scanner()])
    assert [f.kind for f in result.findings] == [kind], result.text
    assert f"[REDACTED:{kind}]" in result.text
    if secret is not None:
        assert secret not in result.text
        assert result.text == text.replace(secret, f"[REDACTED:{kind}]")
        assert result.findings[0].digest == secret_digest(secret)


@pytest.mark.parametrize("text", NEGATIVE)
def test_negative_corpus_is_left_alone(text: str) -> None:
    assert default_scanner().find(text) == [], text


def test_redaction_is_idempotent_and_markers_are_never_reflagged() -> None:
    text = "\n".join(t for _, t, _ in POSITIVE)
    once = scan(text, [default_scanner()])
    assert len(once.findings) == len(POSITIVE)
    twice = scan(once.text, [default_scanner()])
    assert twice.findings == () and twice.text == once.text


def test_findings_carry_kind_and_hash_never_the_value() -> None:
    finding = default_scanner().find(f"x={_GH}")[0]
    record = finding.audit()
    assert record == {"kind": "github-token", "hash": secret_digest(_GH)}
    assert _GH not in repr(record) and record["hash"].startswith("sha256:")


def test_block_and_warn_actions() -> None:
    text = f"token {_GH} here"
    blocked = scan(text, [default_scanner()], action="block")
    assert blocked.blocked and _GH not in blocked.text and "github-token" in blocked.text
    warned = scan(text, [default_scanner()], action="warn")
    assert warned.text == text and [f.kind for f in warned.findings] == ["github-token"]


class _ExactValues:
    """A second detector, as the exact-value redactor of the user's own keys would be."""

    def __init__(self, values: list[str]) -> None:
        self.values = values

    def find(self, text: str) -> list[Finding]:
        found = []
        for value in self.values:
            start = text.find(value)
            while start >= 0:
                found.append(
                    Finding("user-secret", start, start + len(value), secret_digest(value))
                )
                start = text.find(value, start + 1)
        return found


def test_detectors_compose_and_overlaps_keep_the_longest() -> None:
    own = "correct-horse-battery"
    text = f"pw={own} and {_GH}"
    result = scan(text, [default_scanner(), _ExactValues([own, _GH[:10]])])
    assert result.text == "pw=[REDACTED:user-secret] and [REDACTED:github-token]"
    merged = merge_findings(
        [
            Finding("a", 0, 5, "h"),
            Finding("b", 0, 9, "h"),
            Finding("c", 7, 12, "h"),
            Finding("d", 9, 11, "h"),
        ]
    )
    assert [(f.kind, f.start, f.end) for f in merged] == [("b", 0, 9), ("d", 9, 11)]
    assert redact("0123456789ab", merged) == "[REDACTED:b][REDACTED:d]b"


def test_unicode_text_keeps_its_offsets() -> None:
    text = f"clé: «{_GH}» — fin"
    assert scan(text, [default_scanner()]).text == "clé: «[REDACTED:github-token]» — fin"
    # RE2 runs over UTF-8 bytes; 2-, 3- and 4-byte characters before, between and after.
    text = f"é {_AWS} 日本 🔑{_GH}🔑 ñ {_JWT} ✓"
    assert scan(text, [default_scanner()]).text == (
        "é [REDACTED:aws-access-key] 日本 🔑[REDACTED:github-token]🔑 ñ [REDACTED:jwt] ✓"
    )


def test_a_pathological_input_scans_in_linear_time() -> None:
    # Catastrophic-backtracking bait for a backtracking engine; RE2 does not backtrack.
    bait = "key=" + "a" * 50_000 + "!" + ("token: " + "=" * 20_000)
    assert isinstance(default_scanner().find(bait), list)


def test_bad_rule_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text('[[rule]]\nid = "x"\nregex = "(a"\n')
    with pytest.raises(ConfigError, match="secret rule x: invalid regex"):
        SecretScanner.from_file(path)
    path.write_text('[[rule]]\nid = "Bad Id"\nregex = "a"\n')
    with pytest.raises(ConfigError, match=r"rule.0.id"):
        SecretScanner.from_file(path)


def test_composes_with_the_exact_value_redactor() -> None:
    # The user's own key goes first (exact values, named by variable), then the detectors;
    # neither re-flags the other's marker.
    from tau_engine.safety.redact import SecretRedactor

    own = "sk-proj-" + _rand(60, string.ascii_letters + string.digits)
    text = f"OPENAI_API_KEY={own}\nleaked: {_GH}\n"
    first = SecretRedactor({"OPENAI_API_KEY": own}).redact(text)
    result = scan(first, [default_scanner()])
    assert result.text == (
        "OPENAI_API_KEY=[REDACTED:OPENAI_API_KEY]\nleaked: [REDACTED:github-token]\n"
    )
    assert [f.kind for f in result.findings] == ["github-token"]
    assert scan(result.text, [default_scanner()]).findings == ()
