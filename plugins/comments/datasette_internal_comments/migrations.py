"""The comment tables in the internal database, built step by step with the sqlite-utils API.
Core applies the steps in order at startup, each in its own transaction. Append only: a shipped
step is never edited (internal files made by it must upgrade in place); add the next one.

The first steps were written as SQL before this module used the API; rewritten, they make the
same tables, columns, defaults, keys and indexes under the same names. Two CHECK constraints of
that SQL (``target_type`` and ``reason`` take fixed values) cannot be said with the API: files
made before keep them, and store.py is the only writer of both columns.
"""

from .settings import plugin

migrations = plugin.migrations  # sqlite-utils Migrations("datasette-internal-comments")

THREADS = plugin.table("threads")
COMMENTS = plugin.table("comments")
REVISIONS = plugin.table("revisions")
REACTIONS = plugin.table("reactions")
MENTIONS = plugin.table("mentions")
INBOX = plugin.table("inbox")
FTS = plugin.table("fts")
EMAIL_EVENTS = plugin.table("email_events")
EMAIL_OUTBOX = plugin.table("email_outbox")
EMAIL_PREFERENCES = plugin.table("email_preferences")
EMAIL_STATE = plugin.table("email_state")


@migrations()
def m001_threads_and_comments(db):
    db[THREADS].create(
        {
            "id": int,
            # database, table, column, row or cell
            "target_type": str,
            "database_name": str,
            # '' rather than null above the table level, so that row-value IN lookups against
            # the visible (database, table) pairs need no coalesce()
            "table_name": str,
            "column_name": str,
            "row_key": str,
            "row_pks": str,
            "row_label": str,
            "anchor_value": str,
            "author_id": str,
            "created_at": str,
            "last_activity_at": str,
            "resolved_at": str,
            "resolved_by": str,
        },
        pk="id",
        not_null={
            "target_type",
            "database_name",
            "table_name",
            "column_name",
            "row_key",
            "author_id",
            "created_at",
            "last_activity_at",
        },
        defaults={"table_name": "", "column_name": "", "row_key": ""},
    )
    db[THREADS].create_index(
        ["database_name", "table_name", "row_key", "resolved_at"], index_name=f"{THREADS}_target"
    )
    db[THREADS].create_index(["last_activity_at"], index_name=f"{THREADS}_activity")

    db[COMMENTS].create(
        {
            "id": int,
            "thread_id": int,
            # copied from the thread (a thread never moves) so that activity and scope checks
            # read one table and the newest comments of a table come straight from an index
            "database_name": str,
            "table_name": str,
            "author_id": str,
            "body": str,
            "created_at": str,
            "edited_at": str,
            "deleted_at": str,
            "deleted_by": str,
        },
        pk="id",
        not_null={"thread_id", "database_name", "table_name", "author_id", "body", "created_at"},
        foreign_keys=[("thread_id", THREADS, "id")],
    )
    db[COMMENTS].create_index(["thread_id", "id"], index_name=f"{COMMENTS}_thread")
    db[COMMENTS].create_index(["author_id", "id"], index_name=f"{COMMENTS}_author")
    db[COMMENTS].create_index(
        ["database_name", "table_name", "id"], index_name=f"{COMMENTS}_target"
    )

    db[REVISIONS].create(
        {"id": int, "comment_id": int, "body": str, "replaced_at": str},
        pk="id",
        not_null={"comment_id", "body", "replaced_at"},
        foreign_keys=[("comment_id", COMMENTS, "id")],
    )
    db[REVISIONS].create_index(["comment_id", "id"], index_name=f"{REVISIONS}_comment")

    db[REACTIONS].create(
        {"comment_id": int, "actor_id": str, "emoji": str, "created_at": str},
        pk=("comment_id", "actor_id", "emoji"),
        not_null={"comment_id", "actor_id", "emoji", "created_at"},
        foreign_keys=[("comment_id", COMMENTS, "id")],
    )

    db[MENTIONS].create(
        {"comment_id": int, "actor_id": str},
        pk=("comment_id", "actor_id"),
        not_null={"comment_id", "actor_id"},
        foreign_keys=[("comment_id", COMMENTS, "id")],
    )
    db[MENTIONS].create_index(["actor_id", "comment_id"], index_name=f"{MENTIONS}_actor")

    db[INBOX].create(
        {
            "id": int,
            "actor_id": str,
            "comment_id": int,
            # copied from the comment so unread counts need no join
            "database_name": str,
            "table_name": str,
            # mention or reply
            "reason": str,
            "created_at": str,
            "read_at": str,
        },
        pk="id",
        not_null={
            "actor_id",
            "comment_id",
            "database_name",
            "table_name",
            "reason",
            "created_at",
        },
        foreign_keys=[("comment_id", COMMENTS, "id")],
    )
    db[INBOX].create_index(
        ["actor_id", "comment_id"], unique=True, index_name=f"{INBOX}_actor_comment"
    )
    db[INBOX].create_index(["actor_id", "read_at", "id"], index_name=f"{INBOX}_unread")


