"""Every SQL statement of the plugin. Async functions take the internal ``Database``;
``*_sql`` functions take a sqlite3 connection and run inside ``execute_write_fn``."""

import json
import sqlite3

from datasette.utils import escape_sqlite
from datasette_internal_db import clock

ENDPOINTS = "datasette_internal_webhooks_endpoints"
MESSAGES = "datasette_internal_webhooks_messages"
DELIVERIES = "datasette_internal_webhooks_deliveries"
ATTEMPTS = "datasette_internal_webhooks_attempts"
INCOMING = "datasette_internal_webhooks_incoming"
RECEIVED = "datasette_internal_webhooks_received"
SEEN = "datasette_internal_webhooks_seen"
PRUNE_CHUNK = 2000

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


def endpoint_from_row(row):
    endpoint = dict(row)
    endpoint["event_types"] = json.loads(endpoint["event_types"])
    endpoint["active"] = bool(endpoint["active"])
    endpoint["secret_from_config"] = bool(endpoint["secret_from_config"])
    return endpoint


# --- endpoints ---------------------------------------------------------------------------------


async def list_endpoints(db):
    rows = await db.execute(f"select * from {ENDPOINTS} order by created_at, id")
    return [endpoint_from_row(row) for row in rows]


async def get_endpoint(db, endpoint_id):
    row = (await db.execute(f"select * from {ENDPOINTS} where id = ?", [endpoint_id])).first()
    return None if row is None else endpoint_from_row(row)


async def delivery_counts(db):
    """{endpoint_id: {status: count}}"""
    rows = await db.execute(
        f"select endpoint_id, status, count(*) as n from {DELIVERIES} group by endpoint_id, status"
    )
    counts = {}
    for row in rows:
        counts.setdefault(row["endpoint_id"], {})[row["status"]] = row["n"]
    return counts


def insert_endpoint_sql(conn, endpoint):
    row = dict(endpoint, event_types=json.dumps(endpoint["event_types"]))
    columns = ", ".join(row)
    placeholders = ", ".join(f":{key}" for key in row)
    conn.execute(f"insert into {ENDPOINTS} ({columns}) values ({placeholders})", row)


async def insert_endpoint(db, endpoint):
    await db.execute_write_fn(lambda conn: insert_endpoint_sql(conn, endpoint))


async def update_endpoint(db, endpoint_id, changes):
    unknown = set(changes) - set(ENDPOINT_FIELDS)
    assert not unknown, unknown
    values = dict(changes)
    if "event_types" in values:
        values["event_types"] = json.dumps(values["event_types"])
    assignments = ", ".join(f"{key} = :{key}" for key in values)
    await db.execute_write(
        f"update {ENDPOINTS} set {assignments} where id = :endpoint_id",
        dict(values, endpoint_id=endpoint_id),
    )


async def delete_endpoint(db, endpoint_id):
    await db.execute_write_fn(lambda conn: delete_endpoint_sql(conn, endpoint_id))


def delete_endpoint_sql(conn, endpoint_id):
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


