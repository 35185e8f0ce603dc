"""The provider call log: sanitized JSON lines, size rotation, never a key or a body."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tau_engine.conversation import Message
from tau_engine.errors import ProviderError
from tau_engine.providers.base import ProviderEvent, ProviderRequest, TextChunk
from tau_engine.providers.call_log import CallRecord, ProviderCallLog
from tau_engine.providers.router import CircuitBreaker, RoutedProvider

SECRET = "sk-live-0123456789abcdef"


def records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_record_is_one_json_line_with_the_documented_fields(tmp_path: Path) -> None:
    log = ProviderCallLog(tmp_path / "logs" / "provider.jsonl")
    log.record(
        CallRecord(
            provider="anthropic",
            model="claude-sonnet-4-5",
            status="ok",
            latency_ms=1234.56,
            ttft_ms=321.04,
            input_tokens=1200,
            output_tokens=80,
            cached_tokens=1000,
            cost_usd=0.00123456789,
            retries=1,
            fallback_from=None,
            ts=1700000000.123456,
        )
    )
    (line,) = records(log.path)
    assert line == {
        "provider": "anthropic",
        "model": "claude-sonnet-4-5",
        "status": "ok",
        "http_status": None,
        "latency_ms": 1234.6,
        "ttft_ms": 321.0,
        "input_tokens": 1200,
        "output_tokens": 80,
        "cached_tokens": 1000,
        "cost_usd": 0.00123457,
        "retries": 1,
        "fallback_from": None,
        "ts": 1700000000.123,
    }


def test_records_append(tmp_path: Path) -> None:
    log = ProviderCallLog(tmp_path / "provider.jsonl")
    for status in ("ok", "rate_limit", "ok"):
        log.record(CallRecord(provider="openai", model="gpt-5", status=status))
    assert [r["status"] for r in records(log.path)] == ["ok", "rate_limit", "ok"]


def test_the_log_rotates_by_size_and_keeps_a_fixed_number_of_backups(tmp_path: Path) -> None:
    log = ProviderCallLog(tmp_path / "provider.jsonl", max_bytes=1000, backups=3)
    for i in range(100):
        log.record(CallRecord(provider="openai", model=f"gpt-{i}", status="ok"))
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["provider.jsonl", "provider.jsonl.1", "provider.jsonl.2", "provider.jsonl.3"]
    for path in tmp_path.iterdir():
        assert path.stat().st_size <= 1000
    # Oldest in .3, newest in the current file: together, the latest records in order.
    kept = [
        int(str(r["model"]).split("-")[1])
        for name in ("provider.jsonl.3", "provider.jsonl.2", "provider.jsonl.1", "provider.jsonl")
        for r in records(tmp_path / name)
    ]
    assert kept == list(range(100 - len(kept), 100))
    assert 0 not in kept


def test_no_backups_means_the_log_starts_over(tmp_path: Path) -> None:
    log = ProviderCallLog(tmp_path / "provider.jsonl", max_bytes=500, backups=0)
    for i in range(20):
        log.record(CallRecord(provider="openai", model=f"m{i}", status="ok"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["provider.jsonl"]
    assert 0 < (tmp_path / "provider.jsonl").stat().st_size <= 500
    assert records(tmp_path / "provider.jsonl")[-1]["model"] == "m19"


def test_strings_are_reduced_to_a_safe_alphabet(tmp_path: Path) -> None:
    log = ProviderCallLog(tmp_path / "provider.jsonl")
    log.record(
        CallRecord(
            provider="openai\n{evil}",
            model="m" * 500,
            status="auth: key sk-x rejected",
            fallback_from="a b",
        )
    )
    (line,) = records(log.path)
    assert line["provider"] == "openai??evil?"
    assert line["model"] == "m" * 200
    assert " " not in str(line["status"]) and " " not in str(line["fallback_from"])


def test_an_unwritable_log_never_fails_the_run(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    log = ProviderCallLog(blocker / "provider.jsonl")
    log.record(CallRecord(provider="openai", model="gpt-5", status="ok"))
    assert log.failed
    log.record(CallRecord(provider="openai", model="gpt-5", status="ok"))


class LeakyProvider:
    """A provider whose failure message and answer both contain the API key."""

    name = "openai"

    def __init__(self, fail: bool) -> None:
        self.fail = fail

    async def stream(self, request: ProviderRequest) -> AsyncIterator[ProviderEvent]:
        if self.fail:
            raise ProviderError(f"Incorrect API key provided: {SECRET}", kind="auth", status=401)
        yield TextChunk(f"the key is {SECRET}")

    async def aclose(self) -> None:
        return None


async def test_a_key_never_reaches_the_log(tmp_path: Path) -> None:
    log = ProviderCallLog(tmp_path / "provider.jsonl")
    request = ProviderRequest(
        model="gpt-5",
        system=f"system with {SECRET}",
        messages=[Message(role="user", content=SECRET)],
        options={"api_key": SECRET},
    )
    routed = RoutedProvider(
        [("openai/gpt-5", LeakyProvider(fail=True)), ("xai/grok-4", LeakyProvider(fail=False))],
        CircuitBreaker(),
        call_log=log,
    )
    got = [event async for event in routed.stream(request)]
    assert got  # the answer itself reached the caller
    text = log.path.read_text()
    assert SECRET not in text and "Incorrect API key" not in text
    assert [r["status"] for r in records(log.path)] == ["auth", "ok"]
    assert records(log.path)[0]["http_status"] == 401


def test_for_workspace_uses_the_state_dir(tmp_path: Path) -> None:
    log = ProviderCallLog.for_workspace(tmp_path)
    assert log.path == tmp_path / ".tau" / "logs" / "provider.jsonl"


@pytest.mark.parametrize("count", [2000])
def test_a_record_is_cheap(tmp_path: Path, count: int, capsys: pytest.CaptureFixture[str]) -> None:
    """Not a timing assertion (machines differ): it prints the measured cost per record."""
    log = ProviderCallLog(tmp_path / "provider.jsonl")
    record = CallRecord(
        provider="openai",
        model="gpt-5",
        status="ok",
        latency_ms=900.0,
        ttft_ms=300.0,
        input_tokens=12000,
        output_tokens=400,
    )
    start = time.perf_counter()
    for _ in range(count):
        log.record(record)
    per_record_us = (time.perf_counter() - start) / count * 1e6
    with capsys.disabled():
        print(f"\ncall log: {per_record_us:.1f} us per record")
    assert len(log.path.read_text().splitlines()) == count
