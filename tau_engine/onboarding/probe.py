"""The model probe: is the key accepted, is the model there, can it call tools?

Two steps, each one line with a remedy when it fails:

1. **List models** (cheap and read-only): ``GET /models`` in the provider's own
   wire format. It proves the URL and the key, and whether the server lists
   the model.
2. **One tool call** (optional; a few tokens): the model is asked to call a
   tiny ``tau_probe`` tool. A model that answers in text instead cannot drive
   tau's tools, and it is better to learn that now than half-way through the
   first mission.

Failures are explained by kind: key rejected, model not found, network (then
tau cannot check, which is not a fault of the setup), TLS or proxy, timeout.
The offline models have nothing to check.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx

from tau_engine.config import Settings
from tau_engine.conversation import Message, ToolSpec
from tau_engine.errors import ProviderError
from tau_engine.providers.base import Provider, ProviderRequest, StreamEnd, ToolCallReady
from tau_engine.providers.factory import create_provider
from tau_engine.providers.http import make_client, raise_for_status
from tau_engine.providers.registry import ResolvedModel
from tau_engine.providers.transport_failures import transport_error

Status = Literal["ok", "warn", "fail", "skip"]
PROBE_TIMEOUT_S = 20.0
PROBE_TOOL = ToolSpec(
    name="tau_probe",
    description="Confirms that tool calls work. Call it exactly once.",
    parameters={"type": "object", "properties": {"word": {"type": "string"}}, "required": ["word"]},
)
_PROBE_SYSTEM = (
    "You are a connectivity check. Call the tool you are given, once, and do not answer in text."
)
_PROBE_PROMPT = 'Call tau_probe with word set to "ok".'


@dataclass(frozen=True)
class ProbeStep:
    """One step's outcome: ``status``, its ``kind`` (``ok``, ``auth``, ``not_found``,
    ``network``, ``tls_proxy``, ``timeout``, ``no_tools``, ``quota``, ``error``,
    ``skipped``), one line of what happened and one of what to do."""

    name: str
    status: Status
    kind: str
    message: str
    remedy: str = ""


@dataclass(frozen=True)
class ProbeResult:
    """The steps of one probe, in order."""

    model_id: str
    steps: list[ProbeStep] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No step failed (skipped and warned steps do not count against it)."""
        return all(step.status != "fail" for step in self.steps)

    @property
    def checked(self) -> bool:
        """Whether anything could be checked at all (false offline or for offline/*)."""
        return any(step.status in ("ok", "fail") for step in self.steps)


def _models_url(resolved: ResolvedModel) -> tuple[str, dict[str, str]]:
    """The model list's URL and the auth headers, in the provider's wire format."""
    assert resolved.base_url is not None
    root = resolved.base_url.rstrip("/")
    key = resolved.api_key or ""
    if resolved.api == "anthropic":
        base = root if root.endswith("/v1") else f"{root}/v1"
        headers = {"anthropic-version": "2023-06-01"}
        if key:
            headers["x-api-key"] = key
        return f"{base}/models?limit=1000", headers
    if resolved.api == "gemini":
        base = root if root.endswith("/v1beta") else f"{root}/v1beta"
        return f"{base}/models?pageSize=1000", ({"x-goog-api-key": key} if key else {})
    return f"{root}/models", ({"Authorization": f"Bearer {key}"} if key else {})


def listed_ids(body: Any) -> list[str]:
    """Model ids from a model list in any of the wire formats (OpenAI and Anthropic
    ``data[].id``, Gemini ``models[].name`` without ``models/``, Ollama ``models[].name``)."""
    ids: list[str] = []
    if not isinstance(body, dict):
        return ids
    for key, field_name in (("data", "id"), ("models", "name"), ("models", "id")):
        items = body.get(key)
        if isinstance(items, list):
            for item in items:
                value = item.get(field_name) if isinstance(item, dict) else None
                if isinstance(value, str) and value:
                    ids.append(value.removeprefix("models/"))
    return list(dict.fromkeys(ids))


