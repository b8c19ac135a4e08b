"""Outgoing and incoming endpoints: validating them, and every change the JSON API makes to
them (each one audited)."""

import re
import secrets as random
from fnmatch import fnmatchcase

from datasette_internal_db import InvalidInput, clock, secrets

from . import store, store_deliveries
from .events import TEST_EVENT, encode_payload, new_message_id
from .settings import plugin
from .signing import new_secret
from .ssrf import UnsafeURL, check_hostname, check_url, literal_address

MAX_EVENT_TYPES = 50
MAX_TEXT = 500
ENDPOINT_KEYS = {"url", "description", "event_types", "database", "table", "active"}
SLUG_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{2,63}")
SCHEMES = ("standard", "github", "bearer")


def secret_name(endpoint_id, previous=False):
    return f"endpoint:{endpoint_id}" + (":previous" if previous else "")


def incoming_secret_name(incoming_id):
    return f"incoming:{incoming_id}"


def actor_id(actor):
    return (actor or {}).get("id")


def optional_text(data, key, max_length=MAX_TEXT):
    value = data.get(key)
    if value is None or value == "":
        return None if key != "description" else ""
    if not isinstance(value, str) or len(value) > max_length:
        raise InvalidInput(f"{key} must be a string of at most {max_length} characters")
    return value


def check_fields(data, known):
    unknown = set(data) - set(known)
    if unknown:
        raise InvalidInput(f"Unknown field(s): {', '.join(sorted(unknown))}")


def active_flag(data):
    if not isinstance(data["active"], bool):
        raise InvalidInput("active must be true or false")
    return int(data["active"])


def clean_event_types(value, known):
    if isinstance(value, str):
        value = [part for part in re.split(r"[\s,]+", value) if part]
    if not isinstance(value, list) or not value or len(value) > MAX_EVENT_TYPES:
        raise InvalidInput(f"event_types must be a list of 1 to {MAX_EVENT_TYPES} event names")
    cleaned = []
    for pattern in value:
        if not isinstance(pattern, str) or not pattern or len(pattern) > 100:
            raise InvalidInput("Each event type is a non-empty string")
        if not any(fnmatchcase(name, pattern) for name in known):
            raise InvalidInput(
                f"{pattern!r} matches no registered event; known: {', '.join(sorted(known))}"
            )
        cleaned.append(pattern)
    return list(dict.fromkeys(cleaned))


async def clean_url(state, url, declared_in_config):
    """``url`` if it may be saved. A name in datasette.yaml need not resolve at startup: the
    operator wrote it, and a DNS outage must not stop the server (its connections are checked)."""
    options = state.options
    try:
        parsed = check_url(url, options.allow_networks, options.https_only)
        if literal_address(parsed.raw_host) is None:
            await check_hostname(
                parsed.raw_host,
                options.allow_networks,
                options.allow_hosts,
                must_resolve=not declared_in_config,
            )
    except UnsafeURL as error:
        raise InvalidInput(str(error)) from None
    return url


async def clean_endpoint(state, data, partial, declared_in_config=False):
    """The columns to write for create (``partial=False``) or update, validated."""
    check_fields(data, ENDPOINT_KEYS)
    changes = {}
    if "url" in data or not partial:
        changes["url"] = await clean_url(state, data.get("url"), declared_in_config)
    if "description" in data or not partial:
        changes["description"] = optional_text(data, "description") or ""
    if "event_types" in data or not partial:
        changes["event_types"] = clean_event_types(
            data.get("event_types", ["*"]), state.event_names
        )
    if "database" in data or not partial:
        changes["filter_database"] = optional_text(data, "database", 200)
    if "table" in data or not partial:
        changes["filter_table"] = optional_text(data, "table", 200)
    if "active" in data:
        changes["active"] = active_flag(data)
        if data["active"]:
            changes.update(disabled_reason=None, disabled_at=None, failing_since=None)
        else:
            changes.update(disabled_reason="Disabled by an operator", disabled_at=clock.iso())
    return changes


async def audit(datasette, action, actor, resource, details=None):
    await plugin.audit.record(datasette, action, actor=actor, resource=resource, details=details)


