"""Tables this plugin owns in the internal database (all named datasette_internal_webhooks_*).

Append only: never edit a step that has shipped, add the next one. These two steps were raw
SQL until 0.1.0 and were rewritten with the sqlite-utils API, step names unchanged; a fresh file
gets the schema older files have (tests/test_migrations.py compares them). Two tables keep
``db.execute``: their CHECK constraints have no public sqlite-utils spelling; so do partial
indexes (``create index ... where``).
"""

from .settings import plugin

migrations = plugin.migrations

ENDPOINTS = plugin.table("endpoints")
MESSAGES = plugin.table("messages")
DELIVERIES = plugin.table("deliveries")
ATTEMPTS = plugin.table("attempts")
INCOMING = plugin.table("incoming")
RECEIVED = plugin.table("received")
SEEN = plugin.table("seen")


@migrations()
def m001_outgoing(db):
    db[ENDPOINTS].create(
        {
            "id": str,
            "url": str,
            "description": str,
            "event_types": str,
            "filter_database": str,
            "filter_table": str,
            "active": int,
            "disabled_reason": str,
            "disabled_at": str,
            "failing_since": float,
            "previous_secret_expires_at": float,
            "config_key": str,
            "secret_from_config": int,
            "created_by": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        not_null={
            "url",
            "description",
            "event_types",
            "active",
            "secret_from_config",
            "created_at",
            "updated_at",
        },
        defaults={"description": "", "active": 1, "secret_from_config": 0},
    )
    db[ENDPOINTS].create_index(["config_key"], unique=True)
    db[MESSAGES].create(
        {"id": str, "event_type": str, "payload": str, "created_at": float},
        pk="id",
        not_null={"event_type", "payload", "created_at"},
    )
    db.execute(
        f"""
        create table {DELIVERIES} (
            id integer primary key,
            message_id text not null references {MESSAGES}(id),
            endpoint_id text not null,
            status text not null check (status in ('pending', 'succeeded', 'failed')),
            attempts integer not null default 0,
            next_attempt_at real,
            last_status_code integer,
            last_error text,
            created_at real not null,
            updated_at real not null
        )
        """
    )
    db[MESSAGES].create_index(["created_at", "id"], index_name=f"{MESSAGES}_created")
    db[DELIVERIES].create_index(["status", "next_attempt_at"], index_name=f"{DELIVERIES}_due")
    db[DELIVERIES].create_index(
        ["endpoint_id", "status", "next_attempt_at"], index_name=f"{DELIVERIES}_endpoint"
    )
    db[DELIVERIES].create_index(["message_id"], index_name=f"{DELIVERIES}_message")
    db[ATTEMPTS].create(
        {
            "id": int,
            "delivery_id": int,
            "message_id": str,
            "endpoint_id": str,
            "attempted_at": float,
            "status_code": int,
            "latency_ms": float,
            "response_body": str,
            "error": str,
            "succeeded": int,
        },
        pk="id",
        not_null={"delivery_id", "message_id", "endpoint_id", "attempted_at", "succeeded"},
    )
    db[ATTEMPTS].create_index(["endpoint_id", "id"], index_name=f"{ATTEMPTS}_endpoint")
    db[ATTEMPTS].create_index(["delivery_id"], index_name=f"{ATTEMPTS}_delivery")
    db[ATTEMPTS].create_index(["attempted_at"], index_name=f"{ATTEMPTS}_time")


@migrations()
def m002_incoming(db):
    db.execute(
        f"""
        create table {INCOMING} (
            id text primary key,
            slug text not null unique,
            scheme text not null check (scheme in ('standard', 'github', 'bearer')),
            description text not null default '',
            token_hash text,
            active integer not null default 1,
            created_by text,
            created_at text not null,
            updated_at text not null
        )
        """
    )
    db[RECEIVED].create(
        {
            "id": int,
            "incoming_id": str,
            "message_id": str,
            "received_at": float,
            "content_type": str,
            "body": str,
        },
        pk="id",
        not_null={"incoming_id", "received_at", "body"},
    )
    db[RECEIVED].create_index(["incoming_id", "id"], index_name=f"{RECEIVED}_incoming")
    db[RECEIVED].create_index(["received_at"], index_name=f"{RECEIVED}_time")
    db[SEEN].create(
        {"incoming_id": str, "message_id": str, "seen_at": float},
        pk=("incoming_id", "message_id"),
        not_null={"incoming_id", "message_id", "seen_at"},
    )
    db[SEEN].create_index(["seen_at"], index_name=f"{SEEN}_time")


@migrations()
def m003_delivery_indexes_an_outcome_does_not_move(db):
    """Every attempt's outcome updates its delivery's status; the two indexes that held status
    for every row (due, endpoint) took a delete and an insert each time, in indexes as large as
    the whole log. Now only pending rows (the worker's reads) and failed rows (redeliver all,
    their counts) are indexed by status, in partial indexes an outcome only deletes from, and
    per-endpoint lists and counts use an index on endpoint_id alone, which never changes."""
    db[DELIVERIES].drop_index(f"{DELIVERIES}_due")
    db[DELIVERIES].drop_index(f"{DELIVERIES}_endpoint")
    db[DELIVERIES].create_index(["endpoint_id"], index_name=f"{DELIVERIES}_endpoint")
    db.execute(
        f"create index {DELIVERIES}_pending on {DELIVERIES} (endpoint_id, next_attempt_at)"
        " where status = 'pending'"
    )
    db.execute(
        f"create index {DELIVERIES}_failed on {DELIVERIES} (endpoint_id, created_at)"
        " where status = 'failed'"
    )
