"""SQL for endpoints (outgoing and incoming) and received payloads; the delivery log and the
outbox are in store_deliveries.py. Every function takes ``datasette`` first."""

import json
import sqlite3

from datasette.utils import escape_sqlite
from datasette_internal_db import get_internal_db, read_row, read_rows

from .migrations import ATTEMPTS, DELIVERIES, ENDPOINTS, INCOMING, MESSAGES, RECEIVED, SEEN
from .store_deliveries import PRUNE_CHUNK, prune_in_chunks

ENDPOINT_FIELDS = (
    "url",
    "description",
    "event_types",
    "filter_database",
    "filter_table",
    "active",
    "disabled_reason",
    "disabled_at",
    "failing_since",
    "previous_secret_expires_at",
    "secret_from_config",
    "updated_at",
)
INCOMING_FIELDS = ("description", "active", "token_hash", "updated_at")


def endpoint_from_row(row):
    endpoint = dict(row)
    endpoint["event_types"] = json.loads(endpoint["event_types"])
    endpoint["active"] = bool(endpoint["active"])
    endpoint["secret_from_config"] = bool(endpoint["secret_from_config"])
    return endpoint


def assignments(changes, allowed):
    unknown = set(changes) - set(allowed)
    assert not unknown, unknown
    return ", ".join(f"{key} = :{key}" for key in changes)


# --- outgoing endpoints ------------------------------------------------------------------------


LIST_ENDPOINTS = f"select * from {ENDPOINTS} order by created_at, id"


async def list_endpoints(datasette):
    return await read_rows(datasette, LIST_ENDPOINTS, make=endpoint_from_row)


async def get_endpoint(datasette, endpoint_id):
    sql = f"select * from {ENDPOINTS} where id = ?"
    return await read_row(datasette, sql, [endpoint_id], endpoint_from_row)


def _insert_endpoint(conn, endpoint):
    row = dict(endpoint, event_types=json.dumps(endpoint["event_types"]))
    columns = ", ".join(row)
    placeholders = ", ".join(f":{key}" for key in row)
    conn.execute(f"insert into {ENDPOINTS} ({columns}) values ({placeholders})", row)


async def insert_endpoint(datasette, endpoint):
    await get_internal_db(datasette).execute_write_fn(lambda conn: _insert_endpoint(conn, endpoint))


async def update_endpoint(datasette, endpoint_id, changes):
    values = dict(changes)
    if "event_types" in values:
        values["event_types"] = json.dumps(values["event_types"])
    await get_internal_db(datasette).execute_write(
        f"update {ENDPOINTS} set {assignments(values, ENDPOINT_FIELDS)} where id = :endpoint_id",
        dict(values, endpoint_id=endpoint_id),
    )


def _delete_endpoint(conn, endpoint_id):
    """The endpoint, its log, and the messages no other endpoint still refers to."""
    conn.execute(
        f"delete from {MESSAGES} where id in"
        f" (select message_id from {DELIVERIES} where endpoint_id = :endpoint_id)"
        f" and not exists (select 1 from {DELIVERIES} d where d.message_id = {MESSAGES}.id"
        " and d.endpoint_id != :endpoint_id)",
        {"endpoint_id": endpoint_id},
    )
    conn.execute(f"delete from {ATTEMPTS} where endpoint_id = ?", [endpoint_id])
    conn.execute(f"delete from {DELIVERIES} where endpoint_id = ?", [endpoint_id])
    conn.execute(f"delete from {ENDPOINTS} where id = ?", [endpoint_id])


async def delete_endpoint(datasette, endpoint_id):
    await get_internal_db(datasette).execute_write_fn(
        lambda conn: _delete_endpoint(conn, endpoint_id)
    )


async def sync_config_endpoints(datasette, declared, now_iso):
    """Make the config-declared endpoints match ``declared`` ({config_key: endpoint dict}).

    Returns (created_ids, removed_ids, every endpoint after the sync): startup needs no read of
    its own. Runtime state (active, failures) of kept endpoints stays.
    """

    def write(conn):
        existing = {
            key: endpoint_id
            for endpoint_id, key in conn.execute(
                f"select id, config_key from {ENDPOINTS} where config_key is not null"
            )
        }
        created, removed = [], []
        for key, endpoint in declared.items():
            if key in existing:
                conn.execute(
                    f"update {ENDPOINTS} set url = ?, description = ?, event_types = ?,"
                    " filter_database = ?, filter_table = ?, secret_from_config = ?,"
                    " updated_at = ? where id = ?",
                    [
                        endpoint["url"],
                        endpoint["description"],
                        json.dumps(endpoint["event_types"]),
                        endpoint["filter_database"],
                        endpoint["filter_table"],
                        int(endpoint["secret_from_config"]),
                        now_iso,
                        existing[key],
                    ],
                )
            else:
                _insert_endpoint(conn, endpoint)
                created.append(endpoint["id"])
        for key, endpoint_id in existing.items():
            if key not in declared:
                _delete_endpoint(conn, endpoint_id)
                removed.append(endpoint_id)
        listed = conn.execute(LIST_ENDPOINTS)
        columns = [column[0] for column in listed.description]
        endpoints = [endpoint_from_row(zip(columns, row, strict=True)) for row in listed]
        return created, removed, endpoints

    return await get_internal_db(datasette).execute_write_fn(write)