def _cause_chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and len(chain) < 10:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    return chain


def explain(exc: BaseException, resolved: ResolvedModel, step: str) -> ProbeStep:
    """A failure of ``step`` explained by kind, with what to do about it."""
    kind = exc.kind if isinstance(exc, ProviderError) else "error"
    where = resolved.key_env or "the key's source"
    if kind in ("connection", "error"):
        # Only a failure below HTTP can be the TLS handshake or a proxy; a server's
        # answer that mentions either word is not.
        chain = _cause_chain(exc)
        text = " ".join(str(e) for e in chain).lower()
        if any(isinstance(e, httpx.ProxyError) for e in chain):
            return ProbeStep(
                step,
                "fail",
                "tls_proxy",
                f"a proxy refused the request: {exc}",
                "check HTTPS_PROXY / HTTP_PROXY / NO_PROXY",
            )
        if any(isinstance(e, ssl.SSLError) for e in chain) or "certificate verify" in text:
            return ProbeStep(
                step,
                "fail",
                "tls_proxy",
                f"the TLS handshake failed: {exc}",
                "a proxy or a company CA may intercept HTTPS: point "
                "SSL_CERT_FILE at its certificate bundle",
            )
    if kind == "auth":
        return ProbeStep(
            step,
            "fail",
            "auth",
            f"the key was rejected: {exc}",
            f"check the key in {where}: a typo, a revoked key, or a key of another provider",
        )
    if kind == "quota":
        return ProbeStep(
            step,
            "fail",
            "quota",
            f"the account has no credit: {exc}",
            "add credit or a payment method with the provider",
        )
    if kind == "not_found":
        return ProbeStep(
            step,
            "fail",
            "not_found",
            f"model not found: {exc}",
            f"pick one the server lists (tau models --provider "
            f"{resolved.provider}) and check the base URL",
        )
    if kind == "timeout":
        return ProbeStep(
            step,
            "fail",
            "timeout",
            f"timed out: {exc}",
            "the server is slow or unreachable: try again, or check the base URL",
        )
    if kind == "connection":
        return ProbeStep(
            step,
            "warn",
            "network",
            f"cannot reach the provider: {exc}",
            "tau cannot check now (offline?); the setup is kept as chosen",
        )
    return ProbeStep(step, "fail", "error", str(exc), "check the base URL and the model id")


async def list_models_step(resolved: ResolvedModel, client: httpx.AsyncClient) -> ProbeStep:
    """Step 1: the model list, and whether it has the model."""
    name = "list models"
    url, headers = _models_url(resolved)
    try:
        response = await client.get(url, headers=headers)
        await raise_for_status(
            response, resolved.provider, key_hint=resolved.key_env, key_sent=bool(resolved.api_key)
        )
        body = response.json()
    except httpx.HTTPError as exc:
        failure = transport_error(exc, resolved.provider)
        failure.__cause__ = exc
        return explain(failure, resolved, name)
    except ProviderError as exc:
        if exc.kind == "not_found":
            return ProbeStep(
                name,
                "warn",
                "no_list",
                f"the server has no model list at {url.split('?')[0]}",
                "the tool call below checks the model",
            )
        return explain(exc, resolved, name)
    except ValueError:
        return ProbeStep(
            name,
            "warn",
            "no_list",
            "the model list is not JSON",
            "the tool call below checks the model",
        )
    ids = listed_ids(body)
    wanted = {resolved.model, *(resolved.info.aliases if resolved.info else ())}
    if wanted & set(ids):
        return ProbeStep(
            name, "ok", "ok", f"key accepted; {resolved.model} is listed ({len(ids)} models)"
        )
    if not ids:
        return ProbeStep(
            name,
            "warn",
            "no_list",
            "key accepted; the server lists no models",
            "the tool call below checks the model",
        )
    return ProbeStep(
        name,
        "fail",
        "not_found",
        f"key accepted, but the server does not list {resolved.model} among its {len(ids)} models",
        f"pick one it lists (tau models --provider {resolved.provider}) or check the id",
    )