async def endpoint_changed(datasette, state, endpoint_id, action, actor, details, new_keys=False):
    """After a change to an outgoing endpoint: the worker reloads the endpoints (and forgets
    the signing keys it keeps, when they changed), then the change is audited."""
    if new_keys:
        state.forget_keys(endpoint_id)
    await state.reload_endpoints()
    await audit(datasette, action, actor, f"endpoint/{endpoint_id}", details)


# --- outgoing endpoints --------------------------------------------------------------------------


async def create_endpoint(datasette, state, data, actor):
    """Returns (endpoint, its secret): the only time the secret is shown."""
    changes = await clean_endpoint(state, data, partial=False)
    endpoint_id = "ep_" + random.token_hex(8)
    secret = new_secret()
    now = clock.iso()
    endpoint = dict(
        changes,
        id=endpoint_id,
        active=1,
        created_by=actor_id(actor),
        created_at=now,
        updated_at=now,
    )
    await plugin.secrets.store(datasette, secret_name(endpoint_id), secret)
    await store.insert_endpoint(datasette, endpoint)
    details = {"url": endpoint["url"], "event_types": endpoint["event_types"]}
    await endpoint_changed(datasette, state, endpoint_id, "endpoint-create", actor, details)
    return await store.get_endpoint(datasette, endpoint_id), secret


async def update_endpoint(datasette, state, endpoint, data, actor):
    if endpoint["config_key"] is not None and set(data) - {"active"}:
        raise InvalidInput(
            "This endpoint is declared in datasette.yaml; change it there"
            " (only active can be changed here)"
        )
    changes = await clean_endpoint(state, data, partial=True)
    if not changes:
        return
    await store.update_endpoint(datasette, endpoint["id"], dict(changes, updated_at=clock.iso()))
    await endpoint_changed(datasette, state, endpoint["id"], "endpoint-update", actor, changes)


async def delete_endpoint(datasette, state, endpoint, actor):
    if endpoint["config_key"] is not None:
        raise InvalidInput("This endpoint is declared in datasette.yaml; remove it there")
    await store.delete_endpoint(datasette, endpoint["id"])
    await plugin.secrets.delete(datasette, secret_name(endpoint["id"]))
    await plugin.secrets.delete(datasette, secret_name(endpoint["id"], previous=True))
    details = {"url": endpoint["url"]}
    await endpoint_changed(
        datasette, state, endpoint["id"], "endpoint-delete", actor, details, new_keys=True
    )


async def rotate_endpoint_secret(datasette, state, endpoint, actor):
    """A new secret (returned, shown once); the old one keeps signing for the grace period."""
    if endpoint["secret_from_config"]:
        raise InvalidInput("This endpoint's secret is set in datasette.yaml; rotate it there")
    try:
        current = await plugin.secrets.read(datasette, secret_name(endpoint["id"]))
    except secrets.SecretsUnreadable:
        # The key it was encrypted with is gone: rotating is the way out, with no grace period.
        current = None
    secret = new_secret()
    grace_seconds = state.options.rotation_grace_hours * 3600
    previous_name = secret_name(endpoint["id"], previous=True)
    if current is None:
        await plugin.secrets.delete(datasette, previous_name)
    else:
        await plugin.secrets.store(datasette, previous_name, current)
    await plugin.secrets.store(datasette, secret_name(endpoint["id"]), secret)
    await store.update_endpoint(
        datasette,
        endpoint["id"],
        {"previous_secret_expires_at": clock.now() + grace_seconds, "updated_at": clock.iso()},
    )
    details = {"grace_hours": state.options.rotation_grace_hours}
    await endpoint_changed(
        datasette, state, endpoint["id"], "endpoint-rotate-secret", actor, details, new_keys=True
    )
    return secret


async def send_test_event(state, endpoint, actor):
    message_id = new_message_id()
    payload = encode_payload(
        TEST_EVENT,
        clock.iso(),
        actor_id(actor),
        {"endpoint_id": endpoint["id"], "message": "A test event from Datasette"},
    )
    state.outbox.add(message_id, TEST_EVENT, payload, [endpoint["id"]])
    await state.outbox.committed()  # so the API's answer can be followed by a log read
    return message_id


async def redeliver(datasette, state, delivery, actor):
    await store_deliveries.requeue_deliveries(datasette, [delivery["id"]], clock.now())
    state.wake_worker()
    details = {"delivery_id": delivery["id"], "message_id": delivery["message_id"]}
    await audit(datasette, "redeliver", actor, f"endpoint/{delivery['endpoint_id']}", details)