# --- incoming endpoints and what they received --------------------------------------------------


def incoming_from_row(row):
    incoming = dict(row)
    incoming.pop("token_hash", None)
    incoming["active"] = bool(incoming["active"])
    return incoming


async def list_incoming(datasette):
    sql = f"select * from {INCOMING} order by created_at, id"
    return await read_rows(datasette, sql, make=incoming_from_row)


async def get_incoming(datasette, incoming_id=None, slug=None):
    """The row (with its token hash) by id or by slug, or None."""
    column, value = ("id", incoming_id) if slug is None else ("slug", slug)
    return await read_row(datasette, f"select * from {INCOMING} where {column} = ?", [value])


async def insert_incoming(datasette, incoming):
    """False when the slug is taken."""
    columns = ", ".join(incoming)
    placeholders = ", ".join(f":{key}" for key in incoming)
    try:
        await get_internal_db(datasette).execute_write(
            f"insert into {INCOMING} ({columns}) values ({placeholders})", incoming
        )
    except sqlite3.IntegrityError:
        return False
    return True


async def update_incoming(datasette, incoming_id, changes):
    await get_internal_db(datasette).execute_write(
        f"update {INCOMING} set {assignments(changes, INCOMING_FIELDS)} where id = :incoming_id",
        dict(changes, incoming_id=incoming_id),
    )


async def delete_incoming(datasette, incoming_id):
    def write(conn):
        conn.execute(f"delete from {RECEIVED} where incoming_id = ?", [incoming_id])
        conn.execute(f"delete from {SEEN} where incoming_id = ?", [incoming_id])
        conn.execute(f"delete from {INCOMING} where id = ?", [incoming_id])

    await get_internal_db(datasette).execute_write_fn(write)


async def store_received(datasette, incoming_id, message_id, now, content_type, body):
    """Keep a verified payload; None (and nothing stored) when ``message_id`` was seen before."""

    def write(conn):
        if message_id is not None:
            try:
                conn.execute(
                    f"insert into {SEEN} (incoming_id, message_id, seen_at) values (?, ?, ?)",
                    [incoming_id, message_id, now],
                )
            except sqlite3.IntegrityError:
                return None
        return conn.execute(
            f"insert into {RECEIVED} (incoming_id, message_id, received_at, content_type, body)"
            " values (?, ?, ?, ?, ?)",
            [incoming_id, message_id, now, content_type, body],
        ).lastrowid

    return await get_internal_db(datasette).execute_write_fn(write)


async def list_received(datasette, incoming_id, before_id=None, limit=50):
    return await read_rows(
        datasette,
        f"select * from {RECEIVED} where incoming_id = :incoming_id"
        + ("" if before_id is None else " and id < :before_id")
        + " order by id desc limit :limit",
        {"incoming_id": incoming_id, "limit": limit, "before_id": before_id},
    )


async def prune_incoming(datasette, cutoff, chunk=PRUNE_CHUNK):
    """Drop received payloads and remembered message ids older than ``cutoff``."""
    received = await prune_in_chunks(datasette, RECEIVED, "received_at", cutoff, chunk)
    await prune_in_chunks(datasette, SEEN, "seen_at", cutoff, chunk)
    return received


# --- a user database: the table an operator routes an incoming slug to --------------------------


async def insert_into_target(datasette, database, table, row):
    def write(conn):
        name = escape_sqlite(table)
        conn.execute(
            f"create table if not exists {name} (id integer primary key, received_at text,"
            " incoming_slug text, message_id text, payload text)"
        )
        conn.execute(
            f"insert into {name} (received_at, incoming_slug, message_id, payload)"
            " values (:received_at, :incoming_slug, :message_id, :payload)",
            row,
        )

    await datasette.get_database(database).execute_write_fn(write)