async def tool_call_step(provider: Provider, resolved: ResolvedModel) -> ProbeStep:
    """Step 2: one tiny tool-call round trip."""
    name = "tool call"
    if resolved.info is not None and not resolved.info.tools:
        return ProbeStep(
            name,
            "fail",
            "no_tools",
            f"the catalog says {resolved.model_id} cannot call tools",
            "pick a model that can: tau needs tools",
        )
    request = ProviderRequest(
        model=resolved.model,
        system=_PROBE_SYSTEM,
        messages=[Message(role="user", content=_PROBE_PROMPT)],
        tools=[PROBE_TOOL],
        max_output_tokens=1024,
    )
    called = False
    stop = ""
    try:
        async for event in provider.stream(request):
            if isinstance(event, ToolCallReady) and event.call.name == PROBE_TOOL.name:
                called = True
            elif isinstance(event, StreamEnd):
                stop = event.stop_reason
    except ProviderError as exc:
        return explain(exc, resolved, name)
    if called:
        return ProbeStep(name, "ok", "ok", f"{resolved.model_id} called the probe tool")
    return ProbeStep(
        name,
        "fail",
        "no_tools",
        f"{resolved.model_id} answered without "
        f"calling the tool (stop: {stop or 'none'}): it may not support tool "
        "calls",
        "pick a model that can call tools: tau needs them",
    )


async def probe_model(
    resolved: ResolvedModel,
    settings: Settings,
    *,
    tool_call: bool = True,
    timeout_s: float = PROBE_TIMEOUT_S,
    on_step: Callable[[ProbeStep], None] | None = None,
) -> ProbeResult:
    """Probe ``resolved``: list the models, then (``tool_call``) one tool-call round trip.
    The tool call is skipped once the list has shown the key or the model is wrong."""
    result = ProbeResult(resolved.model_id)

    def add(step: ProbeStep) -> None:
        result.steps.append(step)
        if on_step is not None:
            on_step(step)

    if resolved.provider == "offline":
        add(
            ProbeStep(
                "list models",
                "skip",
                "skipped",
                f"{resolved.model_id} runs inside tau: nothing to check",
            )
        )
        return result
    async with make_client(
        timeout_s, connect_timeout_s=min(10.0, timeout_s), base_url=resolved.base_url
    ) as client:
        listed = await list_models_step(resolved, client)
        add(listed)
        if not tool_call:
            return result
        if listed.kind in ("auth", "not_found", "quota", "tls_proxy", "network"):
            add(ProbeStep("tool call", "skip", "skipped", "not tried: see the step above"))
            return result
        provider = create_provider(
            resolved, settings.model_copy(update={"request_timeout_s": timeout_s}), client=client
        )
        try:
            add(await tool_call_step(provider, resolved))
        finally:
            await provider.aclose()
    return result


def resolve_choice(
    provider: str,
    model_id: str,
    key_value: str | None,
    key_where: str | None,
    settings: Settings,
    environ: Mapping[str, str],
    workspace_root: Path | None,
) -> ResolvedModel:
    """The model a setup being chosen would use, with the key it would read (nothing has
    been written yet): for probing before Write."""
    from tau_engine.providers.catalog import load_catalog
    from tau_engine.providers.key_sources import find_base_url, provider_environ
    from tau_engine.providers.registry import parse_model_id

    _, model = parse_model_id(model_id)
    info = load_catalog().get(provider, model)
    env = provider_environ(settings, environ, workspace_root, trusted=settings.workspace_trusted)
    return ResolvedModel(
        provider=provider,
        model=info.id if info else model,
        model_id=f"{provider}/{info.id if info else model}",
        info=info,
        base_url=find_base_url(provider, settings, env),
        api_key=key_value,
        key_env=key_where,
    )
