"""Display names for actor ids, cached in the internal DB.

``actors_from_ids`` may ask an identity provider, and comment pages show the same few people
again and again: names are kept for an hour (a renamed actor shows the old name until then).
"""

from datasette_internal_db import Cache

from .migrations import PLUGIN

MAX_KEY_LENGTH = 512

actor_cache = Cache(PLUGIN, max_entries=10_000, default_ttl=3600)


async def actors_for(datasette, ids):
    """``{id: actor dict}`` like ``datasette.actors_from_ids``, served from the cache when fresh."""
    ids = sorted(set(ids))
    if not ids:
        return {}
    cacheable = [i for i in ids if isinstance(i, str) and 0 < len(i) <= MAX_KEY_LENGTH]
    found = await actor_cache.get_many(datasette, cacheable)
    missing = [i for i in ids if i not in found]
    if missing:
        fetched = await datasette.actors_from_ids(missing)
        await actor_cache.set_many(
            datasette, {i: fetched[i] for i in missing if i in fetched and i in cacheable}
        )
        found.update(fetched)
    return found
