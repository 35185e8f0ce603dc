"""Reading event logs: v2 events as they are, v1 events upgraded to v2.

Logs are never rewritten: a session recorded by an older tau keeps its v1 rows
in ``.tau/tau.db`` and in its exports, and they are upgraded as they are read.
What changed from v1 (``docs/events.md`` has the table):

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

Every other v1 event has the v2 shape already. A parsed event always says
``v: 2``: it is a v2 model, whatever it was written as.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ValidationError

from tau_engine.event_kinds import NOTICE_DATA, NoticeKind
from tau_engine.events import EVENT_ADAPTER, SCHEMA_VERSION, Event

V1_RUN_PREFIX = "v1-"
UNKNOWN_V1_RUN = "v1-unknown"

RUN_BOUNDARY_TYPES = ("session_started", "session_finished", "run_started", "run_finished")
"""The stored types that open or close a run, in v1 or v2: where ``EventReader.after`` looks."""

_DATA_NAMES_V1 = {"from": "from_route", "to": "to_route", "kind": "error_kind"}
"""How a v1 notice's data keys are called in v2 (the others kept their names)."""


def v1_run_id(seq: int) -> str:
    """The run id a v1 run is read with: from the seq of its ``session_started``."""
    return f"{V1_RUN_PREFIX}{seq}"


class EventReader:
    """Reads one session's log in ``seq`` order, upgrading v1 events.

    A reader remembers the v1 run it is in, so the ``run_finished`` of a v1 run gets
    the id of its ``run_started``. A reader that starts in the middle of a v1 run
    (reading after a given ``seq``) is told that run's id as ``v1_run_id``."""

    def __init__(self, *, v1_run_id: str = "") -> None:
        self._v1_run = v1_run_id

    @classmethod
    def after(cls, boundary: dict[str, Any] | str | bytes | None) -> EventReader:
        """A reader for the events after ``boundary``: the last event before them of the
        types in ``RUN_BOUNDARY_TYPES`` (None when there is none). Inside a v1 run, the
        reader knows that run's id."""
        if boundary is None:
            return cls()
        raw = boundary if isinstance(boundary, dict) else json.loads(boundary)
        if isinstance(raw, dict) and raw.get("v") == 1 and raw.get("type") == "session_started":
            seq = raw.get("seq")
            return cls(v1_run_id=v1_run_id(seq if isinstance(seq, int) else 0))
        return cls()

    def read(self, data: dict[str, Any] | str | bytes) -> Event:
        """The typed event of one stored or stream-json event (``ValidationError`` or
        ``ValueError`` if it is not one)."""
        if isinstance(data, dict):
            raw = data
        else:
            try:
                event = EVENT_ADAPTER.validate_json(data)
            except ValidationError as exc:
                try:
                    raw = json.loads(data)
                except ValueError:
                    raise exc from None
                if not isinstance(raw, dict):
                    raise
            else:
                if event.v == SCHEMA_VERSION:
                    return event
                raw = json.loads(data)
        if raw.get("v") == 1:
            return self._upgrade(raw)
        return EVENT_ADAPTER.validate_python(raw)

    def _upgrade(self, raw: dict[str, Any]) -> Event:
        body = {**raw, "v": SCHEMA_VERSION}
        kind = raw.get("type")
        if kind == "session_started":
            seq = raw.get("seq")
            self._v1_run = v1_run_id(seq if isinstance(seq, int) else 0)
            body.update(type="run_started", run_id=self._v1_run)
        elif kind == "session_finished":
            body.update(type="run_finished", run_id=self._v1_run or UNKNOWN_V1_RUN)
            self._v1_run = ""
        elif kind == "notice":
            body.update(_notice_v1(raw))
        return EVENT_ADAPTER.validate_python(body)


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
