"""Append-only audit log: who did what to which resource, when."""

import json

from . import clock
from .database import get_internal_db, where_clause
from .errors import InvalidInput
from .web import parse_int

MAX_DETAILS_BYTES = 16 * 1024
MAX_PAGE = 500


async def record(datasette, plugin, action, *, actor=None, resource=None, details=None):
    """Append one entry. ``actor`` is an actor dict (or None), ``details`` any JSON object."""
    encoded = json.dumps(details or {})
    if len(encoded.encode()) > MAX_DETAILS_BYTES:
        raise InvalidInput(f"Audit details are larger than {MAX_DETAILS_BYTES} bytes")
    await get_internal_db(datasette).execute_write(
        "insert into _datasette_internal_audit"
        " (created_at, plugin, action, actor_id, resource, details) values (?, ?, ?, ?, ?, ?)",
        [
            clock.iso(),
            plugin,
            action,
            (actor or {}).get("id"),
            resource,
            encoded,
        ],
    )


async def entries(
    datasette, *, plugin=None, action=None, actor_id=None, since=None, before_id=None, limit=100
):
    """Newest first; page with ``before_id`` (the last id of the previous page)."""
    if not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be an integer from 1 to {MAX_PAGE}")
    if before_id is not None:
        before_id = parse_int(before_id, "before_id")
    where, params = where_clause(
        ("plugin = :plugin", {"plugin": plugin}),
        ("action = :action", {"action": action}),
        ("actor_id = :actor_id", {"actor_id": actor_id}),
        ("created_at >= :since", {"since": since}),
        ("id < :before_id", {"before_id": before_id}),
    )
    rows = await get_internal_db(datasette).execute(
        f"select * from _datasette_internal_audit {where} order by id desc limit :limit",
        dict(params, limit=limit),
    )
    return [dict(row, details=json.loads(row["details"] or "{}")) for row in rows]


async def prune(datasette, retention_days):
    """Delete entries older than ``retention_days``; returns how many."""
    cutoff = clock.iso(clock.now() - retention_days * 86400)
    result = await get_internal_db(datasette).execute_write(
        "delete from _datasette_internal_audit where created_at < ?", [cutoff]
    )
    return result.rowcount
