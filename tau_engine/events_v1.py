"""Reading schema v1 events: how a v1 row becomes the v2 event it is read as.

Logs are never rewritten: a session recorded by an older tau keeps its v1 rows
in ``.tau/tau.db`` and in its exports, and ``events.EventReader`` upgrades them
here as they are read. What changed from v1 (``docs/events.md`` has the table):

- v1's ``session_started`` and ``session_finished`` came once per prompt: they are
  read as ``run_started`` and ``run_finished``. v1 had no run ids; a run read from a
  v1 log is called ``v1-<seq of its run_started>`` (``v1-unknown`` for a
  ``run_finished`` whose start the reader did not see).
- A notice's free-form ``kind`` becomes a ``NoticeKind``; a kind this tau does not
  know is read as ``info`` with the old kind in front of the message. Its ``data``
  dict becomes the kind's typed model (``from``/``to`` are now ``from_route`` and
  ``to_route``, the error's ``kind`` is ``error_kind``), or is dropped if it does
  not fit.
- A ``tool_call`` has an empty ``label``.

Every other v1 event has the v2 shape already. This module works on plain dicts
and imports no event model, so ``events.py`` can use it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from tau_engine.event_kinds import NOTICE_DATA, NoticeKind

V1_RUN_PREFIX = "v1-"
UNKNOWN_V1_RUN = "v1-unknown"

RUN_BOUNDARY_TYPES = ("session_started", "session_finished", "run_started", "run_finished")
"""The stored types that open or close a run, in v1 or v2: a reader that starts in the
middle of a log looks back for the last of them (``events.EventReader.after``)."""

_DATA_NAMES_V1 = {"from": "from_route", "to": "to_route", "kind": "error_kind"}
"""How a v1 notice's data keys are called in v2 (the others kept their names)."""


def v1_run_id(seq: int) -> str:
    """The run id a v1 run is read with: from the seq of its ``session_started``."""
    return f"{V1_RUN_PREFIX}{seq}"


def is_v1(raw: dict[str, Any]) -> bool:
    return raw.get("v") == 1


class V1Upgrade:
    """Turns v1 rows, read in ``seq`` order, into v2 dicts. It remembers the v1 run it
    is in, so a run's ``run_finished`` gets the id of its ``run_started``."""

    def __init__(self, run_id: str = "") -> None:
        self.run_id = run_id

    @classmethod
    def after(cls, boundary: dict[str, Any] | None) -> V1Upgrade:
        """For rows that follow ``boundary`` (the last of ``RUN_BOUNDARY_TYPES`` before
        them): inside a v1 run, the upgrade knows that run's id."""
        if boundary is not None and is_v1(boundary) and boundary.get("type") == "session_started":
            seq = boundary.get("seq")
            return cls(v1_run_id(seq if isinstance(seq, int) else 0))
        return cls()

    def upgrade(self, raw: dict[str, Any], version: int) -> dict[str, Any]:
        """The v2 form of the v1 event ``raw`` (stamped ``v: version``)."""
        body = {**raw, "v": version}
        kind = raw.get("type")
        if kind == "session_started":
            seq = raw.get("seq")
            self.run_id = v1_run_id(seq if isinstance(seq, int) else 0)
            body.update(type="run_started", run_id=self.run_id)
        elif kind == "session_finished":
            body.update(type="run_finished", run_id=self.run_id or UNKNOWN_V1_RUN)
            self.run_id = ""
        elif kind == "notice":
            body.update(_notice_v1(raw))
        return body


def _notice_v1(raw: dict[str, Any]) -> dict[str, Any]:
    name = str(raw.get("kind", ""))
    message = str(raw.get("message", ""))
    try:
        kind = NoticeKind(name)
    except ValueError:
        kind = NoticeKind.INFO
        message = f"{name}: {message}" if name else message
    data = raw.get("data")
    typed: BaseModel | None = None
    model = NOTICE_DATA.get(kind)
    if model is not None and isinstance(data, dict) and data:
        renamed = {_DATA_NAMES_V1.get(key, key): value for key, value in data.items()}
        try:
            typed = model.model_validate(renamed)
        except ValidationError:
            typed = None
    return {"kind": kind, "message": message, "data": typed}
