"""Display names for actor ids, cached in the internal DB by core's cache.

``actors_from_ids`` may ask an identity provider, and comment pages show the same few people
again and again: names are kept for an hour (a renamed actor shows the old name until then),
and the names shown on threads for a minute more in memory (``shown_actors``).
"""

import weakref

from datasette.utils import await_me_maybe
from datasette_internal_db import clock

from . import access, hookspecs
from .settings import plugin

MAX_KEY_LENGTH = 512
SHOWN_SECONDS = 60
MAX_SHOWN = 10_000
# datasette → {actor id: (until, {"id", "name"})}
_shown = weakref.WeakKeyDictionary()


async def actors_for(datasette, ids):
    """``{id: actor dict}`` like ``datasette.actors_from_ids``, served from the cache when fresh."""
    ids = sorted(set(ids))
    if not ids:
        return {}
    cacheable = [i for i in ids if isinstance(i, str) and 0 < len(i) <= MAX_KEY_LENGTH]
    found = await plugin.cache.get_many(datasette, cacheable)
    missing = [i for i in ids if i not in found]
    if missing:
        fetched = await datasette.actors_from_ids(missing)
        await plugin.cache.set_many(
            datasette, {i: fetched[i] for i in missing if i in fetched and i in cacheable}
        )
        found.update(fetched)
    return found


async def shown_actors(datasette, ids):
    """``{id: {"id", "name"}}``: ``actors_for`` reduced to what ``display`` shows, each kept in
    memory SHOWN_SECONDS. Every thread read shows the same few people, and the cache decodes an
    actor's JSON on every read; a name the cache changes shows here up to a minute later."""
    now = clock.now()
    kept = _shown.setdefault(datasette, {})
    found, missing = {}, []
    for actor_id in set(ids):
        entry = kept.get(actor_id)
        if entry is not None and entry[0] > now:
            found[actor_id] = entry[1]
        else:
            missing.append(actor_id)
    if missing:
        actors = await actors_for(datasette, missing)
        if len(kept) + len(missing) > MAX_SHOWN:
            kept.clear()
        for actor_id in missing:
            found[actor_id] = display(actors, actor_id)
            kept[actor_id] = (now + SHOWN_SECONDS, found[actor_id])
    return found


def display(actors, actor_id):
    """``{"id", "name"}`` for an id: the actor's name, display or username, else the id."""
    actor = actors.get(actor_id) or {"id": actor_id}
    name = actor.get("name") or actor.get("display") or actor.get("username") or actor_id
    return {"id": actor_id, "name": str(name)}


def plugin_manager():
    """Datasette's plugin manager, with this plugin's hook specification added on first use.

    Imported at call time, as core does: importing datasette.plugins loads every installed
    plugin, which must not happen while this package is still being imported.
    """
    from datasette.plugins import pm

    caller = getattr(pm.hook, "comments_actors", None)
    if caller is None or caller.spec is None:
        pm.add_hookspecs(hookspecs)
    return pm


def matches(actor, prefix):
    """Is ``actor`` a dict with a string id, whose id or name starts with ``prefix``?"""
    if not isinstance(actor, dict) or not isinstance(actor.get("id"), str):
        return False
    prefix = prefix.lower()
    return any(
        isinstance(actor.get(key), str) and actor[key].lower().startswith(prefix)
        for key in ("id", "name")
    )


async def listed_actors(datasette, prefix):
    """Actors from every plugin's ``comments_actors`` hook that match ``prefix``, by id."""
    found = {}
    for result in plugin_manager().hook.comments_actors(datasette=datasette, prefix=prefix):
        for actor in await await_me_maybe(result) or []:
            if matches(actor, prefix):
                found.setdefault(actor["id"], actor)
    return found


async def mention_candidates(datasette, actor, prefix, seen_ids, limit=10):
    """``[{"id", "name"}]`` for @mention autocomplete: actors other plugins list (signed-in
    readers only) and ``seen_ids``, the authors the reader already sees, ids first by prefix."""
    listed = await listed_actors(datasette, prefix) if access.actor_id(actor) is not None else {}
    names = await actors_for(datasette, [i for i in seen_ids if i not in listed])
    candidates = {
        **{i: display(names, i) for i in seen_ids},
        **{i: display(listed, i) for i in listed},
    }
    ordered = sorted(
        candidates.values(),
        key=lambda found: (not found["id"].lower().startswith(prefix.lower()), found["id"]),
    )
    return ordered[:limit]
