"""SQL for the outbox and the delivery log: messages, deliveries, attempts. Every public function
takes ``datasette`` first, except ``enqueue_sql``, which writes through a connection it is
given (the benchmark fills a backlog into a server's file that way)."""

import json

from datasette_internal_db import clock, get_internal_db, read_row, read_rows, where_clause

from .migrations import ATTEMPTS, DELIVERIES, ENDPOINTS, MESSAGES

PRUNE_CHUNK = 2000


def enqueue_sql(conn, messages, now):
    """``messages``: [(message_id, event_type, payload_json, [endpoint_id, ...])].

    A message whose id is already stored is skipped (a journal replayed after a crash that
    came between the commit and the journal's truncation). Returns the new deliveries as due
    rows (the shape ``due_deliveries`` returns), so the worker can start them without
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


async def enqueue(datasette, messages, now, outcomes=(), disable_after_seconds=0):
    """``enqueue_sql`` in one write of the internal DB, with the attempt ``outcomes`` waiting
    to be written recorded in the same transaction (``record_outcomes``): one trip to the write
    thread for both. Returns (due rows, [(endpoint_id, reason)] of endpoints disabled)."""

    def write(conn):
        due = enqueue_sql(conn, messages, now)
        if not outcomes:
            return due, []
        return due, _record_outcomes(conn, outcomes, now, disable_after_seconds)

    return await get_internal_db(datasette).execute_write_fn(write)


async def due_deliveries(datasette, endpoint_limits, now, claimed=()):
    """Pending deliveries that are due, at most ``limit`` per active endpoint, oldest first, as
    (id, message_id, endpoint_id, attempts, payload) rows, leaving out the ids in ``claimed``
    (rows the worker already holds: queued, in flight, or with their outcome not yet written),
    so that SQLite neither joins nor encodes them and the limit counts only rows to take.

    ``endpoint_limits``: {endpoint_id: limit}. One indexed query per endpoint keeps a backlog on
    one endpoint from starving the others; all of them in one trip to the read thread. Each
    endpoint's rows come as one JSON array, one SQLite step: the read thread then takes Python's
    GIL back once per endpoint, not once per row, and never waits for it behind the busy event
    loop (which paused deliveries while a read of hundreds of rows took turns with it).
    """
    claimed = json.dumps(list(claimed))

    def read(conn):
        due = []
        for endpoint_id, limit in endpoint_limits.items():
            (rows,) = conn.execute(
                "select json_group_array(json_array(id, message_id, endpoint_id, attempts,"
                " payload)) from (select d.id, d.message_id, d.endpoint_id, d.attempts, m.payload"
                f" from {DELIVERIES} d join {MESSAGES} m on m.id = d.message_id"
                " where d.endpoint_id = ? and d.status = 'pending' and d.next_attempt_at <= ?"
                " and d.id not in (select value from json_each(?))"
                " order by d.next_attempt_at, d.id limit ?)",
                [endpoint_id, now, claimed, limit],
            ).fetchone()
            due.extend(map(tuple, json.loads(rows)))
        return due

    return await get_internal_db(datasette).execute_fn(read)


async def next_due_time(datasette):
    return (
        await get_internal_db(datasette).execute(
            f"select min(d.next_attempt_at) from {DELIVERIES} d join {ENDPOINTS} e"
            " on e.id = d.endpoint_id where d.status = 'pending' and e.active = 1"
        )
    ).single_value()


def _status(outcome):
    if outcome["succeeded"]:
        return "succeeded"
    return "pending" if outcome["next_attempt_at"] is not None else "failed"


def _record_outcomes(conn, outcomes, now, disable_after_seconds):
    # One statement per table over a JSON array, not executemany: the write thread takes the
    # GIL back once per statement instead of once per row (see due_deliveries).
    rows = json.dumps(
        [
            [
                o["delivery_id"],
                o["message_id"],
                o["endpoint_id"],
                o["attempted_at"],
                o["status_code"],
                o["latency_ms"],
                o["response_body"],
                o["error"],
                o["succeeded"],
                o["next_attempt_at"],
                _status(o),
            ]
            for o in outcomes
        ]
    )
    columns = (
        "json_extract(value, '$[0]') as delivery_id, json_extract(value, '$[1]') as message_id,"
        " json_extract(value, '$[2]') as endpoint_id, json_extract(value, '$[3]') as attempted_at,"
        " json_extract(value, '$[4]') as status_code, json_extract(value, '$[5]') as latency_ms,"
        " json_extract(value, '$[6]') as response_body, json_extract(value, '$[7]') as error,"
        " json_extract(value, '$[8]') as succeeded, json_extract(value, '$[9]') as next_attempt_at,"
        " json_extract(value, '$[10]') as status"
    )
    conn.execute(
        f"insert into {ATTEMPTS} (delivery_id, message_id, endpoint_id, attempted_at, status_code,"
        " latency_ms, response_body, error, succeeded) select delivery_id, message_id,"
        " endpoint_id, attempted_at, status_code, latency_ms, response_body, error, succeeded"
        f" from (select {columns} from json_each(?))",
        [rows],
    )
    conn.execute(
        f"update {DELIVERIES} set attempts = attempts + 1, status = o.status,"
        " next_attempt_at = o.next_attempt_at, last_status_code = o.status_code,"
        " last_error = o.error, updated_at = o.attempted_at"
        f" from (select {columns} from json_each(?)) as o where {DELIVERIES}.id = o.delivery_id",
        [rows],
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


async def record_outcomes(datasette, outcomes, now, disable_after_seconds):
    """Write a batch of attempt outcomes; return [(endpoint_id, reason)] of endpoints disabled.

    Each outcome: dict with delivery_id, message_id, endpoint_id, attempted_at, status_code,
    latency_ms, response_body, error, succeeded, next_attempt_at (None = no more retries),
    gone (receiver answered 410).
    """
    return await get_internal_db(datasette).execute_write_fn(
        lambda conn: _record_outcomes(conn, outcomes, now, disable_after_seconds)
    )


async def delivery_counts(datasette):
    """{endpoint_id: {status: count}}, statuses with no rows left out. Pending and failed rows
    are counted in their own partial indexes, every row in the endpoint index (none of them has
    status in it, see migration m003); succeeded rows are the rest."""
    rows = await get_internal_db(datasette).execute(
        f"select endpoint_id, null as status, count(*) as n from {DELIVERIES} group by endpoint_id"
        f" union all select endpoint_id, status, count(*) from {DELIVERIES}"
        " where status = 'pending' group by endpoint_id"
        f" union all select endpoint_id, status, count(*) from {DELIVERIES}"
        " where status = 'failed' group by endpoint_id"
    )
    totals, counts = {}, {}
    for endpoint_id, status, n in rows:
        if status is None:
            totals[endpoint_id] = n
        else:
            counts.setdefault(endpoint_id, {})[status] = n
    for endpoint_id, total in totals.items():
        by_status = counts.setdefault(endpoint_id, {})
        if succeeded := total - sum(by_status.values()):
            by_status["succeeded"] = succeeded
    return counts


def _status_filter(status):
    """(index, condition) for one endpoint's deliveries with this status. Pending and failed
    ones come from their partial index (few rows, then sorted), named because SQLite does not
    know how small it is and would walk all of the endpoint's rows instead; it uses a partial
    index only when the query states the index's condition as written, not as a parameter."""
    if status in ("pending", "failed"):
        return f"{DELIVERIES}_{status}", (f"d.status = '{status}'", {})
    return f"{DELIVERIES}_endpoint", ("d.status = :status", {"status": status or None})


