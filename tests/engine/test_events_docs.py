"""``docs/events.md`` describes the whole schema: every event class of the union (its
section, each of its fields), every notice kind and the data each carries, every
mission phase and outcome."""

from __future__ import annotations

import json
import re
import shlex
import typing
from pathlib import Path

from pydantic import BaseModel

from tau_engine.event_kinds import NOTICE_DATA, MissionOutcome, MissionPhase, NoticeKind
from tau_engine.events import SCHEMA_VERSION, BaseEvent, Event

DOC = (Path(__file__).resolve().parents[2] / "docs" / "events.md").read_text()


def _sections() -> dict[str, str]:
    """The text under each ``### `type``` heading, by type."""
    parts = re.split(r"^### `([a-z_]+)`\n", DOC, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def _table_keys(text: str) -> list[str]:
    """The first column of the markdown tables in ``text`` (one `code` name per row)."""
    return re.findall(r"^\| `([a-z_0-9-]+)` \|", text, flags=re.M)


def _first_table(text: str) -> str:
    """The first markdown table of ``text`` (the fields of an event's section)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return "\n".join(lines[start:end])


def _event_classes() -> list[type[BaseEvent]]:
    return list(typing.get_args(Event))


def test_the_doc_is_for_this_schema_version() -> None:
    assert DOC.startswith(f"# Events (schema v{SCHEMA_VERSION})")


def test_every_event_class_has_its_section_and_only_those() -> None:
    types = [cls.model_fields["type"].default for cls in _event_classes()]
    assert len(types) == len(set(types)) == len(_event_classes())
    assert sorted(_sections()) == sorted(types)


def test_every_field_of_every_event_is_described() -> None:
    common = set(_table_keys(DOC.split("## Fields every event has", 1)[1].split("##", 1)[0]))
    assert common == set(BaseEvent.model_fields)
    sections = _sections()
    for cls in _event_classes():
        name = cls.model_fields["type"].default
        own = [f for f in cls.model_fields if f not in BaseEvent.model_fields]
        assert _table_keys(_first_table(sections[name])) == own, name


def test_every_notice_kind_and_its_data_are_listed() -> None:
    notice = _sections()["notice"]
    kinds_table, data_table = notice.split("The kinds with `data`:", 1)
    assert _table_keys(kinds_table.split("The notice kinds are", 1)[1]) == [
        kind.value for kind in NoticeKind
    ]
    rows = dict(re.findall(r"^\| `([a-z_]+)` \| (.+) \|$", data_table, flags=re.M))
    assert set(rows) == {kind.value for kind in NOTICE_DATA}
    for kind, model in NOTICE_DATA.items():
        assert re.findall(r"`([a-z_]+)`", rows[kind.value]) == list(_fields(model)), kind


def _fields(model: type[BaseModel]) -> list[str]:
    return list(model.model_fields)


def test_every_mission_phase_and_outcome_is_listed() -> None:
    rows = dict(
        re.findall(r"^\| `([a-z_]+)` \| (.+) \|$", _sections()["mission_phase"], flags=re.M)
    )
    assert re.findall(r"`([a-z-]+)`", rows["phase"]) == [p.value for p in MissionPhase]
    assert re.findall(r"`([a-z-]+)`", rows["outcome"]) == [o.value for o in MissionOutcome]


def test_the_documented_run_is_what_tau_p_prints(workspace: Path) -> None:
    from tests.cli.tau_process import run_tau

    example = re.search(r"```bash\n(tau -p .*?)\n```", DOC)
    assert example is not None
    proc = run_tau(shlex.split(example[1])[1:], workspace)
    assert proc.returncode == 0, proc.stderr
    types = [json.loads(line)["type"] for line in proc.stdout.splitlines()]
    collapsed = [t for i, t in enumerate(types) if i == 0 or t != types[i - 1]]
    listed = re.search(r"produces, in order:\n\n```\n(.*?)```", DOC, flags=re.S)
    assert listed is not None
    documented = [t.strip().rstrip("…") for t in listed[1].replace("\n", " ").split("·")]
    assert collapsed == documented
