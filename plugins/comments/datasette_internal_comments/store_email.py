"""SQL for email notifications: events per recipient, the outbox, preferences, digest state.

``queue_*`` run on the write connection inside the transaction of the comment or resolution
they are about (store.py calls them); every other function takes ``datasette`` first.
"""

import json

from datasette_internal_db import get_internal_db

from .migrations import (
    COMMENTS,
    EMAIL_EVENTS,
    EMAIL_OUTBOX,
    EMAIL_PREFERENCES,
    EMAIL_STATE,
    THREADS,
)

__all__ = ["EMAIL_EVENTS", "EMAIL_OUTBOX", "EMAIL_PREFERENCES", "EMAIL_STATE"]

DIGEST_DAY = "digest_day"
OUTBOX_STATUSES = ("pending", "sent", "failed", "dropped")

# A Message-ID made by SQLite when the message is queued, so a retry after a crash sends the
# same id and a mail client can tell the two copies apart.
NEW_MESSAGE_ID = "'<comments.' || lower(hex(randomblob(12))) || '@' || :domain || '>'"


def internal(datasette):
    return get_internal_db(datasette)


# ---------------------------------------------------------------------------- in the write


def queue_comment_event(conn, recipient_id, comment_id, reason, now):
    """An event for ``recipient_id`` about a new comment (a mention or a reply)."""
    conn.execute(
        f"insert or ignore into {EMAIL_EVENTS}"
        " (recipient_id, event_key, reason, thread_id, comment_id, actor_id, created_at)"
        f" select ?, 'comment:' || id, ?, thread_id, id, author_id, ? from {COMMENTS}"
        " where id = ?",
        [recipient_id, reason, now, comment_id],
    )


def queue_thread_event(conn, thread_id, actor_id, reason, now):
    """An event for everyone who wrote in the thread, but ``actor_id``: resolved or reopened."""
    conn.execute(
        f"insert or ignore into {EMAIL_EVENTS}"
        " (recipient_id, event_key, reason, thread_id, actor_id, created_at)"
        f" select distinct author_id, :reason || ':' || :thread || ':' || :now, :reason, :thread,"
        f" :actor, :now from {COMMENTS} where thread_id = :thread and author_id != :actor",
        {"thread": thread_id, "actor": actor_id, "reason": reason, "now": now},
    )


# ---------------------------------------------------------------------------- routing events


async def new_events(datasette, limit=500):
    rows = await internal(datasette).execute(
        f"select id, recipient_id from {EMAIL_EVENTS} where state = 'new' order by id limit ?",
        [limit],
    )
    return [dict(row) for row in rows]


async def preferences(datasette, actor_ids):
    """``{actor_id: preference}`` for those who chose one."""
    rows = await internal(datasette).execute(
        f"select actor_id, preference from {EMAIL_PREFERENCES}"
        " where actor_id in (select value from json_each(?))",
        [json.dumps(sorted(set(actor_ids)))],
    )
    return {row["actor_id"]: row["preference"] for row in rows}


async def set_preference(datasette, actor_id, preference, now):
    await internal(datasette).execute_write(
        f"insert into {EMAIL_PREFERENCES} (actor_id, preference, updated_at) values (?, ?, ?)"
        " on conflict (actor_id) do update set preference = excluded.preference,"
        " updated_at = excluded.updated_at",
        [actor_id, preference, now],
    )


async def route_events(datasette, decisions, now_ts, now, domain):
    """Apply ``{event_id: "each" | "daily" | "off"}``: one message per "each" event, "daily"
    events wait for the digest, "off" ones are dropped. One transaction."""

    def write(conn):
        for event_id, decision in decisions.items():
            if decision == "each":
                outbox_id = conn.execute(
                    f"insert into {EMAIL_OUTBOX} (recipient_id, kind, status, attempts,"
                    " next_attempt_at, created_at, message_id)"
                    f" select recipient_id, 'each', 'pending', 0, :ts, :now, {NEW_MESSAGE_ID}"
                    f" from {EMAIL_EVENTS} where id = :event and state = 'new'",
                    {"ts": now_ts, "now": now, "domain": domain, "event": event_id},
                ).lastrowid
                state = "queued"
            else:
                outbox_id, state = None, "digest" if decision == "daily" else "dropped"
            conn.execute(
                f"update {EMAIL_EVENTS} set state = ?, outbox_id = ?"
                " where id = ? and state = 'new'",
                [state, outbox_id, event_id],
            )

    await internal(datasette).execute_write_fn(write)


async def make_digests(datasette, day, now_ts, now, domain):
    """Once per ``day``: one message per recipient holding their waiting "daily" events.

    The day is recorded in the same transaction, so a restart neither repeats nor skips it.
    The first call only records the day. Returns how many digests were queued.
    """

    def write(conn):
        row = conn.execute(f"select value from {EMAIL_STATE} where key = ?", [DIGEST_DAY])
        found = row.fetchone()
        conn.execute(
            f"insert into {EMAIL_STATE} (key, value) values (?, ?)"
            " on conflict (key) do update set value = excluded.value",
            [DIGEST_DAY, str(day)],
        )
        if found is None or int(found[0]) >= day:
            return 0  # the first run, or this day's digests are queued already
        recipients = [
            recipient
            for (recipient,) in conn.execute(
                f"select distinct recipient_id from {EMAIL_EVENTS} where state = 'digest'"
            )
        ]
        for recipient in recipients:
            outbox_id = conn.execute(
                f"insert into {EMAIL_OUTBOX} (recipient_id, kind, status, attempts,"
                f" next_attempt_at, created_at, message_id)"
                f" values (:recipient, 'daily', 'pending', 0, :ts, :now, {NEW_MESSAGE_ID})",
                {"recipient": recipient, "ts": now_ts, "now": now, "domain": domain},
            ).lastrowid
            conn.execute(
                f"update {EMAIL_EVENTS} set state = 'queued', outbox_id = ?"
                " where recipient_id = ? and state = 'digest'",
                [outbox_id, recipient],
            )
        return len(recipients)

    return await internal(datasette).execute_write_fn(write)


