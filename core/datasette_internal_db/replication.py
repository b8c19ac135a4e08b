"""Replicating the internal DB with Litestream 0.5: the public API and core's two startup steps.

Why core supervises Litestream instead of running under ``litestream replicate -exec``
(measured, docs/scale-out.md): Litestream starts uploading before it runs the ``-exec``
command, so a check inside Datasette would come after an old primary had already overwritten
the replica; and when Litestream dies under ``-exec``, Datasette keeps serving writes that are no
longer replicated and nothing notices. Here the checks run in core's first startup hook, before
any Litestream touches the replica, and a Litestream that exits is restarted.

The parts, one module each (docs/architecture.md): ``replication_config`` (the config block,
``ReplicationError``), ``litestream`` (its folder, binary, one-shot commands, positions),
``restore`` (restore on boot), ``stale_primary`` (the refusal, writer epochs),
``litestream_supervisor`` (the ``litestream replicate`` process), ``replication_status``
(state and lag), ``readnode`` (read nodes).
"""

import asyncio
import weakref

from .litestream import litestream_binary, meta_dir, socket_path
from .litestream_supervisor import Litestream, start, stop, supervisor_of
from .replication_config import (
    INSTALL,
    SETTING,
    STALE_OVERRIDE,
    ReplicationConfig,
    ReplicationError,
    config_of,
    parse_config,
)
from .replication_status import daemon_status, render_status, status
from .restore import begin_early_restore, prepare_primary
from .stale_primary import record_writer

__all__ = [
    "INSTALL",
    "SETTING",
    "STALE_OVERRIDE",
    "Litestream",
    "ReplicationConfig",
    "ReplicationError",
    "config_of",
    "daemon_status",
    "litestream_binary",
    "meta_dir",
    "parse_config",
    "prepare",
    "render_status",
    "socket_path",
    "start_replication",
    "status",
    "stop",
    "supervisor_of",
]

# Imported while Datasette loads its plugins, seconds before its startup hooks: the restore of
# a missing file can run meanwhile (restore.py).
begin_early_restore()

# Between prepare() and start_replication(): a read node's replica database; whether a
# primary's file was just restored.
_replicas = weakref.WeakKeyDictionary()
_restored = weakref.WeakKeyDictionary()


async def prepare(datasette):
    """Core's startup, before the lock: the replication config (None without one), with the
    file restored if missing or refused if stale. Problems are StartupErrors."""
    from datasette.utils import StartupError

    from .database import get_internal_db, is_persistent

    try:
        config = config_of(datasette)
        if config is None:
            return None
        if not is_persistent(datasette):
            raise ReplicationError(
                f"{SETTING} is set but there is no internal file to replicate: "
                "start with --internal PATH"
            )
        if config.role == "read":
            from . import readnode
            from .lifecycle import migration_sets

            sets = migration_sets(datasette)
            _replicas[datasette] = await asyncio.to_thread(
                readnode.prepare, datasette, config, sets
            )
        else:
            path = get_internal_db(datasette).path
            _restored[datasette] = await asyncio.to_thread(prepare_primary, path, config)
    except ReplicationError as error:
        raise StartupError(str(error)) from None
    return config


async def start_replication(datasette, config):
    """Core's startup, last step. A primary: a new writer epoch, then Litestream and its first
    sync. A read node: plugins read the replica from now on."""
    from datasette.utils import StartupError

    from .database import get_internal_db, use_read_replica

    if config.role == "read":
        use_read_replica(datasette, _replicas.pop(datasette))
        return
    internal = get_internal_db(datasette)
    await record_writer(internal)
    # After a restore Litestream's first upload is the whole file (it always snapshots a
    # database that is behind its replica): Datasette serves meanwhile, or the RTO would
    # include uploading again what was just downloaded.
    wait = not _restored.pop(datasette, False)
    try:
        await asyncio.to_thread(start, datasette, internal.path, config, wait)
    except ReplicationError as error:
        raise StartupError(str(error)) from None
