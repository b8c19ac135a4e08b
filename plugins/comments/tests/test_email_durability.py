"""SIGKILL of a real ``datasette serve`` with messages pending: after a restart each is
delivered, and none twice."""

import sqlite3
import time

import httpx
from datasette_internal_db.testing import serve

from .conftest import make_files
from .email_helpers import SmtpServer, email_config

ADDRESSES_PLUGIN = """
from datasette import hookimpl


@hookimpl
def comments_actor_emails(datasette, actor_ids):
    return {i: f"{i}@example.com" for i in actor_ids}
"""


def outbox_statuses(internal_path):
    conn = sqlite3.connect(f"file:{internal_path}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "select status, attempts from datasette_internal_comments_email_outbox order by id"
        ).fetchall()
    finally:
        conn.close()
    return rows


def wait_until(condition, timeout=60):
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
    return found


def test_pending_messages_survive_sigkill_and_are_delivered_once(tmp_path):
    files = make_files(tmp_path)
    plugins_dir = tmp_path / "plugins"
    plugins_dir.mkdir()
    (plugins_dir / "addresses.py").write_text(ADDRESSES_PLUGIN)
    smtp = SmtpServer()  # down while the first server runs
    options = dict(
        config=email_config(smtp.port),
        args=["--plugins-dir", str(plugins_dir)],
        env={"DATASETTE_SECRET": "durability-test-secret"},
    )
    with serve(tmp_path, files, **options) as server:
        cookies = server.cookies_for("alice")
        for who in ("bob", "carol"):
            response = httpx.post(
                server.url + "/-/comments/api/threads",
                json={"database": "data", "table": "items", "body": f"Hi @{who}"},
                cookies=cookies,
            )
            assert response.status_code == 200, response.text
        # Both tried once and waiting for a retry: acknowledged, not delivered.
        wait_until(
            lambda: [row[1] >= 1 for row in outbox_statuses(server.internal_path)] == [True, True]
        )
        server.kill()
    assert [row[0] for row in outbox_statuses(server.internal_path)] == ["pending", "pending"]
    smtp.start()
    try:
        with serve(tmp_path, files, **options) as restarted:
            received = smtp.sink.wait_for(2)
            wait_until(
                lambda: (
                    [row[0] for row in outbox_statuses(restarted.internal_path)] == ["sent", "sent"]
                )
            )
            assert sorted(message["To"] for message in received) == [
                "bob@example.com",
                "carol@example.com",
            ]
            assert len({message["Message-ID"] for message in received}) == 2
        assert len(smtp.sink.received) == 2
    finally:
        smtp.stop()