async def list_deliveries(datasette, endpoint_id, status=None, before_id=None, limit=50):
    """Newest first, each with its event type and its latest attempt's time, latency and
    response (``last_attempt_at``, ``last_latency_ms``, ``last_response_body``)."""
    index, status_condition = _status_filter(status)
    where, params = where_clause(
        ("d.endpoint_id = :endpoint_id", {"endpoint_id": endpoint_id}),
        status_condition,
        ("d.id < :before_id", {"before_id": before_id}),
    )
    return await read_rows(
        datasette,
        f"select d.*, m.event_type, a.attempted_at as last_attempt_at,"
        " a.latency_ms as last_latency_ms, a.response_body as last_response_body"
        f" from {DELIVERIES} d indexed by {index}"
        f" join {MESSAGES} m on m.id = d.message_id"
        f" left join {ATTEMPTS} a on a.id ="
        f" (select max(id) from {ATTEMPTS} where delivery_id = d.id)"
        f" {where} order by d.id desc limit :limit",
        dict(params, limit=limit),
    )


async def get_delivery(datasette, delivery_id):
    return await read_row(
        datasette,
        f"select d.*, m.event_type, m.payload from {DELIVERIES} d"
        f" join {MESSAGES} m on m.id = d.message_id where d.id = ?",
        [delivery_id],
    )


