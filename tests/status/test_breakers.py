"""Open circuit breakers reach ``tau status`` in another process: a real router trips its
breaker against the loopback server, the journal under ``.tau/logs/`` carries the change,
and ``tau status`` / ``tau shell --no-color`` show it open, then closed after recovery."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tau_engine.config import Settings
from tau_engine.conversation import Message
from tau_engine.providers.base import ProviderRequest
from tau_engine.providers.breaker import CircuitBreaker
from tau_engine.providers.breaker_journal import BREAKER_LOG_NAME, BreakerJournal
from tau_engine.providers.factory import create_routed_provider
from tau_engine.providers.registry import resolve_model
from tau_engine.providers.router import RoutedProvider
from tau_engine.status import log_tail as breakers
from tau_engine.status.snapshot import read_snapshot
from tests.cli.tau_process import run_tau
from tests.support.openai_script import openai_answer
from tests.support.scripted_server import ScriptedResponse, ScriptedServer

PRIMARY = "openai/gpt-5"
FALLBACK = "openrouter/openai/gpt-5"


class Clock:
    """The breaker's monotonic clock, moved by the test (the journal keeps wall time)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _down() -> ScriptedResponse:
    body = {"error": {"message": "down for maintenance", "type": "server_error"}}
    return ScriptedResponse.json(503, body, headers={"retry-after": "0"})


def _routed(server: ScriptedServer, root: Path, breaker: CircuitBreaker | None) -> RoutedProvider:
    env = {
        "OPENAI_API_KEY": "sk-primary",
        "OPENROUTER_API_KEY": "sk-or",
        "TAU_OPENAI_BASE_URL": server.url + "/openai/v1",
        "TAU_OPENROUTER_BASE_URL": server.url + "/openrouter/v1",
    }
    conf = Settings.model_validate({"max_retries": 0, "fallbacks": {PRIMARY: [FALLBACK]}})
    resolved = resolve_model(PRIMARY, conf, env, root)
    return create_routed_provider(resolved, conf, env, root, breaker=breaker)


async def _ask(routed: RoutedProvider) -> None:
    request = ProviderRequest(
        model="gpt-5", system="s", messages=[Message(role="user", content="hi")]
    )
    async for _ in routed.stream(request):
        pass


def _markers(root: Path) -> tuple[int, dict[str, str]]:
    done = run_tau(["status", "-w", str(root)], cwd=root)
    assert done.stderr == ""
    return done.returncode, dict(line.split("=", 1) for line in done.stdout.splitlines())


async def test_a_tripped_breaker_is_open_in_tau_status_and_closed_after_recovery(
    scripted_server: ScriptedServer, tmp_path: Path
) -> None:
    clock = Clock()
    journal = BreakerJournal.for_workspace(tmp_path)
    breaker = CircuitBreaker(failure_threshold=2, cooldown_s=600, clock=clock, journal=journal)
    routed = _routed(scripted_server, tmp_path, breaker)
    try:
        for _ in range(2):  # the primary fails, the fallback answers, twice
            scripted_server.add(_down(), openai_answer("from the fallback"))
            await _ask(routed)
        code, markers = _markers(tmp_path)
        key = "control_plane.providers.openai/gpt-5"
        assert code == 1
        assert markers[f"{key}.breaker"] == "open"
        assert markers[f"{key}.breaker_reason"] == "server%20503"
        assert float(markers[f"{key}.breaker_until"]) > time.time() + 500
        assert "providers.breaker_open" in markers.values()
        assert markers["control_plane.providers.openrouter/openai/gpt-5.breaker"] == "none"
        plain = run_tau(["shell", "--no-color", "--width", "100", "-w", str(tmp_path)], tmp_path)
        assert "breakers open 1" in plain.stdout and " open 10 min more" in plain.stdout

        clock.now += 600  # the cool-down ends: the next call is the primary's trial
        scripted_server.add(openai_answer("the primary is back"))
        await _ask(routed)
        code, markers = _markers(tmp_path)
        assert markers[f"{key}.breaker"] == "closed" and markers[f"{key}.status"] == "ok"
        assert "providers.breaker_open" not in markers.values()
        assert code == 0
    finally:
        await routed.aclose()
    states = [json.loads(line)["state"] for line in journal.path.read_text().splitlines()]
    assert states == ["open", "half_open", "closed"]


async def test_the_routers_own_breaker_journals_to_the_workspace(
    scripted_server: ScriptedServer, tmp_path: Path
) -> None:
    routed = _routed(scripted_server, tmp_path, None)  # as the engine builds it
    try:
        for _ in range(3):  # the default threshold
            scripted_server.add(_down(), openai_answer("from the fallback"))
            await _ask(routed)
    finally:
        await routed.aclose()
    snap = read_snapshot(tmp_path)
    assert snap.providers["openai/gpt-5"].breaker == "open"
    assert snap.attention == ("providers.breaker_open",)


async def test_a_single_route_journals_nothing(
    scripted_server: ScriptedServer, tmp_path: Path
) -> None:
    """With nothing to fall back to the breaker skips nothing, so it is never shown open."""
    env = {"OPENAI_API_KEY": "sk", "TAU_OPENAI_BASE_URL": scripted_server.url + "/openai/v1"}
    conf = Settings.model_validate({"max_retries": 0})
    routed = create_routed_provider(
        resolve_model(PRIMARY, conf, env, tmp_path), conf, env, tmp_path
    )
    try:
        for _ in range(4):
            scripted_server.add(_down())
            try:
                await _ask(routed)
            except Exception:
                pass
    finally:
        await routed.aclose()
    assert not (tmp_path / ".tau" / "logs" / BREAKER_LOG_NAME).exists()


def test_an_open_breaker_past_its_until_reads_half_open(tmp_path: Path) -> None:
    log = tmp_path / BREAKER_LOG_NAME
    line = {"route": "a/b", "state": "open", "since": 100.0, "until": 130.0, "reason": "x"}
    log.write_text(json.dumps(line) + "\n")
    assert breakers.read_breakers(log, now=120.0)["a/b"].state == "open"
    assert breakers.read_breakers(log, now=130.0)["a/b"].state == "half_open"


def test_the_journal_name_is_the_one_the_router_writes() -> None:
    assert breakers.BREAKER_LOG_NAME == BREAKER_LOG_NAME
