"""Events: the one this plugin emits, which endpoints an event goes to, and its payload."""

import base64
import dataclasses
import json
import secrets
import time
from dataclasses import dataclass
from fnmatch import fnmatchcase

from datasette.events import Event
from datasette_internal_db import fetch_row

TEST_EVENT = "webhook-test"


@dataclass
class WebhookReceivedEvent(Event):
    """Event name: ``webhook-received`` — an incoming webhook was verified and stored."""

    name = "webhook-received"
    slug: str
    received_id: int
    message_id: str | None
    scheme: str


EVENTS = [WebhookReceivedEvent]


def new_message_id():
    """``msg_``, the time in microseconds (fixed-width hex) and 96 random bits: ids sort by
    creation (to the microsecond), so each new message's key lands at the end of the messages'
    primary-key index and the deliveries' message index, not on a random page of each (Svix's
    ids sort by time too)."""
    return f"msg_{time.time_ns() // 1000:014x}{secrets.token_urlsafe(12)}"


def matches(endpoint, event_name, properties):
    if not any(fnmatchcase(event_name, pattern) for pattern in endpoint["event_types"]):
        return False
    for field in ("database", "table"):
        wanted = endpoint["filter_" + field]
        if wanted and properties.get(field) != wanted:
            return False
    return True


def event_properties(event):
    """``event.properties()`` without its deep copy (the payload is encoded at once)."""
    if type(event).properties is not Event.properties:
        return event.properties()
    return {
        field.name: getattr(event, field.name)
        for field in dataclasses.fields(event)
        if field.name not in ("actor", "created")
    }


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


async def row_after_update(datasette, database, table, pk_values):
    """The row as it is right after the write committed, or None when it cannot be had."""
    try:
        db = datasette.get_database(database)
    except KeyError:
        return None
    row, _ = await fetch_row(db, table, pk_values)
    return row


async def payload_for(datasette, event, data):
    """``data``: ``event.properties()``; the payload may add to it."""
    if event.name == "update-row":
        data["row"] = await row_after_update(
            datasette, data["database"], data["table"], data["pks"]
        )
    return encode_payload(
        event.name, event.created.isoformat(), (event.actor or {}).get("id"), data
    )