async def list_attempts(datasette, endpoint_id=None, delivery_id=None, before_id=None, limit=50):
    where, params = where_clause(
        ("a.endpoint_id = :endpoint_id", {"endpoint_id": endpoint_id}),
        ("a.delivery_id = :delivery_id", {"delivery_id": delivery_id}),
        ("a.id < :before_id", {"before_id": before_id}),
    )
    return await read_rows(
        datasette,
        f"select a.*, m.event_type from {ATTEMPTS} a left join {MESSAGES} m on m.id = a.message_id"
        f" {where} order by a.id desc limit :limit",
        dict(params, limit=limit),
        lambda row: dict(row, succeeded=bool(row["succeeded"])),
    )


async def requeue_deliveries(datasette, delivery_ids, now):
    """Due now with a fresh retry schedule; returns how many were requeued."""

    def write(conn):
        cursor = conn.executemany(
            f"update {DELIVERIES} set status = 'pending', attempts = 0, next_attempt_at = ?,"
            " updated_at = ? where id = ?",
            [(now, now, delivery_id) for delivery_id in delivery_ids],
        )
        return cursor.rowcount

    return await get_internal_db(datasette).execute_write_fn(write)


async def failed_delivery_ids(datasette, since, endpoint_id=None, after_id=0, limit=500):
    sql = (
        f"select id from {DELIVERIES} indexed by {DELIVERIES}_failed"
        " where status = 'failed' and created_at >= :since and id > :after_id"
    )
    if endpoint_id:
        sql += " and endpoint_id = :endpoint_id"
    sql += " order by id limit :limit"
    params = {"since": since, "after_id": after_id, "endpoint_id": endpoint_id, "limit": limit}
    return await read_rows(datasette, sql, params, lambda row: row["id"])


async def count_failed_since(datasette, since, endpoint_id=None):
    sql = (
        f"select count(*) from {DELIVERIES} indexed by {DELIVERIES}_failed"
        " where status = 'failed' and created_at >= :since"
    )
    if endpoint_id:
        sql += " and endpoint_id = :endpoint_id"
    return (
        await get_internal_db(datasette).execute(sql, {"since": since, "endpoint_id": endpoint_id})
    ).single_value()


async def prune_in_chunks(datasette, table, column, cutoff, chunk=PRUNE_CHUNK):
    """Delete rows of ``table`` whose ``column`` is below ``cutoff``, ``chunk`` rows per write,
    so the enqueue writes of user requests never wait long behind a big prune. Returns how many."""
    internal = get_internal_db(datasette)
    total = 0
    while True:
        deleted = (
            await internal.execute_write(
                f"delete from {table} where rowid in"
                f" (select rowid from {table} where {column} < ? limit ?)",
                [cutoff, chunk],
            )
        ).rowcount
        total += deleted
        if deleted < chunk:
            return total


async def prune_outgoing(datasette, cutoff, chunk=PRUNE_CHUNK):
    """Drop attempts older than ``cutoff``, and finished deliveries of messages older than it
    (with the messages), in short writes. Returns (attempts, deliveries) deleted."""
    attempts = await prune_in_chunks(datasette, ATTEMPTS, "attempted_at", cutoff, chunk)

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

    internal = get_internal_db(datasette)
    deliveries, after = 0, (0, "")
    while after is not None:
        after, deleted = await internal.execute_write_fn(
            lambda conn, after=after: prune_messages(conn, after)
        )
        deliveries += deleted
    return attempts, deliveries
