"""The SQL both backends share is written with SQLite's placeholders; on PostgreSQL,
``QmarkConnection`` rewrites them for psycopg without touching string literals."""

from __future__ import annotations

import pytest

from tests.support.postgres_server import find_binaries

pytestmark = pytest.mark.skipif(find_binaries()[0] is None, reason=find_binaries()[1])


def test_placeholders_become_psycopgs_and_literals_stay() -> None:
    from tau_engine.store.postgres.database import to_format

    assert to_format("SELECT ?, :name, x::jsonb, '?:y%', '%' || ?") == (
        "SELECT %s, %(name)s, x::jsonb, '?:y%%', '%%' || %s"
    )


def test_literal_percent_signs_reach_the_server_unchanged(postgres_url: str) -> None:
    import psycopg

    from tau_engine.store.postgres.database import QmarkConnection

    with psycopg.connect(postgres_url, autocommit=True) as raw:
        conn = QmarkConnection(raw)
        assert conn.execute("SELECT '50%', 'a?b'").fetchone() == ("50%", "a?b")
        assert conn.execute("SELECT '5%' || CAST(? AS text)", ("x",)).fetchone() == ("5%x",)
        assert conn.execute("SELECT CAST(:v AS int) + 1", {"v": 1}).fetchone() == (2,)
