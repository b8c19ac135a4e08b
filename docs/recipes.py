"""Core's services through a ``Plugin`` handle, written as plugin code uses them.

The cookbook's cache, jobs, secrets and audit pages quote these functions (docs/test_cookbook.py
keeps the quotes identical) and docs/test_recipes.py runs them. examples/hello shows the
handle's migrations, settings and audit log in a whole plugin.
"""

from datasette_internal_db import Plugin, secrets

plugin = Plugin("datasette-internal-recipes")
SCAN_BATCH = 100


async def display_names(datasette, actor_ids):
    """``{actor_id: name}``; asks Datasette (which may ask an identity provider) only for the
    ids not looked up in the last hour, all of them in one call."""
    names = await plugin.cache.get_many(datasette, actor_ids)
    missing = [actor_id for actor_id in actor_ids if actor_id not in names]
    if missing:
        actors = await datasette.actors_from_ids(missing)
        fetched = {i: actors.get(i, {}).get("name") or i for i in missing}
        await plugin.cache.set_many(datasette, fetched, ttl=3600)
        names.update(fetched)
    return names


async def start_scan(datasette, actor_id, items, check):
    """Run ``await check(item)`` over ``items`` in the background; returns the job id at once.
    A ``ValueError`` from ``check`` is reported on the job and the scan goes on."""

    async def work(job):
        for start in range(0, len(items), SCAN_BATCH):
            if await job.cancel_requested():
                return
            batch = items[start : start + SCAN_BATCH]
            for item in batch:
                try:
                    await check(item)
                except ValueError as error:
                    await job.error(f"{item}: {error}")
            await job.advance(len(batch))

    return await plugin.jobs.start(datasette, "scan", work, actor_id=actor_id, total=len(items))


def new_api_key():
    """A key to show its owner once, and the SHA-256 to keep instead of it."""
    key = secrets.new_token("recipes_")
    return key, secrets.hash_token(key)


def api_key_matches(key, stored_hash):
    return secrets.verify_token(key, stored_hash)


async def save_signing_key(datasette, endpoint_id, key, actor):
    """Keep a key you must read back (to sign with it), encrypted, and audit the change."""
    await plugin.secrets.store(datasette, f"endpoint-{endpoint_id}/signing-key", key)
    await plugin.audit.record(
        datasette, "signing-key-set", actor=actor, resource=f"endpoint/{endpoint_id}"
    )


async def signing_key(datasette, endpoint_id):
    return await plugin.secrets.read(datasette, f"endpoint-{endpoint_id}/signing-key")
