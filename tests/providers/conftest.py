"""Fixtures of the provider tests: one loopback scripted server per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.scripted_server import ScriptedServer


@pytest.fixture(scope="module")
def shared_server() -> Iterator[ScriptedServer]:
    """One server for the module: stopping one costs half a second."""
    with ScriptedServer() as s:
        yield s


@pytest.fixture
def server(shared_server: ScriptedServer) -> Iterator[ScriptedServer]:
    """The module's server with no requests recorded yet; every response scripted in
    the test must have been served by its end."""
    shared_server.requests.clear()
    yield shared_server
    shared_server.responder = None  # a test's responder must not answer the next test
    assert shared_server.pending == 0, "a scripted response was left unused"
