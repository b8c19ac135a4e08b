"""Events: the one this plugin emits, matching endpoints, building payloads, the outbox."""

import asyncio
import base64
import functools
import json
import logging
import secrets
from dataclasses import dataclass
from fnmatch import fnmatchcase

from datasette.events import Event
from datasette_internal_db import clock

from . import store

log = logging.getLogger("datasette_internal_webhooks")

TEST_EVENT = "webhook-test"


@dataclass
class WebhookReceivedEvent(Event):
    """Event name: ``webhook-received`` — an incoming webhook was verified and stored."""

    name = "webhook-received"
    slug: str
    received_id: int
    message_id: str | None
    scheme: str


def new_message_id():
    return "msg_" + secrets.token_urlsafe(18)


def matches(endpoint, event_name, properties):
    if not any(fnmatchcase(event_name, pattern) for pattern in endpoint["event_types"]):
        return False
    for field in ("database", "table"):
        wanted = endpoint["filter_" + field]
        if wanted and properties.get(field) != wanted:
            return False
    return True


def json_value(value):
    if isinstance(value, bytes):
        return {"$base64": True, "encoded": base64.b64encode(value).decode()}
    return str(value)


def encode_payload(event_type, timestamp, actor_id, data):
    return json.dumps(
        {"type": event_type, "timestamp": timestamp, "actor_id": actor_id, "data": data},
        default=json_value,
        separators=(",", ":"),
    )


async def fetch_row(datasette, database, table, pk_values):
    """The row as it is right after the write committed, or None when it cannot be had."""
    try:
        db = datasette.get_database(database)
    except KeyError:
        return None
    return await store.fetch_row(db, table, pk_values)


async def payload_for(datasette, event):
    data = event.properties()
    if event.name == "update-row":
        data["row"] = await fetch_row(datasette, data["database"], data["table"], data["pks"])
    return encode_payload(
        event.name, event.created.isoformat(), (event.actor or {}).get("id"), data
    )


class Outbox:
    """Enqueue messages with group commit: every write carries all messages buffered meanwhile.

    With ``durable`` (the default) ``add`` returns only once its message is committed to the
    internal DB, so an acknowledged user write always has its message stored. Without it ``add``
    returns at once and a crash can lose the messages of the last few milliseconds.
    """

    def __init__(self, db, durable, on_flushed):
        self.db = db
        self.durable = durable
        self.on_flushed = on_flushed
        self._buffer = []
        self._flusher = None

    async def add(self, message_id, event_type, payload, endpoint_ids):
        done = asyncio.get_running_loop().create_future()
        self._buffer.append(((message_id, event_type, payload, endpoint_ids), done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        if self.durable:
            return await done
        return True

    async def _flush(self):
        while self._buffer:
            batch, self._buffer = self._buffer, []
            messages = [message for message, _ in batch]
            try:
                due = await self.db.execute_write_fn(
                    functools.partial(store.enqueue_sql, messages=messages, now=clock.now())
                )
                stored = True
            except Exception:
                log.exception("Could not store %d webhook message(s)", len(messages))
                stored = False
            for _, done in batch:
                done.set_result(stored)
            if stored:
                self.on_flushed(due)

    async def drain(self):
        if self._flusher is not None:
            await self._flusher
