"""Load litestream-vfs into this process, and read the replica's newest writer (run as a script).

Imports only the standard library and ``litestream_vfs``: the stale-primary check runs this file
as its own process (``python replica_probe.py``), because the VFS reads its configuration
(``LITESTREAM_REPLICA_URL``, credentials) from the environment the process *started* with, and
importing Datasette there would cost a second for nothing.
"""

import ctypes
import json
import os
import sqlite3
import sys

# Core's table of writer epochs (migration m008_writers): one row per start as the writer.
WRITERS_TABLE = "_datasette_internal_writers"
VFS_URI = "file:replica.db?vfs=litestream&mode=ro"


class VFSUnavailable(RuntimeError):
    pass


def sqlite_library():
    """The libsqlite3 the ``sqlite3`` module uses (its symbols, whether linked or built in)."""
    import _sqlite3

    try:
        return ctypes.CDLL(_sqlite3.__file__)
    except (AttributeError, OSError):  # built into the interpreter
        return ctypes.CDLL(None)


def load_litestream_vfs():
    """Register the ``litestream`` VFS in this process's SQLite.

    Python's ``enable_load_extension`` is missing when the interpreter was built without
    ``--enable-loadable-sqlite-extensions`` (pyenv's default), but the library underneath
    usually allows loading: so the extension is loaded through a connection opened with ctypes.
    A VFS registers process-wide, so every ``sqlite3`` connection can then use it.

    The extension also registers itself as an automatic extension, which makes every later
    connection in the process fail ("automatic extension loading failed"):
    ``sqlite3_reset_auto_extension()`` right after loading undoes that.
    """
    if not os.environ.get("LITESTREAM_REPLICA_URL"):
        raise VFSUnavailable(
            "LITESTREAM_REPLICA_URL is not set: litestream-vfs reads the replica URL from the "
            "environment the process started with"
        )
    try:
        import litestream_vfs
    except ImportError:
        raise VFSUnavailable(
            "litestream-vfs is not installed: pip install 'datasette-internal-db[replicate]'"
        ) from None
    library = sqlite_library()
    for name in ("sqlite3_open", "sqlite3_enable_load_extension", "sqlite3_load_extension"):
        if not hasattr(library, name):
            raise VFSUnavailable(f"this Python's SQLite has no {name}: it cannot load extensions")
    library.sqlite3_free.argtypes = [ctypes.c_void_p]
    handle = ctypes.c_void_p()
    error = ctypes.c_void_p()
    extension = os.path.splitext(litestream_vfs.loadable_path())[0].encode()
    try:
        if library.sqlite3_open(b":memory:", ctypes.byref(handle)) != 0:
            raise VFSUnavailable("could not open an SQLite connection to load litestream-vfs")
        library.sqlite3_enable_load_extension(handle, 1)
        if library.sqlite3_load_extension(handle, extension, None, ctypes.byref(error)) != 0:
            message = ctypes.string_at(error.value).decode(errors="replace") if error else "?"
            library.sqlite3_free(error)
            raise VFSUnavailable(f"SQLite refused to load litestream-vfs: {message}")
    finally:
        library.sqlite3_reset_auto_extension()
        library.sqlite3_close(handle)


def connect_replica():
    return sqlite3.connect(VFS_URI, uri=True, check_same_thread=False)


def newest_writer(conn):
    """The replica's newest writer epoch as a dict, or None (no such table or row yet)."""
    exists = conn.execute(
        "select 1 from sqlite_master where type = 'table' and name = ?", [WRITERS_TABLE]
    ).fetchone()
    if not exists:
        return None
    row = conn.execute(
        f"select epoch, started_at, host, pid from {WRITERS_TABLE} order by rowid desc limit 1"
    ).fetchone()
    if row is None:
        return None
    return dict(zip(("epoch", "started_at", "host", "pid"), row, strict=True))


def main():
    try:
        load_litestream_vfs()
        conn = connect_replica()
        result = {"ok": True, "writer": newest_writer(conn)}
        conn.close()
    except (VFSUnavailable, sqlite3.Error) as error:
        result = {"ok": False, "error": f"{error.__class__.__name__}: {error}"}
    print(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
