"""Fixtures of the onboarding tests: one loopback scripted server per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.scripted_server import ScriptedServer


@pytest.fixture(scope="module")
def shared_server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as s:
        yield s


@pytest.fixture
def server(shared_server: ScriptedServer) -> Iterator[ScriptedServer]:
    """The module's server with nothing recorded or queued."""
    shared_server.reset()
    yield shared_server
    shared_server.reset()
