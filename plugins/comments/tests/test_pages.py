"""What the plugin adds to Datasette's own pages: the table page's badge counts (read with the
page, in one query, only for the rows shown), the unread-mentions count in the menu, and the
table-level thread list's count of row threads."""

import json
import re
import sqlite3
import sys
import threading

from datasette.utils import path_from_row_pks
from datasette.utils.asgi import Request
from datasette_internal_comments import pages, store, store_activity
from datasette_internal_db import clock, get_internal_db, loop_connection, loop_reads, read_on_loop

from .conftest import Client


def page_counts(page):
    """``(counted, counts)`` the table page carries for its badges, or None."""
    found = re.search(r"window.datasetteCommentsPage = (.*?);\n", page)
    if not found:
        return None
    carried = json.loads(found.group(1))
    return carried["counted"], carried["counts"]


class Trips:
    """Counts the plugin's trips to the internal DB's read thread (reads of its own tables)."""

    def __init__(self, internal, monkeypatch):
        self.made = []
        execute, execute_fn = internal.execute, internal.execute_fn

        async def counted_execute(sql, *args, **kwargs):
            if "datasette_internal_comments_" in sql:
                self.made.append(sql)
            return await execute(sql, *args, **kwargs)

        async def counted_execute_fn(fn, *args, **kwargs):
            if fn.__module__.startswith("datasette_internal_comments"):
                self.made.append(fn.__qualname__)
            return await execute_fn(fn, *args, **kwargs)

        monkeypatch.setattr(internal, "execute", counted_execute)
        monkeypatch.setattr(internal, "execute_fn", counted_execute_fn)


class LoopReads:
    """Stands in for the plugin's read-only connection used on the event loop: counts its
    queries, or fails each with ``error`` (as a busy file would)."""

    def __init__(self, ds, monkeypatch, error=None):
        self.made = []  # queries, apart from the look at the data version (loop_reads.DATA_VERSION)
        self.error = error
        self.conn = loop_connection(ds)
        assert self.conn is not None  # a WAL file: reads on the loop are possible
        monkeypatch.setitem(loop_reads._connections, ds, self)

    def execute(self, sql, params=()):
        if sql != loop_reads.DATA_VERSION:
            self.made.append(sql)
        if self.error:
            raise self.error
        return self.conn.execute(sql, params)

    def set_progress_handler(self, handler, steps):
        self.conn.set_progress_handler(handler, steps)


async def with_table(files, datasette_on, script):
    """Another Datasette on the test's files, after ``script`` added a table to data.db."""
    conn = sqlite3.connect(files[0])
    conn.executescript(script)
    conn.close()
    return await datasette_on(internal="keys.db")


async def test_badge_counts_come_with_the_table_page_for_the_rows_shown(ds, as_actor, monkeypatch):
    alice = as_actor("alice")
    await alice.new_thread("one", table="items", row=["1"])
    resolved = await alice.new_thread("two", table="items", row=["1"], column="price")
    await alice.post(f"/-/comments/api/threads/{resolved['id']}/resolve", {})
    await alice.new_thread("three", table="items", row=["3"])
    trips = Trips(get_internal_db(ds), monkeypatch)
    loop_reads = LoopReads(ds, monkeypatch)
    page = await alice.get("/data/items?_size=2")
    assert page_counts(page.text) == (True, {"1": {"threads": 2, "open": 1}})
    # the badge counts and the menu's unread mentions: one statement read on the event loop,
    # no trip to the read threads
    assert trips.made == []
    assert loop_reads.made == [store_activity.TABLE_PAGE_READS]
    loop_reads.made.clear()
    anonymous = (await as_actor(None).get("/data/items")).text
    assert page_counts(anonymous) is None
    assert "comments" not in anonymous.lower()
    assert trips.made == loop_reads.made == []


