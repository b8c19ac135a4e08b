"""Outgoing endpoints: validating them, and the actions the API and UI share."""

import re
import secrets as random
from fnmatch import fnmatchcase

from datasette_internal_db import InvalidInput, audit, clock, jobs, secrets

from . import store
from .events import TEST_EVENT, encode_payload, new_message_id
from .names import PLUGIN
from .runtime import secret_name
from .signing import new_secret
from .ssrf import UnsafeURL, check_hostname, check_url, literal_address

MAX_EVENT_TYPES = 50
MAX_TEXT = 500


def optional_text(data, key, max_length=MAX_TEXT):
    value = data.get(key)
    if value is None or value == "":
        return None if key != "description" else ""
    if not isinstance(value, str) or len(value) > max_length:
        raise InvalidInput(f"{key} must be a string of at most {max_length} characters")
    return value


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
        if not isinstance(data["active"], bool):
            raise InvalidInput("active must be true or false")
        changes["active"] = int(data["active"])
        if data["active"]:
            changes.update(disabled_reason=None, disabled_at=None, failing_since=None)
        else:
            changes.update(disabled_reason="Disabled by an operator", disabled_at=clock.iso())
    unknown = set(data) - {"url", "description", "event_types", "database", "table", "active"}
    if unknown:
        raise InvalidInput(f"Unknown field(s): {', '.join(sorted(unknown))}")
    return changes


async def create_endpoint_record(datasette, state, data, actor):
    changes = await clean_endpoint(state, data, partial=False)
    endpoint_id = "ep_" + random.token_hex(8)
    secret = new_secret()
    now = clock.iso()
    endpoint = dict(
        changes,
        id=endpoint_id,
        active=1,
        created_by=(actor or {}).get("id"),
        created_at=now,
        updated_at=now,
    )
    await secrets.store(datasette, PLUGIN, secret_name(endpoint_id), secret)
    await store.insert_endpoint(state.db, endpoint)
    await state.reload_endpoints()
    await audit.record(
        datasette,
        PLUGIN,
        "endpoint-create",
        actor=actor,
        resource=f"endpoint/{endpoint_id}",
        details={"url": endpoint["url"], "event_types": endpoint["event_types"]},
    )
    return await store.get_endpoint(state.db, endpoint_id), secret


async def rotate_endpoint_secret(datasette, state, endpoint, actor):
    try:
        current = await secrets.read(datasette, PLUGIN, secret_name(endpoint["id"]))
    except secrets.SecretsUnreadable:
        # The key it was encrypted with is gone: rotating is the way out, with no grace period.
        current = None
    secret = new_secret()
    grace_seconds = state.options.rotation_grace_hours * 3600
    previous_name = secret_name(endpoint["id"], previous=True)
    if current is None:
        await secrets.delete(datasette, PLUGIN, previous_name)
    else:
        await secrets.store(datasette, PLUGIN, previous_name, current)
    await secrets.store(datasette, PLUGIN, secret_name(endpoint["id"]), secret)
    await store.update_endpoint(
        state.db,
        endpoint["id"],
        {"previous_secret_expires_at": clock.now() + grace_seconds, "updated_at": clock.iso()},
    )
    state.forget_keys(endpoint["id"])
    await state.reload_endpoints()
    await audit.record(
        datasette,
        PLUGIN,
        "endpoint-rotate-secret",
        actor=actor,
        resource=f"endpoint/{endpoint['id']}",
        details={"grace_hours": state.options.rotation_grace_hours},
    )
    return secret


async def send_test_event(state, endpoint, actor):
    message_id = new_message_id()
    payload = encode_payload(
        TEST_EVENT,
        clock.iso(),
        (actor or {}).get("id"),
        {"endpoint_id": endpoint["id"], "message": "A test event from Datasette"},
    )
    state.outbox.add(message_id, TEST_EVENT, payload, [endpoint["id"]])
    await state.outbox.committed()  # so the API's answer can be followed by a log read
    return message_id


async def start_recovery(datasette, state, since, endpoint_id, actor):
    """Requeue every failed delivery created since ``since`` as a core job; returns its id."""
    db = state.db
    total = await store.count_failed_since(db, since, endpoint_id)

    async def work(job):
        after_id = 0
        while not await job.cancel_requested():
            ids = await store.failed_delivery_ids(db, since, endpoint_id, after_id)
            if not ids:
                return
            await store.requeue_deliveries(db, ids, clock.now())
            state.wake_worker()
            after_id = ids[-1]
            await job.advance(len(ids))

    job_id = await jobs.start(
        datasette, PLUGIN, "redeliver-failed", work, actor_id=(actor or {}).get("id"), total=total
    )
    await audit.record(
        datasette,
        PLUGIN,
        "redeliver-failed",
        actor=actor,
        resource=f"endpoint/{endpoint_id}" if endpoint_id else None,
        details={"since": since, "job_id": job_id, "total": total},
    )
    return job_id, total