@migrations()
def m002_full_text_search(db):
    # An external-content FTS5 index kept in step by triggers, so no write path can forget it.
    # The API's enable_fts() would name the index and its triggers differently from the files
    # this step already made.
    db.execute(
        f"create virtual table {FTS} using fts5(body, content='{COMMENTS}', content_rowid='id')"
    )
    db.execute(
        f"create trigger {FTS}_insert after insert on {COMMENTS} begin"
        f" insert into {FTS} (rowid, body) values (new.id, new.body); end"
    )
    db.execute(
        f"create trigger {FTS}_delete after delete on {COMMENTS} begin"
        f" insert into {FTS} ({FTS}, rowid, body) values ('delete', old.id, old.body); end"
    )
    db.execute(
        f"create trigger {FTS}_update after update of body on {COMMENTS} begin"
        f" insert into {FTS} ({FTS}, rowid, body) values ('delete', old.id, old.body);"
        f" insert into {FTS} (rowid, body) values (new.id, new.body); end"
    )


@migrations()
def m003_stored_html(db):
    # Bodies are rendered once when written; html_version says which renderer made the HTML, so
    # a renderer change (rendering.RENDER_VERSION) makes older rows render afresh on read.
    db[COMMENTS].add_column("html", str)
    db[COMMENTS].add_column("html_version", int)


@migrations()
def m004_email(db):
    # One row per recipient and thing that happened, written in the transaction of the comment
    # or resolution it is about, so it is exactly as durable as that write. event_key is
    # "comment:<id>" or "<resolved|reopened>:<thread>:<time>": one email per recipient and event.
    db[EMAIL_EVENTS].create(
        {
            "id": int,
            "recipient_id": str,
            "event_key": str,
            # mention, reply, resolved or reopened
            "reason": str,
            "thread_id": int,
            "comment_id": int,
            "actor_id": str,
            "created_at": str,
            # new → queued (in a message), digest (waiting for one), or dropped
            "state": str,
            "outbox_id": int,
        },
        pk="id",
        not_null={"recipient_id", "event_key", "reason", "thread_id", "created_at", "state"},
        defaults={"state": "new"},
    )
    db[EMAIL_EVENTS].create_index(
        ["recipient_id", "event_key"], unique=True, index_name=f"{EMAIL_EVENTS}_once"
    )
    db[EMAIL_EVENTS].create_index(["state", "id"], index_name=f"{EMAIL_EVENTS}_state")
    db[EMAIL_EVENTS].create_index(["outbox_id"], index_name=f"{EMAIL_EVENTS}_outbox")

    db[EMAIL_OUTBOX].create(
        {
            "id": int,
            "recipient_id": str,
            # each, daily or test
            "kind": str,
            # pending, sent, failed (permanently) or dropped (nothing left the recipient may see)
            "status": str,
            "attempts": int,
            "next_attempt_at": float,
            "created_at": str,
            "sent_at": str,
            "address": str,
            "subject": str,
            "message_id": str,
            "last_error": str,
        },
        pk="id",
        not_null={"recipient_id", "kind", "status", "attempts", "next_attempt_at", "created_at"},
        defaults={"status": "pending", "attempts": 0},
    )
    db[EMAIL_OUTBOX].create_index(["status", "next_attempt_at"], index_name=f"{EMAIL_OUTBOX}_due")

    db[EMAIL_PREFERENCES].create(
        {"actor_id": str, "preference": str, "updated_at": str},
        pk="actor_id",
        not_null={"preference", "updated_at"},
    )

    # Small facts the sender keeps across restarts: the last daily digest run.
    db[EMAIL_STATE].create({"key": str, "value": str}, pk="key")
