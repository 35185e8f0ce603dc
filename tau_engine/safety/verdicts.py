"""Verdicts and their causes: the vocabulary every safety decision is written in."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from tau_engine.safety.toml_lines import Source

Verdict = Literal["allow", "ask", "deny"]
RANK: dict[str, int] = {"allow": 0, "ask": 1, "deny": 2}


def strictest(*verdicts: Verdict) -> Verdict:
    """The strictest of some verdicts (deny > ask > allow)."""
    return max(verdicts, key=lambda v: RANK[v])


@dataclass(frozen=True, slots=True)
class Cause:
    """What decided a verdict: a rule or a setting, where it is written, and why."""

    label: str
    source: Source | None
    why: str
    allow_rule: str | None = None

    def cite(self) -> str:
        return f"{self.label} from {self.source}" if self.source else self.label


@dataclass(frozen=True, slots=True)
class PartDecision:
    """The verdict on one part of a call (one command, one write, one subject)."""

    part: str
    kind: Literal["command", "write", "unresolved", "subject", "call"]
    verdict: Verdict
    cause: Cause
    argv: tuple[str, ...] = ()
    wrappers: tuple[str, ...] = ()


def strictest_cause(results: Iterable[tuple[Verdict, Cause]]) -> tuple[Verdict, Cause]:
    """The strictest of several (verdict, cause) pairs; the first one on a tie."""
    best: tuple[Verdict, Cause] | None = None
    for verdict, cause in results:
        if best is None or RANK[verdict] > RANK[best[0]]:
            best = (verdict, cause)
    assert best is not None
    return best
