"""The shell parse tree: static word values, every nested command, writes and unknowns."""

from __future__ import annotations

import pytest

from tau_engine.safety.rules import Fit, match_words, shell_tokens
from tau_engine.safety.shell_commands import analyze_shell
from tau_engine.safety.shell_parse import Word, parse_shell


def _values(command: str) -> list[list[str | None]]:
    return [[w.value for w in c.words] for c in parse_shell(command).commands]


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("'r''m' -rf x", ["rm", "-rf", "x"]),
        ('"a\\"b" c\\ d', ['a"b', "c d"]),
        ("$'\\x72\\x6d' $'a\\nb' $'\\101'", ["rm", "a\nb", "A"]),
        ("echo $HOME ${X:-y} $(id) `id` $((1+2))", ["echo", None, None, None, None, None]),
        ("echo pre$HOME 'a'\"$b\"", ["echo", None, None]),
        ("r{m,x} {1..3}", [None, None]),
    ],
)
def test_static_word_values(command: str, expected: list[str | None]) -> None:
    assert _values(command)[0] == expected


def test_globs_are_marked_but_quoted_stars_are_not() -> None:
    words = parse_shell("ls *.py '*.md' x[12]").commands[0].words
    assert [(w.value, w.glob) for w in words] == [
        ("ls", False),
        ("*.py", True),
        ("*.md", False),
        ("x[12]", True),
    ]


def test_every_nested_command_is_found() -> None:
    script = parse_shell(
        "a && b || c; d | e & (f); { g; }; k $(h `i`) <<E\n$(j)\nE\nif l; then m; fi; n() { o; }"
    )
    names = sorted(c.words[0].value or "" for c in script.commands)
    assert names == list("abcdefghijklmo")  # n is defined, not run


def test_writes_and_fd_duplications() -> None:
    writes = [
        (r.op, r.target.value)
        for r in analyze_shell(
            "a > f1 2>&1 >&2 >> f2 &> f3 >| f4 <in >&- >& f6; cat <<E > f7\nx\nE"
        ).writes
    ]
    assert writes == [
        (">", "f1"),
        (">>", "f2"),
        ("&>", "f3"),
        (">|", "f4"),
        (">&", "f6"),
        (">", "f7"),
    ]
    # The grammar does not know the read-write redirection: it fails closed.
    assert analyze_shell("a 3<> f5").concerns


def test_wrappers_are_unwrapped_and_kept() -> None:
    parts = analyze_shell("sudo -u root env A=1 timeout -k 2 5 nice -10 nohup ls -l").parts
    assert len(parts) == 1
    assert [w.value for w in parts[0].argv] == ["ls", "-l"]
    assert [[w.value for w in ws] for ws in parts[0].wrappers] == [
        ["sudo", "-u", "root"],
        ["env", "A=1"],
        ["timeout", "-k", "2", "5"],
        ["nice", "-10"],
        ["nohup"],
    ]


def test_bash_c_literal_is_parsed_and_depth_is_bounded() -> None:
    analysis = analyze_shell("bash -c 'ls; rm x'")
    assert [p.name for p in analysis.parts] == ["ls", "rm"]
    deep = "bash -c " + '\'bash -c "bash -c \\"bash -c ls\\""\''
    assert any("nested" in c.reason for c in analyze_shell(deep).concerns)


def test_cd_targets_are_collected() -> None:
    analysis = analyze_shell('cd sub && pushd /x; cd; cd "$D"')
    assert [w.value for w in analysis.cwd_targets] == ["sub", "/x", "~", None]


@pytest.mark.parametrize(
    ("pattern", "words", "open_args", "for_allow", "fit"),
    [
        ("rm * / *", ["rm", "-rf", "/"], False, False, Fit.YES),
        ("rm * / *", ["rm", "-rf", None], False, False, Fit.MAYBE),
        ("rm * / *", ["rm", "-rf"], True, False, Fit.MAYBE),
        ("rm * / *", ["rm", "-rf", "build"], False, False, Fit.NO),
        ("ls *", ["ls", None], False, True, Fit.YES),
        ("git status", ["git", "status", None], False, True, Fit.MAYBE),
        ("git status", ["git", "status"], True, True, Fit.MAYBE),
        ("grep *", ["grep", "x"], True, True, Fit.YES),
        ("ls *", ["/usr/bin/ls"], False, True, Fit.YES),
        ("ls *", ["./ls"], False, True, Fit.NO),
        ("rm * / *", ["./tools/rm", "/"], False, False, Fit.YES),
        ("git * -c *", ["git", "-C", ".", "-c", "a=b", "log"], False, False, Fit.YES),
    ],
)
def test_pattern_fit(
    pattern: str, words: list[str | None], open_args: bool, for_allow: bool, fit: Fit
) -> None:
    built = tuple(Word(w or "$X", w) for w in words)
    assert (
        match_words(shell_tokens(pattern), built, open_args=open_args, for_allow=for_allow) is fit
    )
