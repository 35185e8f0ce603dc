"""The post-call filters of the tool pipeline, in the order they run.

1. :class:`OutputCapFilter`: no result is longer than the output cap (tools cap their own
   output; this holds for any tool, such as those a server adds later).
2. :class:`SecretFilter`: the redaction funnel over the output and the diff, with the
   profile's action (a ``block`` withholds the result and says so).
3. :class:`InjectionFilter`: the result's provenance is recorded for the untrusted marker the
   model sees, and the injection scanner's hits are shown to the user, kept with the message
   (the model's marker names them), written to the audit log, and raise the session's risk.
   Nothing is ever stripped.
"""

from __future__ import annotations

from tau_engine.agent.tool_calls import CallResult, PendingCall
from tau_engine.conversation import ToolCall
from tau_engine.event_kinds import NoticeKind
from tau_engine.events import EventBus, Notice
from tau_engine.safety.audit import injection_event
from tau_engine.safety.layer import SafetyLayer
from tau_engine.safety.redaction import RedactionFilter
from tau_engine.safety.risk import describe_flags, flags_from_hits

# Tools cap their own output and add a line of their own (an exit code, a note): only text
# well past the cap is cut here.
CAP_SLACK = 2_000
CUT_MARKER = "\n[... {n} characters cut by tau's output cap ...]\n"


class OutputCapFilter:
    """Cuts a result that is far over the cap to its head and tail."""

    name = "output-cap"

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars

    def apply(self, pending: PendingCall | None, call: ToolCall, result: CallResult) -> CallResult:
        text = result.output
        if len(text) <= self.max_chars + CAP_SLACK:
            return result
        head = self.max_chars * 2 // 3
        tail = self.max_chars - head
        marker = CUT_MARKER.format(n=len(text) - head - tail)
        result.output = text[:head] + marker + text[-tail:]
        return result


class SecretFilter:
    """Redacts (or withholds, or flags) secrets in the output and the diff."""

    name = "secret-redaction"

    def __init__(self, redaction: RedactionFilter, bus: EventBus) -> None:
        self.redaction = redaction
        self.bus = bus

    def apply(self, pending: PendingCall | None, call: ToolCall, result: CallResult) -> CallResult:
        filtered = self.redaction.filter(result.output, where=call.name)
        result.output = filtered.text
        result.diff = self.redaction.redact_optional(result.diff, where=call.name)
        detected = filtered.findings
        if filtered.blocked:
            result.ok = False
            result.diff = None
            self.bus.emit(
                Notice(
                    kind=NoticeKind.REDACTION,
                    message=(
                        f"the {call.name} result was withheld from the model: it held "
                        f"{len(detected)} secret(s) and the profile's redaction.action is block"
                    ),
                    data={"kinds": sorted({f.kind for f in detected})},
                )
            )
        elif detected and self.redaction.action == "warn":
            self.bus.emit(
                Notice(
                    kind=NoticeKind.REDACTION,
                    message=(
                        f"the {call.name} result holds what looks like {len(detected)} secret(s) "
                        f"({', '.join(sorted({f.kind for f in detected}))}); the profile's "
                        "redaction.action is warn, so it was sent as it is"
                    ),
                    data={"kinds": sorted({f.kind for f in detected})},
                )
            )
        return result


class InjectionFilter:
    """Records where a result came from and flags what looks like a prompt injection."""

    name = "injection"

    def __init__(self, safety: SafetyLayer, bus: EventBus) -> None:
        self.safety = safety
        self.bus = bus

    def apply(self, pending: PendingCall | None, call: ToolCall, result: CallResult) -> CallResult:
        if pending is None or not result.from_tool or result.denied:
            return result
        source = pending.tool.result_source(pending.args)
        result.meta["source"] = source
        hits = self.safety.injection.scan(result.output)
        if not hits:
            return result
        flags = flags_from_hits(hits, source=source, tool=call.name, call_id=call.id)
        result.meta["injection"] = [flag.to_meta() for flag in flags]
        self.safety.risk.raise_for(flags)
        for listener in self.safety.injection_listeners:
            listener()
        self.safety.record(
            *(
                injection_event(
                    hit,
                    source=source,
                    tool=call.name,
                    session=self.safety.context.session,
                    run=self.safety.context.run,
                    call_id=call.id,
                )
                for hit in hits
            )
        )
        first = hits[0]
        self.bus.emit(
            Notice(
                kind=NoticeKind.INJECTION,
                message=(
                    f"possible prompt injection in the {call.name} result: {describe_flags(flags)} "
                    f"(“{first.excerpt}”). The text is kept and marked for the model; until you "
                    "clear it with /clear-risk, every call with side effects asks, in every mode"
                ),
                data={
                    "rules": sorted({h.rule for h in hits}),
                    "source": source,
                    "call_id": call.id,
                },
            )
        )
        return result
