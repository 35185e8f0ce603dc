"""How the engine wires the safety layer in: the layer from settings, the tool pipeline, and
the redaction funnel on what it stores and returns.

``open_safety`` reads the active profile and the saved rules and knows every secret value to
redact (the provider keys, and secret-looking variables of the real environment and of the
workspace ``.env``, trusted or not: redacting is always safe). ``build_pipeline`` gives the
built-in tools what they depend on (the sandbox, the network policy, the audit log) and puts
them behind the checks and filters. ``redact_message`` passes a message through the funnel
before it is stored (the runtime's ``StoreSink``), and ``redact_run_result`` does the same for
what a front end prints of a run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tau_engine.agent.run_result import RunResult
from tau_engine.agent.tool_runner import ToolPipeline
from tau_engine.config import Settings
from tau_engine.conversation import Message, StoredMessage
from tau_engine.event_kinds import NoticeKind
from tau_engine.events import BaseEvent, EventBus, Notice
from tau_engine.paths import WorkspacePaths
from tau_engine.safety.audit import ssrf_event
from tau_engine.safety.layer import SafetyLayer
from tau_engine.safety.policy import ApprovalMode, Approver
from tau_engine.safety.redact import SecretRedactor
from tau_engine.safety.redaction import RedactionFilter, secret_values
from tau_engine.safety.workspace import WorkspaceGuard
from tau_engine.store import SessionStore
from tau_engine.tools.base import Tool, ToolContext


def open_safety(
    paths: WorkspacePaths,
    settings: Settings,
    real_env: Mapping[str, str],
    keys: Mapping[str, str],
    mode: ApprovalMode,
) -> SafetyLayer:
    """The safety layer of a run (blocking: it reads files)."""
    from tau_engine.providers.dotenv import read_dotenv

    # The provider keys first, so they keep their names in [REDACTED:<name>].
    secrets = [*keys.items(), *secret_values(real_env, read_dotenv(paths.root / ".env"))]
    layer = SafetyLayer.for_settings(paths, settings, mode=mode, environ=real_env, secrets=secrets)
    layer.warm()  # here, in the engine's start-up thread, not on the event loop
    return layer


def workspace_redaction(
    paths: WorkspacePaths, environ: Mapping[str, str] | None = None
) -> RedactionFilter:
    """The redaction funnel of a workspace outside a run (``tau sessions export``): the
    provider keys of the user's settings, the secret-looking variables of the environment and
    of the workspace ``.env``, and the detectors, always replacing what they find."""
    import os

    from tau_engine.config import load_settings
    from tau_engine.errors import ConfigError
    from tau_engine.providers.dotenv import read_dotenv
    from tau_engine.providers.key_sources import provider_key_values

    env = dict(os.environ if environ is None else environ)
    dotenv = read_dotenv(paths.root / ".env")
    try:
        settings = load_settings(paths, {}, env)
    except ConfigError:
        settings = Settings.model_validate({})
    keys = provider_key_values(settings, {**dotenv, **env})
    return RedactionFilter(SecretRedactor([*keys.items(), *secret_values(env, dotenv)]))


def attach_safety(bus: EventBus, safety: SafetyLayer) -> None:
    """Every event passes the redaction funnel before any sink (the store, the front ends);
    a failing audit log is said once, as a notice."""

    def redact_event(event: BaseEvent) -> None:
        safety.redaction.redact_fields(event.__dict__, where=event.type)

    def warn(message: str) -> None:
        bus.emit(Notice(kind=NoticeKind.AUDIT, message=message))

    bus.set_filter(redact_event)
    safety.on_warning = warn


def build_pipeline(
    root: Path,
    settings: Settings,
    safety: SafetyLayer,
    bus: EventBus,
    approver: Approver | None,
    redactor: SecretRedactor,
    extra_tools: Sequence[Tool] = (),
) -> ToolPipeline:
    """The built-in tools with their dependencies, and ``extra_tools`` (learned memory's),
    registered behind the checks and filters (an extra tool never shadows a built-in)."""
    from tau_engine.tools.registry import default_tools

    limits = safety.profile.document.limits
    ctx = ToolContext(
        workspace=root,
        guard=WorkspaceGuard(root),
        max_output_chars=min(settings.max_tool_output_chars, limits.max_tool_output_chars),
        redactor=redactor,
    )
    tools = default_tools(
        bash_timeout_s=settings.bash_timeout_s,
        sandbox=safety.sandbox,
        network=safety.profile.document.network,
        http_allow=settings.http_allow,
        on_blocked=lambda error: safety.record(
            ssrf_event(error, session=safety.context.session, run=safety.context.run)
        ),
    )
    pipeline = ToolPipeline(tools, ctx, bus, safety, approver, redaction=safety.redaction)
    for tool in extra_tools:
        pipeline.registry.register(tool)
    return pipeline


async def restore_risk(
    store: SessionStore, safety: SafetyLayer, session_id: str, *, with_untrusted_tools: bool
) -> list[StoredMessage]:
    """Raise the risk again for a session whose results were flagged, in any turn (the
    summarized ones too); returns those results, with learned memory's outside-content
    results (``http``) when ``with_untrusted_tools`` (memory taints its writes by them)."""
    from tau_engine.memory.provenance import INJECTION_META_KEY, UNTRUSTED_TOOLS

    tainting = await store.tool_results_of(
        session_id,
        names=UNTRUSTED_TOOLS if with_untrusted_tools else (),
        meta_key=INJECTION_META_KEY,
    )
    safety.restore_risk(session_id, [m.message for m in tainting])
    return tainting


def link_memory(safety: SafetyLayer, memory: Any) -> None:
    """An injection flag also makes learned memory's writes untrusted for the session."""
    from tau_engine.memory.provenance import INJECTION_REASON

    def taint() -> None:
        provenance = getattr(memory, "provenance", None)
        if provenance is not None:
            provenance.flag(INJECTION_REASON)

    safety.injection_listeners.append(taint)


def redact_message(message: Message, redaction: RedactionFilter) -> Message:
    """A message as it may be stored: its text, tool arguments and meta redacted."""
    content = redaction.redact(message.content, where="message")
    calls = [
        c.model_copy(update={"arguments": redaction.redact_data(c.arguments)})
        for c in message.tool_calls
    ]
    meta = redaction.redact_data(message.meta)
    return message.model_copy(update={"content": content, "tool_calls": calls, "meta": meta})


def redact_run_result(result: RunResult, redaction: RedactionFilter) -> RunResult:
    """The run's result as front ends print it (``--output-format json``): redacted."""
    result.result = redaction.redact(result.result, where="result")
    result.error = redaction.redact_optional(result.error, where="result")
    for record in result.tool_calls:
        record.arguments = redaction.redact_data(record.arguments, where="result")
    return result


def redact_notice(notice: Notice, redaction: RedactionFilter) -> Notice:
    """``notice`` with its message and data through the funnel (a provider's error quoted
    in a retry or fallback notice may echo a key)."""
    data = notice.data
    return Notice(
        kind=notice.kind,
        message=redaction.redact(notice.message, where="notice"),
        data=None
        if data is None
        else type(data).model_validate(redaction.redact_data(data.model_dump())),
    )
