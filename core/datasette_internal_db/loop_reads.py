"""Short reads made on the event loop itself, without the hand-over to Datasette's read threads.

One indexed query of well under a millisecond costs less on the event loop than the hand-over
to a read thread and back, which on a busy machine waits for a free core twice: on pages drawn
for every request (a table page's badges, a bookmarks list, a short link) those waits are the
slow 1%. Anything longer belongs in ``execute_fn`` and gets there: ``read_on_loop`` stops a read
that has used LOOP_READ_SECONDS of CPU time and makes it again in a read thread.
"""

import sqlite3
import time
import weakref
from urllib.parse import quote

from datasette.database import Database

from .database import get_internal_db

LOOP_READ_SECONDS = 0.002  # the most CPU time a read may take on the event loop
LOOP_READ_STEPS = 1000  # SQLite instructions between two looks at the clock
DATA_VERSION = "pragma data_version"

# datasette (its internal DB) or a served Database -> read-only connection, or None
_connections = weakref.WeakKeyDictionary()


def loop_connection(datasette, db=None):
    """A read-only connection to the internal DB file (or to served database ``db``'s file),
    opened on first use, for reads made on the event loop; None where that is not safe: an
    internal DB that is not a WAL file or is a read node's replica, a database in memory or of
    a subclass (which may connect its own way). ``busy_timeout`` is 0: a busy file fails the
    read at once instead of making the loop wait."""
    key = datasette if db is None else db
    if key in _connections:
        return _connections[key]
    conn = None
    if db is None:
        db = get_internal_db(datasette)
        if type(db) is Database and db is datasette.get_internal_database() and db.path:
            conn = sqlite3.connect(
                f"file:{quote(db.path)}?mode=ro", uri=True, timeout=0, check_same_thread=False
            )
            conn.row_factory = sqlite3.Row
            # In WAL mode a reader never waits for the writer.
            if conn.execute("pragma journal_mode").fetchone()[0] != "wal":
                conn.close()
                conn = None
            else:
                weakref.finalize(datasette, conn.close)
    elif type(db) is Database and db.path and not (db.is_memory or db.memory_name):
        # Opened as Datasette opens its read connections (mode=ro or immutable, its
        # prepare_connection hooks) and closed with the database.
        try:
            conn = db.connect()
            conn.execute("pragma busy_timeout = 0")
            datasette._prepare_connection(conn, db.name)
        except sqlite3.Error:
            conn = None  # Datasette's own connections will say what is wrong
    _connections[key] = conn
    return conn


async def read_on_loop(datasette, read, db=None):
    """``read(conn)`` of the internal DB (or of served database ``db``) on the event loop.

    ``read`` must finish its statements (``fetchall``, ``fetchone`` of a one-row query): no read
    transaction stays open. It is made again by a read thread, which answers as usual, when it
    has used LOOP_READ_SECONDS of CPU time, the file is busy, a text cannot be decoded (the
    threads' connections replace bad UTF-8), or no loop connection can be had.
    """
    conn = loop_connection(datasette, db)
    if conn is not None:
        # CPU time of this thread, not the clock: on a busy machine a short read that waited for
        # a core would otherwise be interrupted and then paid for twice.
        deadline = time.thread_time() + LOOP_READ_SECONDS
        conn.set_progress_handler(lambda: time.thread_time() > deadline, LOOP_READ_STEPS)
        try:
            return read(conn)
        except sqlite3.OperationalError:
            pass  # busy, too long, undecodable or not migrated yet: the read thread answers
        finally:
            conn.set_progress_handler(None, 0)
    return await (get_internal_db(datasette) if db is None else db).execute_fn(read)


def internal_data_version(datasette):
    """The internal DB's ``pragma data_version`` on the loop connection: it changes with every
    commit made by another connection (every write of this process, and of any other), so two
    equal values mean nothing was written between them. None without a loop connection."""
    conn = loop_connection(datasette)
    if conn is None:
        return None
    try:
        return conn.execute(DATA_VERSION).fetchone()[0]
    except sqlite3.OperationalError:
        return None
