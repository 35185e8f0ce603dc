"""The app on a PostgreSQL store whose session-lock connection has ended (a server
restart, a network cut): the next prompt says so in one error notice and writes nothing."""

from __future__ import annotations

import os

import psycopg

from tau_tui.widgets.entries import NoticeEntry
from tests.support.lock_connections import end_lock_connections
from tests.tui.conftest import SIZE, AppFactory, engine_ready, idle, wait_for
from tests.tui.test_agent_turns import send


def notices(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.message for e in app.agent.transcript.entries if isinstance(e, NoticeEntry)]


async def test_a_lost_session_lock_is_one_error_notice(
    make_app: AppFactory, postgres_url: str
) -> None:
    app = make_app(model="offline/echo", store={"url": postgres_url})
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        await send(pilot, "first")
        await idle(app)
        assert end_lock_connections(postgres_url, os.getpid()) == 1
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            before = admin.execute("SELECT count(*) FROM messages").fetchone()
        await send(pilot, "second")
        await wait_for(lambda: any("lost the lock on session" in m for m in notices(app)))
        await idle(app)
        lost = [m for m in notices(app) if "lost the lock" in m]
        assert len(lost) == 1 and "\n" not in lost[0] and "tau --resume" in lost[0]
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        assert admin.execute("SELECT count(*) FROM messages").fetchone() == before
