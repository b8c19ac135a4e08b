"""The stale-primary refusal: a server must not become the writer of a replica its file is
behind, or has diverged from (the old primary after a failover). Writer epochs are how a
divergence shows when positions alone cannot tell."""

import json
import os
import socket
import sqlite3
import subprocess
import sys

from . import clock
from .litestream import (
    litestream_env,
    local_files,
    meta_dir,
    newest_txid,
    replica_files,
    write_litestream_config,
)
from .replication_config import INSTALL, STALE_OVERRIDE, ReplicationError

PROBE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "replica_probe.py")
WRITERS_TABLE = "_datasette_internal_writers"


async def record_writer(internal):
    """A new writer epoch, committed before Litestream starts, so the replica's first sync of
    this server carries it: any older primary started later finds it missing from its file."""
    await internal.execute_write(
        f"insert into {WRITERS_TABLE} (epoch, started_at, host, pid) values (?, ?, ?, ?)",
        [os.urandom(16).hex(), clock.iso(), socket.gethostname(), os.getpid()],
    )


def local_writer_epochs(path):
    """The writer epochs recorded in the local file (none before migration m008_writers)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        exists = conn.execute(
            "select 1 from sqlite_master where type = 'table' and name = ?", [WRITERS_TABLE]
        ).fetchone()
        if not exists:
            return set()
        return {row[0] for row in conn.execute(f"select epoch from {WRITERS_TABLE}")}
    finally:
        conn.close()


def replica_writer(config, timeout=60):
    """The replica's newest writer epoch, read through litestream-vfs in a process of its own
    (the VFS takes its configuration only from the environment a process starts with)."""
    env = litestream_env(config)
    env["LITESTREAM_REPLICA_URL"] = config.replica
    problem = "no answer"
    try:
        result = subprocess.run(
            [sys.executable, PROBE], env=env, capture_output=True, text=True, timeout=timeout
        )
        lines = result.stdout.strip().splitlines()
        answer = json.loads(lines[-1]) if lines else {"ok": False, "error": result.stderr[-500:]}
        if answer["ok"]:
            return answer["writer"]
        problem = answer["error"]
    except subprocess.TimeoutExpired:
        problem = f"no answer in {timeout} s"
    except ValueError as error:
        problem = str(error)
    raise ReplicationError(
        f"The stale-primary check could not read the replica through litestream-vfs: {problem}. "
        f"It needs litestream-vfs ({INSTALL}) and a Python whose SQLite can load extensions."
    )


def check_not_stale(path, config):
    """Refuse to become the writer of a replica this file is behind, or has diverged from.

    Behind: Litestream's position for the file (its newest local LTX file) is older than the
    replica's newest transaction. Diverged: the replica's newest writer epoch (written by every
    server at its start as the writer, before Litestream runs) is not in this file's history:
    another server became the writer after this file was last replicated (a failover). Started
    anyway, Litestream 0.5 uploads this file's history under transaction numbers the replica
    already used, and a restore returns a mix or this file's rows instead of acknowledged ones.
    """
    write_litestream_config(path, config)
    files = replica_files(path, config)
    if not files:
        return
    replica_position = newest_txid(files)
    local = local_files(path)
    fix = (
        f"To serve what the replica holds, move {path} aside with its -wal and -shm files and "
        f"{meta_dir(path)}: the next start restores it from the replica. To make this file the "
        f"replica's history instead, discarding what the replica gained since, start once with "
        f"{STALE_OVERRIDE}."
    )
    where = f"Refusing to start as the writer of {config.replica}"
    if not local:
        raise ReplicationError(
            f"{where}: {path} was not replicated from this machine (no Litestream state beside "
            f"it) and the replica holds transactions up to {replica_position}, so this file may "
            f"be behind or diverged. {fix}"
        )
    local_position = newest_txid(local)
    if local_position < replica_position:
        raise ReplicationError(
            f"{where}: {path} is behind it. This file was replicated up to transaction "
            f"{local_position}, the replica holds up to {replica_position}: another server wrote "
            f"to the replica since (a failover?) and starting here would overwrite that. {fix}"
        )
    newest = replica_writer(config)
    if newest is not None and newest["epoch"] not in local_writer_epochs(path):
        raise ReplicationError(
            f"{where}: {path} has diverged from it. The replica's newest writer (started "
            f"{newest['started_at']} on {newest['host']}, pid {newest['pid']}) is not in this "
            f"file's history: another server became the writer after this file was last "
            f"replicated (a failover). {fix}"
        )
