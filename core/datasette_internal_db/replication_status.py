"""Replication state and lag for ``datasette internal status``, read from Litestream's folder,
its control socket and the replica, with or without a server running."""

import json
import os
import time

from . import clock
from .litestream import (
    local_files,
    ltx_written_at,
    newest_txid,
    read_litestream_config,
    replica_files,
    run_litestream,
)
from .replication_config import ReplicationConfig, ReplicationError


def daemon_status(socket_file, config):
    """``litestream list`` through the control socket: is a server replicating right now?"""
    if not os.path.exists(socket_file):
        return {"running": False}
    try:
        output = run_litestream(config, "list", "-json", "-socket", socket_file, "-timeout", "3")
        databases = json.loads(output).get("databases") or []
    except (ReplicationError, ValueError):
        return {"running": False}
    entry = databases[0] if databases else {}
    return {
        "running": True,
        "status": entry.get("status"),
        "last_sync_at": entry.get("last_sync_at"),
    }


def status(path, now=None):
    """Replication state and lag of ``path`` as the last server replicating it left it, or
    None when it was never replicated. Works with no server running."""
    found = read_litestream_config(path)
    if found is None:
        return None
    now = time.time() if now is None else now
    config = ReplicationConfig(replica=found["replica"], sync_interval=found["sync_interval"])
    local = local_files(path)
    info = {
        "replica": found["replica"],
        "sync_interval": found["sync_interval"],
        "litestream": daemon_status(found["socket"], config),
        "local_txid": newest_txid(local) or None,
        "local_written_at": clock.iso(ltx_written_at(local[-1]["path"])) if local else None,
    }
    try:
        files = replica_files(path, config)
    except ReplicationError as error:
        info["replica_error"] = str(error)
        return info
    replica_position = newest_txid(files)
    unreplicated = [entry for entry in local if entry["min_txid"] > replica_position]
    info["replica_txid"] = replica_position or None
    info["replica_written_at"] = max((entry["timestamp"] for entry in files), default=None)
    info["transactions_behind"] = max(0, newest_txid(local) - replica_position)
    info["lag_seconds"] = (
        round(max(0.0, now - ltx_written_at(unreplicated[0]["path"])), 3) if unreplicated else 0.0
    )
    return info


def render_status(info):
    if info is None:
        return ["Replication: not configured (never replicated from this machine)"]
    daemon = info["litestream"]
    if daemon["running"]:
        state = f"replicating (litestream {daemon['status']}, last sync {daemon['last_sync_at']})"
    else:
        state = "not running (no server is replicating this file now)"
    lines = [
        f"Replication: {info['replica']} every {info['sync_interval']}: {state}",
        f"  local:   transaction {info['local_txid']} written {info['local_written_at']}",
    ]
    if "replica_error" in info:
        lines.append(f"  replica: could not list it: {info['replica_error']}")
        return lines
    lines.append(
        f"  replica: transaction {info['replica_txid']} written {info['replica_written_at']}"
    )
    if info["transactions_behind"]:
        lines.append(
            f"  lag:     {info['transactions_behind']} transaction(s) not replicated yet, the "
            f"oldest written {info['lag_seconds']} s ago"
        )
    else:
        lines.append("  lag:     none (the replica has every transaction Litestream saw)")
    return lines
