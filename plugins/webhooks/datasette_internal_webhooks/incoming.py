"""The public receiver ``POST /-/webhooks/in/<slug>``: its own trust boundary.

Anyone on the internet may call it, so it checks nothing about the caller but the signature (or
bearer token) of its incoming endpoint, reads at most ``max_incoming_bytes``, and answers in
JSON with no detail a sender could use to probe: 404 for an unknown or disabled slug, 401 for
any failed verification, 409 for a message id already received.
"""

import json
import logging

from datasette.utils.asgi import Response
from datasette_internal_db import (
    BodyTooLarge,
    InvalidInput,
    SecretsUnreadable,
    clock,
    route,
    secrets,
)
from datasette_internal_db.web import json_error, parse_json_object, read_body

from . import store
from .endpoints import incoming_secret_name
from .events import WebhookReceivedEvent
from .settings import plugin
from .signing import verify_github, verify_standard
from .state import get_state

log = logging.getLogger("datasette_internal_webhooks")

MAX_MESSAGE_ID = 200


@route(methods=("POST",))
async def receive(datasette, request):
    state = get_state(datasette)
    row = await store.get_incoming(datasette, slug=request.url_vars["slug"])
    if row is None or not row["active"]:
        return json_error(404, "Not found")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        return json_error(415, "Content-Type must be application/json")
    limit = state.options.max_incoming_bytes
    try:
        body = await read_body(request, limit)
    except BodyTooLarge:
        return json_error(413, f"Payloads are limited to {limit} bytes")
    except InvalidInput as error:
        return json_error(400, str(error))
    headers = {key.lower(): value for key, value in request.headers.items()}
    if not await verify(datasette, row, headers, body):
        return json_error(401, "Unauthorized")
    try:
        text = body.decode("utf-8")
        payload = parse_json_object(body)
    except UnicodeDecodeError:
        return json_error(400, "Body is not valid UTF-8")
    except InvalidInput as error:
        return json_error(400, str(error))
    message_id = message_id_of(row["scheme"], headers)
    if message_id is not None and len(message_id) > MAX_MESSAGE_ID:
        return json_error(400, "Message id is too long")
    received_at = clock.now()
    received_id = await store.store_received(
        datasette, row["id"], message_id, received_at, content_type, text
    )
    if received_id is None:
        return json_error(409, "This message was already received")
    target = state.options.incoming_targets.get(row["slug"])
    if target is not None:
        await copy_to_target(datasette, target, row, message_id, received_at, payload)
    await datasette.track_event(
        WebhookReceivedEvent(
            actor=None,
            slug=row["slug"],
            received_id=received_id,
            message_id=message_id,
            scheme=row["scheme"],
        )
    )
    return Response.json({"ok": True, "id": received_id})


async def verify(datasette, row, headers, body):
    scheme = row["scheme"]
    if scheme == "bearer":
        authorization = headers.get("authorization", "")
        token = authorization[7:] if authorization[:7].lower() == "bearer " else ""
        return secrets.verify_token(token, row["token_hash"] or "")
    try:
        secret = await plugin.secrets.read(datasette, incoming_secret_name(row["id"]))
    except SecretsUnreadable as error:
        log.error("Incoming webhook %r cannot verify: %s Rotate its secret.", row["slug"], error)
        return False
    if secret is None:
        return False
    if scheme == "standard":
        return verify_standard(secret, headers, body, clock.now())
    return verify_github(secret, headers, body)


def message_id_of(scheme, headers):
    if scheme == "github":
        return headers.get("x-github-delivery") or None
    return headers.get("webhook-id") or headers.get("idempotency-key") or None


async def copy_to_target(datasette, target, row, message_id, received_at, payload):
    record = {
        "received_at": clock.iso(received_at),
        "incoming_slug": row["slug"],
        "message_id": message_id,
        "payload": json.dumps(payload),
    }
    try:
        await store.insert_into_target(datasette, target["database"], target["table"], record)
    except Exception:
        # The payload is already kept in the internal DB; the sender must not retry for this.
        log.exception(
            "Could not copy incoming webhook into %s/%s", target["database"], target["table"]
        )
