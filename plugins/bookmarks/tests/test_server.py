"""Against real `datasette serve` processes sharing one --internal file across restarts."""

import contextlib
import sqlite3
import time

import httpx
from conftest import create_data_db
from datasette_internal_bookmarks.migrations import LINKS
from datasette_internal_db.testing import serve, start_without_core

PLUGINS = ["datasette-internal-bookmarks"]


def follow(server, path, times):
    for _ in range(times):
        response = httpx.get(server.url + path, follow_redirects=False)
        assert response.status_code == 302


def stored_visits(server, code):
    """What the internal file holds, read beside the running server."""
    reader = sqlite3.connect(f"file:{server.internal_path}?mode=ro", uri=True)
    with contextlib.closing(reader) as conn:
        return conn.execute(f"select visits from {LINKS} where code = ?", [code]).fetchone()[0]


def wait_until_stored(server, code, count, timeout=30):
    deadline = time.monotonic() + timeout
    while stored_visits(server, code) != count:
        assert time.monotonic() < deadline, f"visits of {code} never reached {count} on disk"
        time.sleep(0.05)


def visits(server, code):
    detail = httpx.get(server.url + f"/-/l/api/links/{code}", cookies=server.cookies_for("alice"))
    return detail.json()["link"]["visits"]


def test_restarts_keep_data_and_visit_counts(tmp_path):
    data_db = create_data_db(tmp_path / "data.db")
    env = {"DATASETTE_SECRET": "restart-test-secret"}
    with serve(tmp_path, [data_db], plugins=PLUGINS, env=env) as server:
        cookies = server.cookies_for("alice")
        saved = httpx.post(
            server.url + "/-/bookmarks/api/bookmarks",
            cookies=cookies,
            json={"url": "/data/places?country=fr", "tags": ["eu"]},
        )
        assert saved.status_code == 201
        link = httpx.post(
            server.url + "/-/l/api/links", cookies=cookies, json={"target": "/data/places"}
        ).json()["link"]
        follow(server, link["path"], 3)
        # Leaving the block stops the server with SIGTERM: shutdown writes what is in memory.

    with serve(tmp_path, [data_db], plugins=PLUGINS, env=env) as server:
        cookies = server.cookies_for("alice")
        bookmarks = httpx.get(server.url + "/-/bookmarks/api/bookmarks", cookies=cookies).json()
        assert [b["tags"] for b in bookmarks["bookmarks"]] == [["eu"]]
        assert visits(server, link["code"]) == 3
        follow(server, link["path"], 4)
        # Counted in memory, then written by the background task (not by the requests).
        wait_until_stored(server, link["code"], 7)
        server.kill()  # SIGKILL: no shutdown hook, only what the background task wrote

    with serve(tmp_path, [data_db], plugins=PLUGINS, env=env) as server:
        assert visits(server, link["code"]) == 7
        assert httpx.get(server.url + link["path"]).headers["location"] == "/data/places"


def test_loaded_without_core_it_stops_at_startup_naming_core(tmp_path):
    code, errors = start_without_core("datasette-internal-bookmarks", tmp_path)
    assert code == 1
    assert "datasette-internal-bookmarks keeps its state in the internal database" in errors
