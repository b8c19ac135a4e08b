"""Per-Datasette state and its life: started by the startup hook, fed by track_event, drained
at shutdown. It holds the options, the active endpoints, signing keys, the outbox and the
worker."""

import asyncio
import logging
import secrets as random
import weakref

from datasette.utils import StartupError
from datasette_internal_db import InvalidInput, clock, get_internal_db, is_read_node

from . import store
from .activity import activity_of
from .endpoints import clean_endpoint, secret_name
from .events import event_properties, matches, new_message_id, payload_for
from .outbox import Outbox
from .settings import PLUGIN, check_incoming_targets, load_options, plugin
from .signing import InvalidSecret, new_secret, prepared_key, secret_key
from .worker import Worker

log = logging.getLogger("datasette_internal_webhooks")

_states = weakref.WeakKeyDictionary()


def journal_path(datasette, options):
    """The outbox journal beside the internal DB file (core's flock makes this process its
    only user), or None without ``durable_enqueue`` or without a lasting file: Datasette's
    temporary internal DB (no ``--internal``) is deleted at exit; the journal would outlive it."""
    internal = get_internal_db(datasette)
    if not options.durable_enqueue or not internal.path or internal.is_temp_disk:
        return None
    return f"{internal.path}-webhooks-outbox"


class State:
    def __init__(self, datasette, options):
        self.datasette = datasette
        self.options = options
        self.activity = activity_of(datasette)
        self.active_endpoints = []
        self.event_names = sorted({cls.name for cls in datasette.event_classes})
        self._keys = {}
        self.worker = None
        self.outbox = Outbox(
            datasette, journal_path(datasette, options), self.activity, self.offer_to_worker, self
        )

    def wake_worker(self):
        if self.worker is not None:
            self.worker.wake()

    def offer_to_worker(self, due, queued_at):
        if self.worker is not None:
            self.worker.offer(due, queued_at)

    # The worker's unwritten outcomes, for the outbox's commits (see Outbox.outcomes).
    async def disable_after(self):
        return 0 if self.worker is None else await self.worker.disable_after()

    def take_outcomes(self):
        return [] if self.worker is None else self.worker.take_outcomes()

    async def outcomes_written(self, outcomes, disabled):
        await self.worker.outcomes_written(outcomes, disabled)

    async def reload_endpoints(self):
        """Re-read the endpoints (all of them are returned; the worker keeps the active ones)."""
        endpoints = await store.list_endpoints(self.datasette)
        self.use_endpoints(endpoints)
        return endpoints

    def use_endpoints(self, endpoints):
        self.active_endpoints = [e for e in endpoints if e["active"]]
        self.wake_worker()

    def forget_keys(self, endpoint_id):
        self._keys.pop(endpoint_id, None)

    async def signing_keys(self, endpoint):
        """Keys to sign with (``prepared_key``): the current one, and the previous one in its
        grace period."""
        endpoint_id = endpoint["id"]
        if endpoint_id not in self._keys:
            current = await plugin.secrets.read(self.datasette, secret_name(endpoint_id))
            previous = await plugin.secrets.read(
                self.datasette, secret_name(endpoint_id, previous=True)
            )
            self._keys[endpoint_id] = (
                prepared_key(secret_key(current)),
                None if previous is None else prepared_key(secret_key(previous)),
                endpoint["previous_secret_expires_at"],
            )
        current, previous, expires_at = self._keys[endpoint_id]
        if previous is not None and expires_at is not None and clock.now() < expires_at:
            return [current, previous]
        return [current]

    async def handle_event(self, event):
        """Enqueue ``event`` for every active endpoint that wants it. Cheap when none does."""
        if not self.active_endpoints:
            return
        properties = event_properties(event)
        endpoint_ids = [
            endpoint["id"]
            for endpoint in self.active_endpoints
            if matches(endpoint, event.name, properties)
        ]
        if not endpoint_ids:
            return
        payload = await payload_for(self.datasette, event, properties)
        message_id = new_message_id()
        # A lone write's deliveries go at once, before the outbox commit (see Worker.send_early).
        sent_early = (
            self.outbox.journaled
            and self.worker is not None
            and self.activity.lone()
            and self.worker.send_early(message_id, payload, endpoint_ids)
        )
        if sent_early:
            # Two loop steps (the sender's, then aiohttp's writer task's) put the request on the
            # socket before this write's response: about 2 ms sooner at the receiver, for a few
            # hundred microseconds more on the response of a write that came after a pause.
            await asyncio.sleep(0)
            await asyncio.sleep(0)
        # Journaled after those steps, still before the response (the crash promise holds): a
        # commit started before them ran during them, where the write thread slowed the response
        # by milliseconds. Sent early, it is committed at the next quiet moment (Outbox.add).
        self.outbox.add(message_id, event.name, payload, endpoint_ids, sent_early)


def get_state(datasette):
    return _states.get(datasette)


async def start(datasette):
    """The startup hook: read config, sync config-declared endpoints, start the worker."""
    options = load_options(datasette)
    check_incoming_targets(datasette, options)
    state = _states[datasette] = State(datasette, options)
    if is_read_node(datasette):
        # The primary's replica (docs/scale-out.md): its pages show endpoints and deliveries,
        # but config sync, enqueueing and delivery happen only on the primary.
        return
    endpoints = await sync_config_endpoints(datasette, state)
    state.use_endpoints(endpoints)
    known = {endpoint["id"] for endpoint in endpoints}
    recovered = state.outbox.recover(known)
    if recovered:
        log.warning("Recovered %d webhook message(s) from the outbox journal", recovered)
    state.worker = Worker(state)
    datasette.add_background_task(state.worker.run, name="datasette-internal-webhooks-worker")


async def sync_config_endpoints(datasette, state):
    """Create, update or remove the endpoints declared in datasette.yaml (StartupError if one
    is wrong) and store their secrets. Returns every endpoint, as the sync's write read them."""
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
    created, removed, endpoints = await store.sync_config_endpoints(
        datasette, declared, clock.iso()
    )
    for endpoint_id in removed:
        await plugin.secrets.delete(datasette, secret_name(endpoint_id))
        await plugin.secrets.delete(datasette, secret_name(endpoint_id, previous=True))
    for endpoint in endpoints:
        key = endpoint["config_key"]
        if key in config_secrets:
            await plugin.secrets.store(datasette, secret_name(endpoint["id"]), config_secrets[key])
        elif key is not None and endpoint["id"] in created:
            await plugin.secrets.store(datasette, secret_name(endpoint["id"]), new_secret())
            log.warning(
                "Webhook endpoint %r from datasette.yaml has no secret: one was generated;"
                " rotate it at /-/webhooks to see it, or set secret in the config",
                key,
            )
    return endpoints


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
