"""Read nodes: a Datasette that serves the plugins' pages from the primary's replica through
litestream-vfs, keeps its own local ``--internal`` for Datasette's catalog, and refuses every
write to plugin state with a 307 to the primary (or a 503 when no primary URL is set).

Datasette has no option to open a database through a VFS, and passing ``vfs=`` in its mode
string half-works (pages that stat the file fail), hence the Database subclass. The replica
cannot be a node's own ``--internal``: Datasette writes its catalog tables there at startup.
"""

import os
import sqlite3
import threading

from datasette.database import Database
from datasette.utils.asgi import Response

from .migrations import migration_status
from .replica_probe import VFS_URI, VFSUnavailable, load_litestream_vfs
from .replication_config import INSTALL, SETTING, ReplicationError
from .safety import MARKER_TABLE
from .web import json_error

REPLICA_NAME = "__INTERNAL_REPLICA__"
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
_vfs_lock = threading.Lock()
_vfs_loaded = False


class ReadOnlyNode(Exception):
    """A write to plugin state on a read node (answered with a 307 to the primary, or 503)."""

    def __init__(self, primary_url):
        self.primary_url = primary_url
        super().__init__(
            "This Datasette is a read node: plugin state is written only on the primary"
            + (f" ({primary_url})" if primary_url else "")
        )


class ReplicaDatabase(Database):
    """The primary's internal DB as its replica holds it, read only, through litestream-vfs."""

    def __init__(self, datasette, replica_url, primary_url):
        super().__init__(datasette, path=None, is_mutable=True)
        self.name = REPLICA_NAME
        self.replica_url = replica_url
        self.primary_url = primary_url

    def connect(self, write=False):
        conn = sqlite3.connect(VFS_URI, uri=True, check_same_thread=False)
        self._all_connections.append(conn)
        return conn

    # Datasette stats the file behind a database on some pages; a replica has no local file.
    @property
    def size(self):
        return 0

    @property
    def mtime_ns(self):
        return None

    def _refuse(self, *args, **kwargs):
        raise ReadOnlyNode(self.primary_url)

    async def execute_write(self, *args, **kwargs):
        self._refuse()

    async def execute_write_fn(self, *args, **kwargs):
        self._refuse()

    async def execute_write_script(self, *args, **kwargs):
        self._refuse()

    async def execute_write_many(self, *args, **kwargs):
        self._refuse()


def check_environment(config):
    """The VFS reads its configuration only from the environment the process started with."""
    found = os.environ.get("LITESTREAM_REPLICA_URL")
    if found != config.replica:
        shown = "unset" if found is None else repr(found)
        raise ReplicationError(
            f"This read node ({SETTING}.role: read) reads {config.replica} through "
            "litestream-vfs, which takes its configuration only from the environment a process "
            f"starts with: start Datasette with LITESTREAM_REPLICA_URL='{config.replica}' "
            f"(it is {shown}), and the replica's credentials in LITESTREAM_ACCESS_KEY_ID and "
            "LITESTREAM_SECRET_ACCESS_KEY (or AWS_*)."
        )
    for key, names in (
        ("access_key_id", ("AWS_ACCESS_KEY_ID", "LITESTREAM_ACCESS_KEY_ID")),
        ("secret_access_key", ("AWS_SECRET_ACCESS_KEY", "LITESTREAM_SECRET_ACCESS_KEY")),
    ):
        wanted = getattr(config, key)
        present = next((os.environ[name] for name in names if os.environ.get(name)), None)
        if wanted is not None and present != wanted:
            raise ReplicationError(
                f"{SETTING}.{key} is set, but a read node's VFS reads credentials only from the "
                f"environment: start Datasette with {names[1]} set to the same value."
            )


def load_vfs():
    global _vfs_loaded
    with _vfs_lock:
        if _vfs_loaded:
            return
        try:
            load_litestream_vfs()
        except VFSUnavailable as error:
            raise ReplicationError(
                f"This read node cannot load litestream-vfs: {error}. It needs {INSTALL} and a "
                "Python whose SQLite library can load extensions."
            ) from None
        _vfs_loaded = True


def check_replica(migration_sets):
    """The replica holds an internal DB with every step of every set installed here."""
    conn = sqlite3.connect(VFS_URI, uri=True)
    try:
        exists = conn.execute(
            "select 1 from sqlite_master where type = 'table' and name = ?", [MARKER_TABLE]
        ).fetchone()
        if not exists:
            raise ReplicationError(
                "The replica holds no internal database yet: start the primary first."
            )
        pending = [
            f"{entry['set']}: {', '.join(entry['pending'])}"
            for entry in migration_status(conn, migration_sets)
            if entry["pending"]
        ]
    except sqlite3.Error as error:
        raise ReplicationError(
            f"Could not read the replica through litestream-vfs: {error}"
        ) from None
    finally:
        conn.close()
    if pending:
        raise ReplicationError(
            f"The replica lacks migration steps that plugins here need ({'; '.join(pending)}): "
            "the primary runs older versions of them. Upgrade the primary first; read nodes "
            "never migrate."
        )


def prepare(datasette, config, migration_sets):
    """Startup of a read node, before core prepares its local --internal file."""
    check_environment(config)
    load_vfs()
    check_replica(migration_sets)
    return ReplicaDatabase(datasette, config.replica, config.primary_url)


def refused_write_response(request, exception):
    """307 to the same URL on the primary (method and body kept), or 503 without one."""
    if not isinstance(exception, ReadOnlyNode):
        return None
    if exception.primary_url is None:
        response = json_error(
            503,
            f"{exception}. No {SETTING}.primary_url is configured here to send you there: "
            "write on the primary.",
        )
        response.headers["Retry-After"] = "60"
        return response
    target = exception.primary_url.rstrip("/") + request.path
    if request.query_string:
        target += "?" + request.query_string
    return Response("", status=307, headers={"Location": target})
