"""How the thread API reads: the target row on the event loop (never stale), the reader's
permission answer as one question, asked again in the background before it runs out, and the
loop's limit on a read counted in CPU time; badge counts kept only while nothing was written;
answers sent with their length."""

import asyncio
import json
import sqlite3
import threading
import time

from datasette_internal_comments import store
from datasette_internal_db import get_internal_db, loop_reads, read_on_loop
from datasette_internal_db.answers import ANSWER_SECONDS

THREADS = "/-/comments/api/threads?database=data&table=items&row=1"


class ReadThreadTrips:
    """Counts trips to a served database's read threads."""

    def __init__(self, db, monkeypatch):
        self.made = []
        execute_fn = db.execute_fn

        async def counted(fn, *args, **kwargs):
            self.made.append(fn)
            return await execute_fn(fn, *args, **kwargs)

        monkeypatch.setattr(db, "execute_fn", counted)


class BusyConnection:
    """A loop connection whose every query fails as a file locked by a writer does."""

    def execute(self, sql, params=()):
        raise sqlite3.OperationalError("database is locked")

    def set_progress_handler(self, handler, steps):
        pass


async def anchor(client):
    (thread,) = (await client.get(THREADS)).json()["threads"]
    return thread["anchor"]


async def test_the_thread_api_reads_the_target_row_on_the_event_loop_as_it_is_now(
    ds, as_actor, monkeypatch
):
    alice = as_actor("alice")
    await alice.new_thread("the price", table="items", row=[1], column="price")
    data = ds.get_database("data")
    trips = ReadThreadTrips(data, monkeypatch)
    assert await anchor(alice) == {"state": "current", "old_value": 1.5, "current_value": 1.5}
    await data.execute_write("update items set price = 9 where id = 1")
    assert await anchor(alice) == {"state": "outdated", "old_value": 1.5, "current_value": 9}
    await data.execute_write("delete from items where id = 1")
    assert (await anchor(alice))["state"] == "row-deleted"
    assert trips.made == []


async def test_a_busy_user_database_sends_the_row_read_to_its_read_thread(
    ds, as_actor, monkeypatch
):
    alice = as_actor("alice")
    await alice.new_thread("the price", table="items", row=[1], column="price")
    data = ds.get_database("data")
    trips = ReadThreadTrips(data, monkeypatch)
    monkeypatch.setitem(loop_reads._connections, data, BusyConnection())
    assert await anchor(alice) == {"state": "current", "old_value": 1.5, "current_value": 1.5}
    assert len(trips.made) == 1


async def test_the_readers_permissions_are_one_question_asked_again_before_they_run_out(
    ds, as_actor, frozen_time, monkeypatch
):
    alice = as_actor("alice")
    await alice.new_thread("the price", table="items", row=[1], column="price")
    asked = []
    allowed_many = ds.allowed_many

    async def counted(**kwargs):
        if "comments-view" in kwargs["actions"]:
            asked.append(sorted(kwargs["actions"]))
        return await allowed_many(**kwargs)

    monkeypatch.setattr(ds, "allowed_many", counted)
    frozen_time.advance(ANSWER_SECONDS)  # nothing kept from the thread's creation
    assert (await alice.get(THREADS)).json()["threads"][0]["can_reply"] is True
    every_action = [
        "comments-add",
        "comments-moderate",
        "comments-view",
        "view-database",
        "view-table",
    ]
    assert asked == [every_action]  # one question for the views and every comment action
    frozen_time.advance(ANSWER_SECONDS * 0.5)
    await alice.get(THREADS)
    assert len(asked) == 1
    # In the last fifth of its second the answer serves the request and is asked again
    # meanwhile, so the request after its second ends finds a fresh one and asks nothing.
    frozen_time.advance(ANSWER_SECONDS * 0.4)
    await alice.get(THREADS)
    await asyncio.sleep(0.05)
    assert len(asked) == 2
    frozen_time.advance(ANSWER_SECONDS * 0.2)
    await alice.get(THREADS)
    assert len(asked) == 2


async def test_a_read_that_waited_for_a_core_is_not_made_again_by_a_read_thread(ds):
    threads = []

    def read_after_a_wait(conn):
        threads.append(threading.get_ident())
        time.sleep(loop_reads.LOOP_READ_SECONDS * 3)  # as if the machine gave the loop no core
        return conn.execute(
            "with recursive n(x) as (select 1 union all select x + 1 from n where x < 500)"
            " select count(*) from n"
        ).fetchone()[0]

    assert await read_on_loop(ds, read_after_a_wait) == 500
    assert threads == [threading.get_ident()]  # on the loop, once


BADGES = "/-/comments/api/badges?database=data&table=items&row=1&row=2&row=3"


async def badge_counts(client):
    return (await client.get(BADGES)).json()["counts"]


async def test_badge_counts_are_kept_until_the_internal_db_changes(ds, as_actor, monkeypatch):
    alice, mod = as_actor("alice"), as_actor("mod")
    first = await alice.new_thread("one", table="items", row=[1])
    assert await badge_counts(alice) == {"1": {"threads": 1, "open": 1}}
    reads = []
    read_badge_counts = store.read_badge_counts
    monkeypatch.setattr(
        store, "read_badge_counts", lambda *args: reads.append(args) or read_badge_counts(*args)
    )
    assert await badge_counts(alice) == {"1": {"threads": 1, "open": 1}}
    assert reads == []  # kept: nothing was written since
    # Every write of a thread or its state shows in the next answer.
    second = await alice.new_thread("two", table="items", row=[2], column="price")
    assert await badge_counts(alice) == {
        "1": {"threads": 1, "open": 1},
        "2": {"threads": 1, "open": 1},
    }
    await alice.post(f"/-/comments/api/threads/{first['id']}/resolve", {})
    assert (await badge_counts(alice))["1"] == {"threads": 1, "open": 0}
    await mod.post(f"/-/comments/api/threads/{first['id']}/reopen", {})
    assert (await badge_counts(alice))["1"] == {"threads": 1, "open": 1}
    # ...and a write by another connection (another process, a tool) too.
    conn = sqlite3.connect(get_internal_db(ds).path)
    with conn:
        conn.execute(f"delete from {store.THREADS} where id = ?", [second["id"]])
    conn.close()
    assert await badge_counts(alice) == {"1": {"threads": 1, "open": 1}}
    assert len(reads) == 4  # one per write
    # The permission check comes first on every request, kept counts or not.
    assert (await as_actor(None).get(BADGES)).status_code == 404


async def test_thread_reads_and_badges_are_sent_with_their_length_as_datasette_encodes_json(
    ds, as_actor
):
    alice = as_actor("alice")
    thread = await alice.new_thread("the price", table="items", row=[1], column="price")
    for path in (THREADS, f"/-/comments/api/threads/{thread['id']}", BADGES):
        response = await alice.get(path)
        assert response.status_code == 200
        # Not chunked: the body goes out in one write, with nothing after it.
        assert response.headers["content-length"] == str(len(response.content))
        assert "transfer-encoding" not in response.headers
        assert response.headers["content-type"] == "application/json; charset=utf-8"
        assert response.content == json.dumps(response.json()).encode()  # as Response.json