async def sync_config_endpoints(db, declared, now_iso):
    """Make the config-declared endpoints match ``declared`` ({config_key: endpoint dict}).

    Returns (created_ids, removed_ids). Runtime state (active, failures) of kept endpoints stays.
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
                insert_endpoint_sql(conn, endpoint)
                created.append(endpoint["id"])
        for key, endpoint_id in existing.items():
            if key not in declared:
                delete_endpoint_sql(conn, endpoint_id)
                removed.append(endpoint_id)
        return created, removed

    return await db.execute_write_fn(write)


# --- outbox ------------------------------------------------------------------------------------


def enqueue_sql(conn, messages, now):
    """``messages``: [(message_id, event_type, payload_json, [endpoint_id, ...])].

    A message whose id is already stored is skipped (a journal replayed after a crash that
    came between the commit and the journal's truncation). Returns the new deliveries as due
    rows (the shape ``due_deliveries_sql`` returns), so the worker can start them without
    reading them back.
    """
    due = []
    for message_id, event_type, payload, endpoint_ids in messages:
        inserted = conn.execute(
            f"insert or ignore into {MESSAGES} (id, event_type, payload, created_at)"
            " values (?, ?, ?, ?)",
            [message_id, event_type, payload, now],
        ).rowcount
        if not inserted:
            continue
        for endpoint_id in endpoint_ids:
            delivery_id = conn.execute(
                f"insert into {DELIVERIES} (message_id, endpoint_id, status, next_attempt_at,"
                " created_at, updated_at) values (?, ?, 'pending', ?, ?, ?)",
                [message_id, endpoint_id, now, now, now],
            ).lastrowid
            due.append((delivery_id, message_id, endpoint_id, 0, payload))
    return due


def due_deliveries_sql(conn, endpoint_limits, now):
    """Pending deliveries that are due, at most ``limit`` per active endpoint, oldest first.

    ``endpoint_limits``: {endpoint_id: limit}. One indexed query per endpoint keeps a backlog on
    one endpoint from starving the others.
    """
    due = []
    for endpoint_id, limit in endpoint_limits.items():
        due.extend(
            conn.execute(
                f"select d.id, d.message_id, d.endpoint_id, d.attempts, m.payload"
                f" from {DELIVERIES} d join {MESSAGES} m on m.id = d.message_id"
                " where d.endpoint_id = ? and d.status = 'pending' and d.next_attempt_at <= ?"
                " order by d.next_attempt_at, d.id limit ?",
                [endpoint_id, now, limit],
            ).fetchall()
        )
    return due


async def next_due_time(db):
    return (
        await db.execute(
            f"select min(d.next_attempt_at) from {DELIVERIES} d join {ENDPOINTS} e"
            " on e.id = d.endpoint_id where d.status = 'pending' and e.active = 1"
        )
    ).single_value()


def record_outcomes_sql(conn, outcomes, now, disable_after_seconds):
    """Write a batch of attempt outcomes; return [(endpoint_id, reason)] of endpoints disabled.

    Each outcome: dict with delivery_id, message_id, endpoint_id, attempted_at, status_code,
    latency_ms, response_body, error, succeeded, next_attempt_at (None = no more retries),
    gone (receiver answered 410).
    """
    conn.executemany(
        f"insert into {ATTEMPTS} (delivery_id, message_id, endpoint_id, attempted_at, status_code,"
        " latency_ms, response_body, error, succeeded) values (:delivery_id, :message_id,"
        " :endpoint_id, :attempted_at, :status_code, :latency_ms, :response_body, :error,"
        " :succeeded)",
        outcomes,
    )
    conn.executemany(
        f"update {DELIVERIES} set attempts = attempts + 1, status = :status,"
        " next_attempt_at = :next_attempt_at, last_status_code = :status_code,"
        " last_error = :error, updated_at = :attempted_at where id = :delivery_id",
        [
            dict(
                outcome,
                status="succeeded"
                if outcome["succeeded"]
                else ("pending" if outcome["next_attempt_at"] is not None else "failed"),
            )
            for outcome in outcomes
        ],
    )
    succeeded = {o["endpoint_id"] for o in outcomes if o["succeeded"]}
    failed = {o["endpoint_id"]: o["attempted_at"] for o in outcomes if not o["succeeded"]}
    conn.executemany(
        f"update {ENDPOINTS} set failing_since = null where id = ?", [(e,) for e in succeeded]
    )
    conn.executemany(
        f"update {ENDPOINTS} set failing_since = coalesce(failing_since, ?) where id = ?",
        [(at, e) for e, at in failed.items() if e not in succeeded],
    )
    disabled = []
    gone = {o["endpoint_id"] for o in outcomes if o["gone"]}
    for endpoint_id in gone:
        disabled.append((endpoint_id, "The receiver answered 410 Gone"))
    for (endpoint_id,) in conn.execute(
        f"select id from {ENDPOINTS} where active = 1 and failing_since <= ?",
        [now - disable_after_seconds],
    ).fetchall():
        if endpoint_id not in gone:
            disabled.append((endpoint_id, "Deliveries failed for too long"))
    conn.executemany(
        f"update {ENDPOINTS} set active = 0, disabled_reason = ?, disabled_at = ?"
        " where id = ? and active = 1",
        [(reason, clock.iso(now), endpoint_id) for endpoint_id, reason in disabled],
    )
    return disabled


async def list_deliveries(db, endpoint_id, status=None, before_id=None, limit=50):
    clauses, params = ["d.endpoint_id = :endpoint_id"], {"endpoint_id": endpoint_id, "limit": limit}
    if status:
        clauses.append("d.status = :status")
        params["status"] = status
    if before_id:
        clauses.append("d.id < :before_id")
        params["before_id"] = before_id
    rows = await db.execute(
        f"select d.*, m.event_type from {DELIVERIES} d join {MESSAGES} m on m.id = d.message_id"
        f" where {' and '.join(clauses)} order by d.id desc limit :limit",
        params,
    )
    return [dict(row) for row in rows]


async def get_delivery(db, delivery_id):
    row = (
        await db.execute(
            f"select d.*, m.event_type, m.payload from {DELIVERIES} d"
            f" join {MESSAGES} m on m.id = d.message_id where d.id = ?",
            [delivery_id],
        )
    ).first()
    return None if row is None else dict(row)


async def list_attempts(db, endpoint_id=None, delivery_id=None, before_id=None, limit=50):
    clauses, params = [], {"limit": limit}
    if endpoint_id is not None:
        clauses.append("a.endpoint_id = :endpoint_id")
        params["endpoint_id"] = endpoint_id
    if delivery_id is not None:
        clauses.append("a.delivery_id = :delivery_id")
        params["delivery_id"] = delivery_id
    if before_id:
        clauses.append("a.id < :before_id")
        params["before_id"] = before_id
    where = ("where " + " and ".join(clauses)) if clauses else ""
    rows = await db.execute(
        f"select a.*, m.event_type from {ATTEMPTS} a left join {MESSAGES} m on m.id = a.message_id"
        f" {where} order by a.id desc limit :limit",
        params,
    )
    return [dict(row, succeeded=bool(row["succeeded"])) for row in rows]


async def requeue_deliveries(db, delivery_ids, now):
    """Due now with a fresh retry schedule; returns how many were requeued."""

    def write(conn):
        cursor = conn.executemany(
            f"update {DELIVERIES} set status = 'pending', attempts = 0, next_attempt_at = ?,"
            " updated_at = ? where id = ?",
            [(now, now, delivery_id) for delivery_id in delivery_ids],
        )
        return cursor.rowcount

    return await db.execute_write_fn(write)


async def failed_delivery_ids(db, since, endpoint_id=None, after_id=0, limit=500):
    sql = (
        f"select id from {DELIVERIES} where status = 'failed' and created_at >= :since"
        " and id > :after_id"
    )
    if endpoint_id:
        sql += " and endpoint_id = :endpoint_id"
    sql += " order by id limit :limit"
    rows = await db.execute(
        sql, {"since": since, "after_id": after_id, "endpoint_id": endpoint_id, "limit": limit}
    )
    return [row["id"] for row in rows]


async def count_failed_since(db, since, endpoint_id=None):
    sql = f"select count(*) from {DELIVERIES} where status = 'failed' and created_at >= :since"
    if endpoint_id:
        sql += " and endpoint_id = :endpoint_id"
    return (await db.execute(sql, {"since": since, "endpoint_id": endpoint_id})).single_value()


async def prune_outgoing(db, cutoff, chunk=PRUNE_CHUNK):
    """Drop attempts older than ``cutoff``, and finished deliveries of messages older than it
    (with the messages). In chunks, each its own short write, so the enqueue writes of user
    requests never wait long behind a big prune."""
    attempts = 0
    while True:
        deleted = (
            await db.execute_write(
                f"delete from {ATTEMPTS} where id in"
                f" (select id from {ATTEMPTS} where attempted_at < ? limit ?)",
                [cutoff, chunk],
            )
        ).rowcount
        attempts += deleted
        if deleted < chunk:
            break

    def prune_messages(conn, after):
        rows = conn.execute(
            f"select created_at, id from {MESSAGES} where created_at < ?"
            " and (created_at, id) > (?, ?) order by created_at, id limit ?",
            [cutoff, after[0], after[1], chunk],
        ).fetchall()
        ids = [(message_id,) for _, message_id in rows]
        deliveries = conn.executemany(
            f"delete from {DELIVERIES} where message_id = ? and status != 'pending'", ids
        ).rowcount
        conn.executemany(
            f"delete from {MESSAGES} where id = ?1 and not exists"
            f" (select 1 from {DELIVERIES} where message_id = ?1)",
            ids,
        )
        return (tuple(rows[-1]) if len(rows) == chunk else None), deliveries

    deliveries, after = 0, (0, "")
    while after is not None:
        after, deleted = await db.execute_write_fn(
            lambda conn, after=after: prune_messages(conn, after)
        )
        deliveries += deleted
    return attempts, deliveries


# --- incoming ----------------------------------------------------------------------------------


def incoming_from_row(row):
    incoming = dict(row)
    incoming.pop("token_hash", None)
    incoming["active"] = bool(incoming["active"])
    return incoming


async def list_incoming(db):
    rows = await db.execute(f"select * from {INCOMING} order by created_at, id")
    return [incoming_from_row(row) for row in rows]


async def get_incoming(db, incoming_id):
    row = (await db.execute(f"select * from {INCOMING} where id = ?", [incoming_id])).first()
    return None if row is None else dict(row)


async def get_incoming_by_slug(db, slug):
    row = (await db.execute(f"select * from {INCOMING} where slug = ?", [slug])).first()
    return None if row is None else dict(row)


async def insert_incoming(db, incoming):
    """False when the slug is taken."""
    columns = ", ".join(incoming)
    placeholders = ", ".join(f":{key}" for key in incoming)
    try:
        await db.execute_write(
            f"insert into {INCOMING} ({columns}) values ({placeholders})", incoming
        )
    except sqlite3.IntegrityError:
        return False
    return True


async def update_incoming(db, incoming_id, changes):
    assert set(changes) <= {"description", "active", "token_hash", "updated_at"}, changes
    assignments = ", ".join(f"{key} = :{key}" for key in changes)
    await db.execute_write(
        f"update {INCOMING} set {assignments} where id = :incoming_id",
        dict(changes, incoming_id=incoming_id),
    )


async def delete_incoming(db, incoming_id):
    def write(conn):
        conn.execute(f"delete from {RECEIVED} where incoming_id = ?", [incoming_id])
        conn.execute(f"delete from {SEEN} where incoming_id = ?", [incoming_id])
        conn.execute(f"delete from {INCOMING} where id = ?", [incoming_id])

    await db.execute_write_fn(write)


async def store_received(db, incoming_id, message_id, now, content_type, body):
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

    return await db.execute_write_fn(write)


async def list_received(db, incoming_id, before_id=None, limit=50):
    params = {"incoming_id": incoming_id, "limit": limit, "before_id": before_id}
    rows = await db.execute(
        f"select * from {RECEIVED} where incoming_id = :incoming_id"
        + (" and id < :before_id" if before_id else "")
        + " order by id desc limit :limit",
        params,
    )
    return [dict(row) for row in rows]


async def prune_incoming(db, received_cutoff, seen_cutoff, chunk=PRUNE_CHUNK):
    """Drop old received payloads and remembered message ids, in short writes."""
    received = 0
    for table, column, cutoff in (
        (RECEIVED, "received_at", received_cutoff),
        (SEEN, "seen_at", seen_cutoff),
    ):
        while True:
            deleted = (
                await db.execute_write(
                    f"delete from {table} where rowid in"
                    f" (select rowid from {table} where {column} < ? limit ?)",
                    [cutoff, chunk],
                )
            ).rowcount
            if table == RECEIVED:
                received += deleted
            if deleted < chunk:
                break
    return received


# --- user databases: the row of an update-row event, operator-configured incoming targets ------


async def fetch_row(db, table, pk_values):
    """The row whose primary key (or rowid) values are ``pk_values``, or None."""
    pks = await db.primary_keys(table) or ["rowid"]
    if len(pks) != len(pk_values):
        return None
    where = " and ".join(f"{escape_sqlite(pk)} = ?" for pk in pks)
    rows = await db.execute(f"select * from {escape_sqlite(table)} where {where}", list(pk_values))
    row = rows.first()
    return None if row is None else dict(row)


def insert_into_target_sql(conn, table, row):
    table = escape_sqlite(table)
    conn.execute(
        f"create table if not exists {table} (id integer primary key, received_at text,"
        " incoming_slug text, message_id text, payload text)"
    )
    conn.execute(
        f"insert into {table} (received_at, incoming_slug, message_id, payload)"
        " values (:received_at, :incoming_slug, :message_id, :payload)",
        row,
    )
