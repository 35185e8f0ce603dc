"""One prompt history for the app and ``tau --line``: each keeps the other's prompts."""

from __future__ import annotations

from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.history import FileHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from tau_tui.repl import shared_history
from tau_tui.widgets.prompt_history import PromptHistory


def test_the_app_and_the_line_repl_read_and_keep_each_others_prompts(tmp_path: Path) -> None:
    path = tmp_path / "prompt_history"
    app = PromptHistory(path)
    app.load()
    app.add("from the app\nwith a second line")
    app.save()
    repl = shared_history(path)
    assert list(repl.load_history_strings()) == ["from the app\nwith a second line"]
    repl.store_string("from the repl")
    app.add("the app again")
    app.save()  # appends: the repl's prompt written meanwhile stays
    assert PromptHistory(path).load() == [
        "from the app\nwith a second line",
        "from the repl",
        "the app again",
    ]


def test_two_open_front_ends_never_erase_each_other(tmp_path: Path) -> None:
    path = tmp_path / "prompt_history"
    first, second = PromptHistory(path), PromptHistory(path)
    first.load()
    second.load()
    first.add("one")
    first.save()
    second.add("two")
    second.save()
    first.add("three")
    first.save()
    assert PromptHistory(path).load() == ["one", "two", "three"]


def test_prompts_from_the_old_line_history_format_are_read(tmp_path: Path) -> None:
    path = tmp_path / "prompt_history"
    old = FileHistory(str(path))  # what tau --line wrote before the formats were one
    old.store_string("old prompt\nof two lines")
    old.store_string("another")
    history = PromptHistory(path)
    assert history.load() == ["old prompt\nof two lines", "another"]
    history.add("new")
    history.save()
    assert PromptHistory(path).load() == ["old prompt\nof two lines", "another", "new"]


def test_a_long_history_is_compacted_to_its_newest_entries(tmp_path: Path) -> None:
    path = tmp_path / "prompt_history"
    history = PromptHistory(path, limit=5)
    for i in range(12):
        history.add(f"prompt {i}")
        history.save()
    assert len(path.read_text().splitlines()) <= 10
    assert PromptHistory(path, limit=5).load() == [f"prompt {i}" for i in range(7, 12)]


async def test_a_real_prompt_toolkit_session_writes_the_shared_file(tmp_path: Path) -> None:
    path = tmp_path / "prompt_history"
    earlier = PromptHistory(path)
    earlier.add("typed in the app")
    earlier.save()
    with create_pipe_input() as pipe:
        session: PromptSession[str] = PromptSession(
            input=pipe, output=DummyOutput(), history=shared_history(path)
        )
        pipe.send_text("typed in the repl\r")
        assert await session.prompt_async("tau> ") == "typed in the repl"
        assert "typed in the app" in session.history.get_strings()
    assert PromptHistory(path).load() == ["typed in the app", "typed in the repl"]


def test_tau_line_with_a_prompt_remembers_it(workspace: Path) -> None:
    """On a real terminal: tau --line PROMPT answers it first and keeps it in the history."""
    import os
    import pty
    import select
    import subprocess
    import time

    from tests.cli.tau_process import TAU, tau_env

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [*TAU, "--line", "--model", "offline/echo", "first from the cli"],
        cwd=workspace,
        env=tau_env(TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1"),
        stdin=slave,
        stdout=slave,
        stderr=slave,
    )
    os.close(slave)
    seen = b""
    try:
        deadline = time.monotonic() + 60
        while b"tau>" not in seen.partition(b"'first from the cli'")[2]:
            assert time.monotonic() < deadline and proc.poll() is None, seen
            if select.select([master], [], [], 0.1)[0]:
                seen += os.read(master, 4096)
        os.write(master, b"\x04")  # Ctrl+D on the empty prompt leaves
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    history = PromptHistory(workspace / ".tau" / "prompt_history")
    assert history.load() == ["first from the cli"]