async def test_a_busy_file_sends_the_page_reads_to_the_read_thread(ds, as_actor, monkeypatch):
    alice = as_actor("alice")
    await alice.new_thread("one", table="items", row=["1"])
    trips = Trips(get_internal_db(ds), monkeypatch)
    loop_reads = LoopReads(ds, monkeypatch, sqlite3.OperationalError("database is locked"))
    page = await alice.get("/data/items?_size=2")
    assert page_counts(page.text) == (True, {"1": {"threads": 1, "open": 1}})
    assert loop_reads.made == [store_activity.TABLE_PAGE_READS]
    assert trips.made == ["table_page_reads.<locals>.read"]


async def test_a_table_page_shown_again_reads_nothing_until_the_internal_db_changes(
    ds, as_actor, monkeypatch
):
    alice, bob = as_actor("alice"), as_actor("bob")
    first = await alice.new_thread("one", table="items", row=["1"])
    loop_reads = LoopReads(ds, monkeypatch)
    assert page_counts((await alice.get("/data/items?_size=2")).text)[1] == {
        "1": {"threads": 1, "open": 1}
    }
    assert page_counts((await alice.get("/data/items?_size=2")).text)[1] == {
        "1": {"threads": 1, "open": 1}
    }
    assert loop_reads.made == [store_activity.TABLE_PAGE_READS]  # the second page: kept
    # Kept per reader (the unread mentions are theirs) and per set of rows.
    await bob.get("/data/items?_size=2")
    await alice.get("/data/items?_size=3")
    assert len(loop_reads.made) == 3
    # Any write shows on the next page: counts, resolutions, mentions.
    await bob.post(f"/-/comments/api/threads/{first['id']}/comments", {"body": "@alice look"})
    await alice.post(f"/-/comments/api/threads/{first['id']}/resolve", {})
    page = (await alice.get("/data/items?_size=2")).text
    assert page_counts(page)[1] == {"1": {"threads": 1, "open": 0}}
    assert "1 unread mention" in page
    # ...also a write by another connection (another process, a tool).
    conn = sqlite3.connect(get_internal_db(ds).path)
    with conn:
        conn.execute(f"delete from {store.THREADS} where id = ?", [first["id"]])
    conn.close()
    assert page_counts((await alice.get("/data/items?_size=2")).text)[1] == {}
    assert len(loop_reads.made) == 5


async def test_a_read_too_long_for_the_event_loop_is_made_again_by_a_read_thread(ds, monkeypatch):
    monkeypatch.setattr(loop_reads, "LOOP_READ_SECONDS", 0.0)
    threads = []

    def long_read(conn):
        threads.append(threading.get_ident())
        return conn.execute(
            "with recursive n(x) as (select 1 union all select x + 1 from n where x < 100000)"
            " select count(*) from n"
        ).fetchone()[0]

    assert await read_on_loop(ds, long_read) == 100_000
    # begun on the loop, interrupted at the first look at the clock, answered by a read thread
    assert len(threads) == 2
    assert threads[0] == threading.get_ident() != threads[1]
    # the loop connection is left without the interrupting handler
    assert await read_on_loop(ds, lambda conn: conn.execute("select 1").fetchone()[0]) == 1


async def test_the_thread_and_badge_apis_make_no_trip_to_the_internal_dbs_read_threads(
    ds, as_actor, monkeypatch
):
    alice = as_actor("alice")
    await alice.new_thread("one", table="items", row=["1"])
    monkeypatch.setattr(clock, "now", lambda: 1_000_000.0)  # recent answers stay recent
    await alice.get("/-/comments/api/badges?database=data&table=items&row=1")
    trips = Trips(get_internal_db(ds), monkeypatch)
    loop_reads = LoopReads(ds, monkeypatch)
    ds._permission_checks.clear()
    threads = await alice.get("/-/comments/api/threads?database=data&table=items&row=1")
    assert [thread["anchor"]["state"] for thread in threads.json()["threads"]] == ["current"]
    badges = await alice.get("/-/comments/api/badges?database=data&table=items&row=1&row=2")
    assert badges.json()["counts"] == {"1": {"threads": 1, "open": 1}}
    # the threads (with their comments) and the counts were read on the event loop, and both
    # permission answers were core's recent ones
    assert trips.made == []
    assert loop_reads.made[0].startswith(f"select {store.THREAD_COLUMNS} from")
    assert loop_reads.made[-1] == store.BADGE_COUNTS
    assert list(ds._permission_checks) == []


