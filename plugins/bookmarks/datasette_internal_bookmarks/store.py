"""What Datasette's own tables say about a target: the resource a path shows, and whether it
still exists; and the read-only connection for reads made on the event loop. Read only; the
plugin's own tables are in store_bookmarks.py and store_links.py."""

import sqlite3
import time
import weakref

from datasette.utils import urlsafe_components
from datasette_internal_db import fetch_row, get_internal_db

from .targets import Target

LOOP_READ_SECONDS = 0.002  # the most CPU time a read may take on the event loop
LOOP_READ_STEPS = 1000  # SQLite instructions between two looks at the clock

_loop_readers = weakref.WeakKeyDictionary()


def loop_reader(datasette):
    """A read-only connection to the internal file for short indexed reads made on the event
    loop (the redirect's link, the list page's rows); None for an in-memory internal DB.
    ``timeout=0``: a busy file raises at once instead of blocking the event loop. Opened on
    first use, closed by ``close_loop_reader`` (at shutdown)."""
    if datasette not in _loop_readers:
        internal = get_internal_db(datasette)
        reader = None
        if not internal.is_memory and internal.path:
            reader = sqlite3.connect(f"file:{internal.path}?mode=ro", uri=True, timeout=0)
            reader.row_factory = sqlite3.Row
        _loop_readers[datasette] = reader
    return _loop_readers[datasette]


def close_loop_reader(datasette):
    reader = _loop_readers.pop(datasette, None)
    if reader is not None:
        reader.close()


async def read_on_loop(datasette, read):
    """``read(conn)`` of the internal DB on the event loop, without the hand-over to a read
    thread and back (on a busy machine each of the two waits for a free core: the list page's
    slow 1%). A read that has taken LOOP_READ_SECONDS of CPU time is interrupted and made again
    by Datasette's read thread, as is one that finds the file busy or cannot decode a text (the
    thread's connection replaces bad UTF-8), so the loop never works long on one. ``read`` must
    finish its statements (``fetchall``): no read transaction stays open."""
    reader = loop_reader(datasette)
    if reader is not None:
        # CPU time, not the clock: on a busy machine a read that waited for a core would
        # otherwise be interrupted and then paid for twice.
        deadline = time.thread_time() + LOOP_READ_SECONDS
        reader.set_progress_handler(lambda: time.thread_time() > deadline, LOOP_READ_STEPS)
        try:
            return read(reader)
        except sqlite3.OperationalError:
            pass
        finally:
            reader.set_progress_handler(None, 0)
    return await get_internal_db(datasette).execute_fn(read)


async def resolve_target(datasette, target):
    """Turn the router's reading of a path into names the permission system knows.

    The database segment is a route, which may differ from the database name; a second segment
    is a stored query when the ``queries`` table says so, otherwise a table.
    """
    if target.database is None:
        return target
    try:
        database = datasette.get_database(route=target.database).name
    except KeyError:
        database = target.database
    kind = target.kind
    if kind == "table":
        row = (
            await get_internal_db(datasette).execute(
                "select 1 from queries where database_name = ? and name = ?",
                [database, target.name],
            )
        ).first()
        if row is not None:
            kind = "query"
    return Target(kind, database, target.name, target.row)


async def missing_part(datasette, target):
    """Why a bookmarked target no longer exists (None when it does), from the catalog."""
    if target.database is None:
        return None
    internal = get_internal_db(datasette)
    found = (
        await internal.execute(
            "select 1 from catalog_databases where database_name = ?", [target.database]
        )
    ).first()
    if found is None:
        return f"database {target.database} no longer exists"
    if target.kind == "query":
        found = (
            await internal.execute(
                "select 1 from queries where database_name = ? and name = ?",
                [target.database, target.name],
            )
        ).first()
        return None if found else f"stored query {target.name} no longer exists"
    if target.kind not in ("table", "row"):
        return None
    found = (
        await internal.execute(
            "select 1 from catalog_tables where database_name = ? and table_name = ?"
            " union all select 1 from catalog_views where database_name = ? and view_name = ?",
            [target.database, target.name, target.database, target.name],
        )
    ).first()
    if found is None:
        return f"table {target.name} no longer exists"
    if target.kind == "row":
        database = datasette.get_database(target.database)
        row, _ = await fetch_row(database, target.name, urlsafe_components(target.row))
        if row is None:
            return f"row {target.row} no longer exists in {target.name}"
    return None