async def digest_day(datasette):
    """The day of the last digest run, or None before the first."""
    row = (
        await internal(datasette).execute(
            f"select value from {EMAIL_STATE} where key = ?", [DIGEST_DAY]
        )
    ).first()
    return None if row is None else int(row[0])


# ---------------------------------------------------------------------------- sending


async def due_messages(datasette, now_ts, limit=100):
    rows = await internal(datasette).execute(
        f"select * from {EMAIL_OUTBOX} where status = 'pending' and next_attempt_at <= ?"
        " order by next_attempt_at, id limit ?",
        [now_ts, limit],
    )
    return [dict(row) for row in rows]


async def next_due_at(datasette):
    row = (
        await internal(datasette).execute(
            f"select min(next_attempt_at) from {EMAIL_OUTBOX} where status = 'pending'"
        )
    ).first()
    return row[0]


async def retry_now(datasette, now_ts):
    """Pending messages become due at once (at startup: the failure may have been ours)."""
    await internal(datasette).execute_write(
        f"update {EMAIL_OUTBOX} set next_attempt_at = ?"
        " where status = 'pending' and next_attempt_at > ?",
        [now_ts, now_ts],
    )


async def message_items(datasette, outbox_ids):
    """``{outbox_id: [item, ...]}``: each event of the messages with its thread and comment."""
    rows = await internal(datasette).execute(
        "select e.id as event_id, e.outbox_id, e.reason, e.actor_id, e.created_at as event_at,"
        " t.id as thread_id, t.target_type, t.database_name, t.table_name, t.column_name,"
        " t.row_key, t.row_label, c.id as comment_id, c.body, c.html, c.html_version,"
        " c.deleted_at"
        f" from {EMAIL_EVENTS} e join {THREADS} t on t.id = e.thread_id"
        f" left join {COMMENTS} c on c.id = e.comment_id"
        " where e.outbox_id in (select value from json_each(?)) order by e.id",
        [json.dumps(list(outbox_ids))],
    )
    items = {}
    for row in rows:
        items.setdefault(row["outbox_id"], []).append(dict(row))
    return items


async def thread_message_ids(datasette, thread_ids):
    """``{thread_id: Message-ID}`` of the first message sent about each thread, for
    ``In-Reply-To``: mail clients then show later messages below it."""
    rows = await internal(datasette).execute(
        "select e.thread_id, o.message_id from "
        f"{EMAIL_EVENTS} e join {EMAIL_OUTBOX} o on o.id = e.outbox_id"
        " where e.thread_id in (select value from json_each(?)) and o.kind = 'each'"
        " and o.status = 'sent' order by o.id desc",
        [json.dumps(sorted(set(thread_ids)))],
    )
    return {row["thread_id"]: row["message_id"] for row in rows}


FINISH_FIELDS = ("address", "subject", "last_error", "attempts", "next_attempt_at")


async def finish(datasette, results, now):
    """Record a batch of attempts in one transaction: ``results`` is ``{outbox_id: fields}``,
    ``fields`` holding ``status`` (pending with ``next_attempt_at``, sent, failed or dropped)
    and any of FINISH_FIELDS."""

    def write(conn):
        for outbox_id, fields in results.items():
            assert set(fields) <= {"status", *FINISH_FIELDS}
            assignments = "".join(f", {name} = :{name}" for name in sorted(fields))
            sent_at = now if fields["status"] == "sent" else None
            conn.execute(
                f"update {EMAIL_OUTBOX} set sent_at = :sent_at{assignments} where id = :id",
                {"sent_at": sent_at, "id": outbox_id, **fields},
            )

    await internal(datasette).execute_write_fn(write)


async def enqueue_test(datasette, recipient_id, address, now_ts, now, domain):
    def write(conn):
        return conn.execute(
            f"insert into {EMAIL_OUTBOX} (recipient_id, kind, status, attempts,"
            " next_attempt_at, created_at, address, message_id)"
            f" values (:recipient, 'test', 'pending', 0, :ts, :now, :address, {NEW_MESSAGE_ID})",
            {
                "recipient": recipient_id,
                "ts": now_ts,
                "now": now,
                "address": address,
                "domain": domain,
            },
        ).lastrowid

    return await internal(datasette).execute_write_fn(write)


# ---------------------------------------------------------------------------- admin


async def outbox_counts(datasette):
    rows = await internal(datasette).execute(
        f"select status, count(*) as n from {EMAIL_OUTBOX} group by status"
    )
    found = {row["status"]: row["n"] for row in rows}
    return {status: found.get(status, 0) for status in OUTBOX_STATUSES}


async def outbox_page(datasette, status, size, before_id):
    """Messages newest first, ``size + 1`` of them so the caller knows whether more follow."""
    where, params = ["1 = 1"], {"size": size + 1}
    if status:
        where.append("status = :status")
        params["status"] = status
    if before_id is not None:
        where.append("id < :before")
        params["before"] = before_id
    rows = await internal(datasette).execute(
        "select id, recipient_id, kind, status, attempts, next_attempt_at, created_at, sent_at,"
        f" address, subject, message_id, last_error from {EMAIL_OUTBOX}"
        f" where {' and '.join(where)} order by id desc limit :size",
        params,
    )
    return [dict(row) for row in rows]