def test_row_keys_are_the_row_paths_datasette_writes():
    rows = [{"id": value} for value in (1, -5, 2**70, "a/b c", "ü,~", 1.5, True)]
    for row in rows:
        assert store.row_key_for([row["id"]]) == path_from_row_pks(row, ["id"], False)
    assert store.row_key_for([3, "x/y"]) == path_from_row_pks(
        {"a": 3, "b": "x/y"}, ["a", "b"], False
    )


async def test_rows_are_keyed_only_for_a_reader_who_may_see_comments(ds, as_actor, monkeypatch):
    keyed = []
    keys_of_rows_seen = pages.keys_of_rows_seen
    monkeypatch.setattr(
        pages,
        "keys_of_rows_seen",
        lambda request: keyed.append(keys_of_rows_seen(request)) or keyed[-1],
    )
    await as_actor(None).get("/data/items")
    assert keyed == []
    await as_actor("alice").get("/data/items?_size=2")
    assert keyed == [["1", "2"]]


async def test_counts_of_rows_with_text_and_compound_keys_come_with_the_page(files, datasette_on):
    datasette = await with_table(
        files,
        datasette_on,
        "create table tags (name text primary key, note text);"
        "insert into tags (name) values ('a/b c'), ('9'), ('plain');",
    )
    alice = Client(datasette, "alice")
    for table, row in (("tags", ["a/b c"]), ("tags", ["9"]), ("pairs", ["x/y", "z,w"])):
        await alice.new_thread("here", table=table, row=row)
    tags = page_counts((await alice.get("/data/tags")).text)
    one = {"threads": 1, "open": 1}
    # the keys are the row paths Datasette writes ('9' is text here, not the integer 9)
    slashed = path_from_row_pks({"name": "a/b c"}, ["name"], False)
    assert tags == (True, {slashed: one, "9": one})
    pair = path_from_row_pks({"a": "x/y", "b": "z,w"}, ["a", "b"], False)
    assert page_counts((await alice.get("/data/pairs")).text) == (True, {pair: one})


async def test_table_pages_do_not_resolve_the_comment_actions_for_the_actions_menu(ds, as_actor):
    # Datasette resolves every action whose resource class is TableResource on each table page;
    # the comment actions use their own class, so only comments-view is asked (by the plugin).
    for actor_id in (None, "alice"):
        ds._permission_checks.clear()
        page = await as_actor(actor_id).get("/data/items")
        assert page.status_code == 200
        asked = {check.action for check in ds._permission_checks}
        assert "update-row" in asked  # Datasette's own table actions were resolved
        assert not asked & {"comments-add", "comments-moderate"}


async def test_a_table_of_only_its_primary_key_asks_for_counts_after_the_page(files, datasette_on):
    datasette = await with_table(
        files,
        datasette_on,
        "create table keys_only (id integer primary key); insert into keys_only values (1), (2);",
    )
    page = await Client(datasette, "alice").get("/data/keys_only")
    # Datasette drew no cell through render_cell: the page says the counts are to be asked
    assert page_counts(page.text) == (False, {})


async def test_the_menu_counts_unread_mentions_the_reader_may_see(as_actor):
    alice, admin, bob = as_actor("alice"), as_actor("admin"), as_actor("bob")
    thread = await alice.new_thread("Look @bob", table="items", row=["1"])
    await admin.new_thread("Secret for @bob", table="hidden", row=["1"])
    await bob.reply(thread["id"], "Seen")
    await alice.reply(thread["id"], "Thanks")  # a reply to bob, not a mention
    menu = (await bob.get("/")).text
    assert "Comments inbox (1 unread mention)" in menu
    await bob.post("/-/comments/api/inbox/read", {"all": True})
    menu = (await bob.get("/")).text
    assert "Comments inbox</a>" in menu and "unread mention" not in menu
    await alice.new_thread("@bob again", table="items", row=["2"])
    await alice.new_thread("and @bob", table="notes")
    assert "Comments inbox (2 unread mentions)" in (await bob.get("/-/comments")).text
    assert "Comments inbox" not in (await as_actor(None).get("/")).text


