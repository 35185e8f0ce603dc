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
        "from the app\nwith a second line", "from the repl", "the app again"]


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
        session: PromptSession[str] = PromptSession(input=pipe, output=DummyOutput(),
                                                    history=shared_history(path))
        pipe.send_text("typed in the repl\r")
        assert await session.prompt_async("tau> ") == "typed in the repl"
        assert "typed in the app" in session.history.get_strings()
    assert PromptHistory(path).load() == ["typed in the app", "typed in the repl"]
