"""Incoming endpoints: creating them, verifying calls, copying payloads to a configured table."""

import json
import logging
import re
import secrets as random

from datasette_internal_db import InvalidInput, audit, clock, secrets

from . import store
from .names import PLUGIN
from .outgoing import optional_text
from .runtime import incoming_secret_name
from .signing import new_secret, verify_github, verify_standard

log = logging.getLogger("datasette_internal_webhooks")

SLUG_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{2,63}")
SCHEMES = ("standard", "github", "bearer")


async def create_incoming_record(datasette, state, data, actor):
    slug = data.get("slug")
    if not isinstance(slug, str) or not SLUG_PATTERN.fullmatch(slug):
        raise InvalidInput("slug must be 3 to 64 characters: a-z, 0-9 and -, not starting with -")
    scheme = data.get("scheme")
    if scheme not in SCHEMES:
        raise InvalidInput(f"scheme must be one of {', '.join(SCHEMES)}")
    unknown = set(data) - {"slug", "scheme", "description"}
    if unknown:
        raise InvalidInput(f"Unknown field(s): {', '.join(sorted(unknown))}")
    incoming_id = "in_" + random.token_hex(8)
    secret, token_hash = await new_incoming_secret(datasette, incoming_id, scheme)
    now = clock.iso()
    created = await store.insert_incoming(
        state.db,
        {
            "id": incoming_id,
            "slug": slug,
            "scheme": scheme,
            "description": optional_text(data, "description") or "",
            "token_hash": token_hash,
            "created_by": (actor or {}).get("id"),
            "created_at": now,
            "updated_at": now,
        },
    )
    if not created:
        await secrets.delete(datasette, PLUGIN, incoming_secret_name(incoming_id))
        raise InvalidInput(f"The slug {slug!r} is taken")
    await audit.record(
        datasette,
        PLUGIN,
        "incoming-create",
        actor=actor,
        resource=f"incoming/{incoming_id}",
        details={"slug": slug, "scheme": scheme},
    )
    return store.incoming_from_row(await store.get_incoming(state.db, incoming_id)), secret


async def new_incoming_secret(datasette, incoming_id, scheme):
    """(secret to show once, token hash to store) for a new or rotated incoming endpoint."""
    if scheme == "bearer":
        token = secrets.new_token("whin_")
        return token, secrets.hash_token(token)
    secret = new_secret() if scheme == "standard" else random.token_urlsafe(32)
    await secrets.store(datasette, PLUGIN, incoming_secret_name(incoming_id), secret)
    return secret, None


async def verify_incoming(datasette, row, headers, body):
    scheme = row["scheme"]
    if scheme == "bearer":
        authorization = headers.get("authorization", "")
        token = authorization[7:] if authorization[:7].lower() == "bearer " else ""
        return secrets.verify_token(token, row["token_hash"] or "")
    try:
        secret = await secrets.read(datasette, PLUGIN, incoming_secret_name(row["id"]))
    except secrets.SecretsUnreadable as error:
        log.error("Incoming webhook %r cannot verify: %s Rotate its secret.", row["slug"], error)
        return False
    if secret is None:
        return False
    if scheme == "standard":
        return verify_standard(secret, headers, body, clock.now())
    return verify_github(secret, headers, body)


def incoming_message_id(scheme, headers):
    if scheme == "github":
        return headers.get("x-github-delivery") or None
    return headers.get("webhook-id") or headers.get("idempotency-key") or None


async def insert_into_target(datasette, target, row, message_id, received_at, payload):
    record = {
        "received_at": clock.iso(received_at),
        "incoming_slug": row["slug"],
        "message_id": message_id,
        "payload": json.dumps(payload),
    }
    try:
        await datasette.get_database(target["database"]).execute_write_fn(
            lambda conn: store.insert_into_target_sql(conn, target["table"], record)
        )
    except Exception:
        # The payload is already kept in the internal DB; the sender must not retry for this.
        log.exception(
            "Could not copy incoming webhook into %s/%s", target["database"], target["table"]
        )
