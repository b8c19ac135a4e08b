"""Restore on boot: a primary whose internal file is missing gets it from the replica before
Datasette opens it; an existing file is checked against the replica instead (stale_primary.py)."""

import logging
import os
import shutil
import time

from .litestream import (
    config_path,
    litestream_binary,
    meta_dir,
    run_litestream,
    write_litestream_config,
)
from .replication_config import ReplicationError
from .stale_primary import check_not_stale

log = logging.getLogger("datasette_internal_db")


def is_missing(path):
    return not os.path.exists(path) or os.path.getsize(path) == 0


def restore(path, config):
    """Restore ``path`` from the replica when the file is missing; True if it was restored.

    A ``-wal``/``-shm`` or Litestream state left without their database belong to a file that
    is gone: applied to the restored copy they would corrupt it, so they are removed first.
    The copy is restored beside the path and linked into place only if no file appeared
    meanwhile, so a second server starting at the same moment cannot replace it.
    """
    if os.path.exists(path) and os.path.getsize(path) == 0:
        os.unlink(path)
    for suffix in ("-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.unlink(path + suffix)
    shutil.rmtree(meta_dir(path), ignore_errors=True)
    write_litestream_config(path, config)
    restoring = f"{path}.restoring-{os.getpid()}"
    for leftover in (restoring, restoring + "-wal", restoring + "-shm"):
        if os.path.exists(leftover):
            os.unlink(leftover)
    started = time.perf_counter()
    run_litestream(
        config, "restore", "-if-replica-exists", "-config", config_path(path), "-o", restoring, path
    )
    if not os.path.exists(restoring):
        return False  # the replica is empty: a new database
    try:
        os.link(restoring, path)
    except FileExistsError:
        raise ReplicationError(
            f"{path} appeared while it was being restored: is another server starting on it?"
        ) from None
    finally:
        os.unlink(restoring)
    log.warning(
        "Internal database %s restored from %s in %.1f s",
        path,
        config.replica,
        time.perf_counter() - started,
    )
    return True


def prepare_primary(path, config):
    """Before Datasette opens the file: restore it when missing, else refuse a stale file.
    True when it was restored."""
    litestream_binary()
    restored = False
    if is_missing(path):
        restored = restore(path, config)
    elif config.unsafe_start_stale:
        log.warning(
            "\n!!! UNSAFE: unsafe_start_stale is set: %s is not checked against %s; if it is "
            "behind or diverged, what the replica gained since is overwritten.",
            path,
            config.replica,
        )
    else:
        check_not_stale(path, config)
    write_litestream_config(path, config)
    return restored