async def test_a_table_page_menu_counts_the_unread_mentions_read_with_its_badges(as_actor):
    alice, admin, bob = as_actor("alice"), as_actor("admin"), as_actor("bob")
    await alice.new_thread("Look @bob", table="items", row=["1"])
    await alice.new_thread("and @bob", table="notes")
    await admin.new_thread("Secret for @bob", table="hidden", row=["1"])
    page = (await bob.get("/data/items")).text
    assert "Comments inbox (2 unread mentions)" in page
    assert page_counts(page) == (True, {"1": {"threads": 1, "open": 1}})
    assert "Comments inbox</a>" in (await alice.get("/data/items")).text


async def test_the_table_thread_list_counts_row_threads_and_links_to_activity(as_actor):
    alice = as_actor("alice")
    first = await alice.new_thread("row one", table="items", row=["1"])
    await alice.new_thread("cell", table="items", row=["1"], column="price")
    await alice.new_thread("row two", table="items", row=["2"])
    await alice.new_thread("the table itself", table="items")
    await alice.post(f"/-/comments/api/threads/{first['id']}/resolve", {})
    page = (await alice.get("/-/comments/target?database=data&table=items")).text
    text = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert "The rows of this table have 3 threads (2 open)" in text
    assert 'href="/-/comments?database=data&amp;table=items"' in page
    assert "the table itself" in page and "row one" not in page
    empty = (await alice.get("/-/comments/target?database=data&table=notes")).text
    assert "No row of this table has a thread yet" in empty


async def test_table_pages_ask_the_comment_permissions_once_a_second(
    ds, as_actor, monkeypatch, frozen_time
):
    """Issue 17: the hooks drawn on every table page take their answers from core's
    recent_answers; a second page, anonymous or signed in, asks nothing more. Counted are the
    checks this repo's code asks for (Datasette's own batch for the table's action menu, which
    lists every table action registered, is Datasette's)."""
    asked = []

    def counting(method):
        async def check(**kwargs):
            if sys._getframe(1).f_globals["__name__"].startswith("datasette_internal"):
                asked.append(kwargs.get("action") or tuple(kwargs["actions"]))
            return await method(**kwargs)

        return check

    monkeypatch.setattr(ds, "allowed", counting(ds.allowed))
    monkeypatch.setattr(ds, "allowed_many", counting(ds.allowed_many))
    for actor in (None, "alice"):
        asked.clear()
        for path in ("/data/items", "/data/items/1"):
            assert (await as_actor(actor).get(path)).status_code == 200
        first = list(asked)
        assert first, actor
        for path in ("/data/items", "/data/items?_sort=name", "/data/items/1", "/data/items/2"):
            assert (await as_actor(actor).get(path)).status_code == 200
        assert asked == first, (actor, asked)


async def test_asset_urls_are_plain_strings(ds):
    # Datasette calls startswith on each asset URL of every page; on a PrefixedUrlString (what
    # datasette.urls returns) each such call lists and sorts dir(str).
    request = Request.fake("/data/items")
    request.scope["actor"] = {"id": "alice"}
    for kind in ("js", "css"):
        found = await pages.asset_urls(ds, request, "table", "data", "items", kind)
        urls = [url["url"] if isinstance(url, dict) else url for url in found]
        assert len(urls) == 2
        assert all(type(url) is str for url in urls)


async def test_asset_urls_carry_datasettes_base_url_once(datasette_on):
    datasette = await datasette_on(settings={"base_url": "/prefix/"})
    page = (await Client(datasette, "alice").get("/data/items")).text
    for asset in (
        "datasette-internal-db/datasette-internal.js",
        "datasette_internal_comments/comments.js",
        "datasette-internal-db/datasette-internal.css",
        "datasette_internal_comments/comments.css",
    ):
        assert f'"/prefix/-/static-plugins/{asset}"' in page
    assert "/prefix/prefix/-/static-plugins/datasette_internal_comments" not in page
