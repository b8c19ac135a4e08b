"""Per-Datasette state: options, the active-endpoint cache, signing keys, outbox and worker."""

import weakref

from datasette_internal_db import clock, get_internal_db, secrets

from . import store
from .activity import activity_of
from .events import Outbox, event_properties, matches, new_message_id, payload_for
from .names import PLUGIN
from .signing import secret_key

_states = weakref.WeakKeyDictionary()


def secret_name(endpoint_id, previous=False):
    return f"endpoint:{endpoint_id}" + (":previous" if previous else "")


def incoming_secret_name(incoming_id):
    return f"incoming:{incoming_id}"


def journal_path(internal_db, options):
    """The outbox journal beside the internal DB file (core's flock makes this process its
    only user), or None without ``durable_enqueue`` or without a file."""
    if not options.durable_enqueue or not internal_db.path:
        return None
    return f"{internal_db.path}-webhooks-outbox"


class State:
    def __init__(self, datasette, options):
        self.datasette = datasette
        self.options = options
        self.db = get_internal_db(datasette)
        self.activity = activity_of(datasette)
        self.active_endpoints = []
        self.event_names = []
        self._keys = {}
        self.worker = None
        self.outbox = Outbox(
            self.db, journal_path(self.db, options), self.activity, self.offer_to_worker
        )

    def wake_worker(self):
        if self.worker is not None:
            self.worker.wake()

    def offer_to_worker(self, due, queued_at):
        if self.worker is not None:
            self.worker.offer(due, queued_at)

    async def reload_endpoints(self):
        self.active_endpoints = [e for e in await store.list_endpoints(self.db) if e["active"]]
        self.wake_worker()

    def forget_keys(self, endpoint_id):
        self._keys.pop(endpoint_id, None)

    async def signing_keys(self, endpoint):
        """Raw HMAC keys to sign with: the current key, and the previous one in its grace period."""
        endpoint_id = endpoint["id"]
        if endpoint_id not in self._keys:
            current = await secrets.read(self.datasette, PLUGIN, secret_name(endpoint_id))
            previous = await secrets.read(
                self.datasette, PLUGIN, secret_name(endpoint_id, previous=True)
            )
            self._keys[endpoint_id] = (
                secret_key(current),
                None if previous is None else secret_key(previous),
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
        self.outbox.add(new_message_id(), event.name, payload, endpoint_ids)


def set_state(datasette, state):
    _states[datasette] = state


def get_state(datasette):
    return _states.get(datasette)