async def start_recovery(datasette, state, since, endpoint_id, actor):
    """Requeue every failed delivery created since ``since`` as a core job: (job id, total)."""
    total = await store_deliveries.count_failed_since(datasette, since, endpoint_id)

    async def work(job):
        after_id = 0
        while not await job.cancel_requested():
            ids = await store_deliveries.failed_delivery_ids(
                datasette, since, endpoint_id, after_id
            )
            if not ids:
                return
            await store_deliveries.requeue_deliveries(datasette, ids, clock.now())
            state.wake_worker()
            after_id = ids[-1]
            await job.advance(len(ids))

    job_id = await plugin.jobs.start(
        datasette, "redeliver-failed", work, actor_id=actor_id(actor), total=total
    )
    resource = f"endpoint/{endpoint_id}" if endpoint_id else None
    details = {"since": since, "job_id": job_id, "total": total}
    await audit(datasette, "redeliver-failed", actor, resource, details)
    return job_id, total


# --- incoming endpoints ------------------------------------------------------------------------


async def new_incoming_secret(datasette, incoming_id, scheme):
    """(secret to show once, token hash to store) for a new or rotated incoming endpoint."""
    if scheme == "bearer":
        token = secrets.new_token("whin_")
        return token, secrets.hash_token(token)
    secret = new_secret() if scheme == "standard" else random.token_urlsafe(32)
    await plugin.secrets.store(datasette, incoming_secret_name(incoming_id), secret)
    return secret, None


async def create_incoming(datasette, data, actor):
    """Returns (incoming endpoint, its secret): the only time the secret is shown."""
    check_fields(data, {"slug", "scheme", "description"})
    slug = data.get("slug")
    if not isinstance(slug, str) or not SLUG_PATTERN.fullmatch(slug):
        raise InvalidInput("slug must be 3 to 64 characters: a-z, 0-9 and -, not starting with -")
    scheme = data.get("scheme")
    if scheme not in SCHEMES:
        raise InvalidInput(f"scheme must be one of {', '.join(SCHEMES)}")
    description = optional_text(data, "description") or ""
    incoming_id = "in_" + random.token_hex(8)
    secret, token_hash = await new_incoming_secret(datasette, incoming_id, scheme)
    now = clock.iso()
    created = await store.insert_incoming(
        datasette,
        {
            "id": incoming_id,
            "slug": slug,
            "scheme": scheme,
            "description": description,
            "token_hash": token_hash,
            "created_by": actor_id(actor),
            "created_at": now,
            "updated_at": now,
        },
    )
    if not created:
        await plugin.secrets.delete(datasette, incoming_secret_name(incoming_id))
        raise InvalidInput(f"The slug {slug!r} is taken")
    details = {"slug": slug, "scheme": scheme}
    await audit(datasette, "incoming-create", actor, f"incoming/{incoming_id}", details)
    return store.incoming_from_row(await store.get_incoming(datasette, incoming_id)), secret


async def update_incoming(datasette, row, data, actor):
    check_fields(data, {"description", "active"})
    changes = {}
    if "description" in data:
        changes["description"] = optional_text(data, "description") or ""
    if "active" in data:
        changes["active"] = active_flag(data)
    if not changes:
        return
    await store.update_incoming(datasette, row["id"], dict(changes, updated_at=clock.iso()))
    await audit(datasette, "incoming-update", actor, f"incoming/{row['id']}", changes)


async def delete_incoming(datasette, row, actor):
    await store.delete_incoming(datasette, row["id"])
    await plugin.secrets.delete(datasette, incoming_secret_name(row["id"]))
    await audit(datasette, "incoming-delete", actor, f"incoming/{row['id']}", {"slug": row["slug"]})


async def rotate_incoming_secret(datasette, row, actor):
    """A new secret (returned, shown once); the old one stops working at once."""
    secret, token_hash = await new_incoming_secret(datasette, row["id"], row["scheme"])
    if token_hash is not None:
        await store.update_incoming(
            datasette, row["id"], {"token_hash": token_hash, "updated_at": clock.iso()}
        )
    await audit(datasette, "incoming-rotate-secret", actor, f"incoming/{row['id']}")
    return secret
