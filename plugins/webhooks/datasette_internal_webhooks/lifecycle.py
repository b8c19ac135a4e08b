"""Startup: read config, discover events, sync config-declared endpoints, start the worker."""

import logging
import secrets as random

from datasette.utils import StartupError
from datasette_internal_db import InvalidInput, clock, secrets

from . import store
from .config import load_options
from .names import PLUGIN
from .outgoing import clean_endpoint
from .runtime import State, get_state, secret_name, set_state
from .signing import InvalidSecret, new_secret, secret_key
from .worker import Worker

log = logging.getLogger("datasette_internal_webhooks")


async def start(datasette):
    options = load_options(datasette)
    state = State(datasette, options)
    state.event_names = sorted({cls.name for cls in datasette.event_classes})
    set_state(datasette, state)
    check_incoming_targets(datasette, options)
    await sync_config_endpoints(datasette, state)
    await state.reload_endpoints()
    known = {endpoint["id"] for endpoint in await store.list_endpoints(state.db)}
    recovered = state.outbox.recover(known)
    if recovered:
        log.warning("Recovered %d webhook message(s) from the outbox journal", recovered)
    state.worker = Worker(state)
    datasette.add_background_task(state.worker.run, name="datasette-internal-webhooks-worker")


def check_incoming_targets(datasette, options):
    for slug, target in options.incoming_targets.items():
        database = datasette.databases.get(target["database"])
        if database is None or not database.is_mutable:
            raise StartupError(
                f"{PLUGIN}: incoming_targets.{slug}: {target['database']!r} is not a mutable"
                " database served by this Datasette"
            )


async def sync_config_endpoints(datasette, state):
    declared, config_secrets = {}, {}
    for position, entry in enumerate(state.options.endpoints):
        key = entry.get("name")
        where = f"{PLUGIN}: endpoints[{position}]"
        if not isinstance(key, str) or not key:
            raise StartupError(f"{where} needs a name (a stable key for this endpoint)")
        fields = {k: v for k, v in entry.items() if k not in ("name", "secret")}
        try:
            changes = await clean_endpoint(state, fields, partial=False, declared_in_config=True)
        except InvalidInput as error:
            raise StartupError(f"{where} ({key}): {error}") from None
        secret = entry.get("secret")
        if secret is not None:
            try:
                secret_key(secret)
            except InvalidSecret as error:
                raise StartupError(f"{where} ({key}): secret: {error}") from None
            config_secrets[key] = secret
        now = clock.iso()
        declared[key] = dict(
            changes,
            id="ep_" + random.token_hex(8),
            config_key=key,
            secret_from_config=secret is not None,
            created_by=None,
            created_at=now,
            updated_at=now,
        )
    created, removed = await store.sync_config_endpoints(state.db, declared, clock.iso())
    for endpoint_id in removed:
        await secrets.delete(datasette, PLUGIN, secret_name(endpoint_id))
        await secrets.delete(datasette, PLUGIN, secret_name(endpoint_id, previous=True))
    by_key = {e["config_key"]: e for e in await store.list_endpoints(state.db) if e["config_key"]}
    for key, endpoint in by_key.items():
        if key in config_secrets:
            await secrets.store(datasette, PLUGIN, secret_name(endpoint["id"]), config_secrets[key])
        elif endpoint["id"] in created:
            await secrets.store(datasette, PLUGIN, secret_name(endpoint["id"]), new_secret())
            log.warning(
                "Webhook endpoint %r from datasette.yaml has no secret: one was generated;"
                " rotate it at /-/webhooks to see it, or set secret in the config",
                key,
            )


async def stop(datasette):
    state = get_state(datasette)
    if state is not None:
        await state.outbox.drain()


async def handle_event(datasette, event):
    """The track_event hook body: never raises into the write that fired the event."""
    try:
        state = get_state(datasette)
        if state is not None:
            await state.handle_event(event)
    except Exception:
        log.exception("Could not enqueue webhook for event %r", getattr(event, "name", event))
