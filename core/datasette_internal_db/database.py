"""Finding the internal database, making it durable, and keeping one server per file."""

import fcntl
import os
import sqlite3
import weakref

SUPPORTED_DATASETTE = "Datasette 1.0a41 or later (datasette>=1.0a41)"
BUSY_TIMEOUT_MS = 5000

_locks = weakref.WeakKeyDictionary()
# Datasettes whose internal DB core's startup step prepared (migrations applied).
_prepared = weakref.WeakSet()
# Read nodes (readnode.py): the primary's replica stands in for the internal DB of plugins.
_read_replicas = weakref.WeakKeyDictionary()


class UnsupportedDatasette(RuntimeError):
    pass


class InternalDatabaseLocked(RuntimeError):
    pass


def get_internal_db(datasette):
    """Return Datasette's internal ``Database`` (on a read node: the primary's replica)."""
    getter = getattr(datasette, "get_internal_database", None)
    if getter is None:
        from datasette.version import __version__

        raise UnsupportedDatasette(
            f"datasette-internal-db needs {SUPPORTED_DATASETTE}; this is Datasette "
            f"{__version__}, which has no get_internal_database()."
        )
    replica = _read_replicas.get(datasette)
    return getter() if replica is None else replica


async def read_rows(datasette, sql, params=(), make=dict):
    """Every row a read of the internal DB returns, each turned by ``make`` (a dict by
    default): the one line every store would otherwise write around ``execute``."""
    return [make(row) for row in await get_internal_db(datasette).execute(sql, params)]


async def read_row(datasette, sql, params=(), make=dict):
    """The first row a read of the internal DB returns, turned by ``make``; None if none."""
    row = (await get_internal_db(datasette).execute(sql, params)).first()
    return None if row is None else make(row)


def where_clause(*conditions):
    """``("where a and b", params)`` from ``(condition, params)`` pairs, leaving out each pair
    whose params hold a None (a filter not asked for); ``("", {})`` when none is left."""
    kept = [(sql, params) for sql, params in conditions if None not in params.values()]
    if not kept:
        return "", {}
    merged = {name: value for _, params in kept for name, value in params.items()}
    return "where " + " and ".join(sql for sql, _ in kept), merged


def use_read_replica(datasette, replica):
    _read_replicas[datasette] = replica


def mark_prepared(datasette):
    _prepared.add(datasette)


def is_prepared(datasette):
    """True once core's startup step has made this Datasette's internal DB ready."""
    return datasette in _prepared


def is_read_node(datasette):
    """True on a read node: plugin state comes from the primary's replica and every write to
    it is refused. Plugins skip startup writes and background writers there."""
    return datasette in _read_replicas


def is_persistent(datasette):
    """True when the internal DB is a file given with ``--internal`` (not the temp file)."""
    internal = get_internal_db(datasette)
    return not internal.is_temp_disk and not internal.is_memory


def is_wal(path):
    """The file's header says WAL (bytes 18-19 of the SQLite header are 2): read, not opened."""
    with open(path, "rb") as handle:
        header = handle.read(20)
    return len(header) == 20 and header[18:20] == b"\x02\x02"


def enable_wal(path):
    # journal_mode=WAL is stored in the file, but a read connection opened before the switch
    # keeps answering "delete", so this runs before Datasette opens any connection to it.
    # Skipped when the file is WAL already: closing the only connection checkpoints and resets
    # the WAL, which makes a replicating Litestream upload the whole file again.
    if is_wal(path):
        return
    conn = sqlite3.connect(path)
    try:
        conn.execute("pragma journal_mode=wal")
    finally:
        conn.close()


def tune_write_connection(conn):
    # synchronous and busy_timeout are per connection; Datasette keeps one write connection
    # per database, so setting them once in the write thread covers every write.
    conn.execute("pragma synchronous=normal")
    conn.execute(f"pragma busy_timeout={BUSY_TIMEOUT_MS}")


def lock_holder(path):
    """The pid holding a flock on the file at ``path``, read from /proc/locks (Linux), or None."""
    info = os.stat(path)
    identity = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    try:
        with open("/proc/locks") as locks:
            for line in locks:
                fields = line.split()
                if len(fields) > 5 and fields[1] == "FLOCK" and fields[5] == identity:
                    return fields[4]
    except OSError:
        pass
    return None


def lock_file(path):
    """An open handle holding an exclusive flock on the file at ``path`` itself.

    The lock belongs to the file (its inode), not to the path naming it, so a symlink or a hard
    link to the same file meets the same lock. SQLite locks with POSIX fcntl locks, which on
    Linux are independent of flock. The kernel drops a flock when its process dies, so a crashed
    server never blocks the next one, and nothing is left beside the file.
    """
    # Datasette may not have created the file yet; an empty file is a valid SQLite database.
    handle = open(path, "ab")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = lock_holder(path) or "unknown"
        handle.close()
        if holder == str(os.getpid()):
            who, remedy = (
                "Datasette in this process",
                "Close it first (close() or invoke_shutdown())",
            )
        else:
            who, remedy = "Datasette process", "Stop the other server"
        raise InternalDatabaseLocked(
            f"Another {who} (pid {holder}) is already serving the internal database {path}. Two "
            "Datasettes on one internal file delete each other's catalog rows and fail with "
            f"'database is locked'. {remedy} or pass a different --internal file."
        ) from None
    return handle


def acquire_server_lock(datasette, path):
    """Hold ``lock_file(path)`` for this Datasette's lifetime, or until Datasette's own
    ``close()`` (which ``invoke_shutdown()`` ends with): the next Datasette of this process to
    take a lock frees the files of closed ones, so a restart within one process (as tests make
    them) works. Datasette calls no hook after ``close()``, hence the check here."""
    for closed in [other for other in _locks if getattr(other, "_closed", False)]:
        release_server_lock(closed)
    _locks[datasette] = lock_file(path)


def release_server_lock(datasette):
    # Closing any descriptor of a file drops every POSIX lock this process holds on it, SQLite's
    # included: call this only once the Datasette's connections are closed.
    handle = _locks.pop(datasette, None)
    if handle is not None:
        handle.close()
